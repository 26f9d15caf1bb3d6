"""Classical fills on uint8 arrays (telea, ns, smooth)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inpaintkit.classical import CLASSICAL_METHODS, SMOOTH_SIGMA, classical_fill


def _texture(h: int = 96, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _square_hole(h: int = 96, w: int = 96, a: int = 16, b: int = 80) -> np.ndarray:
    hole = np.zeros((h, w), np.uint8)
    hole[a:b, a:b] = 255
    return hole


@pytest.mark.parametrize("method", CLASSICAL_METHODS)
def test_known_pixels_unchanged_and_constant_image_stays_constant(method: str) -> None:
    image = _texture()
    hole = _square_hole()
    out = classical_fill(image, hole, method)
    assert out.dtype == np.uint8 and out.shape == image.shape
    known = hole == 0
    assert np.array_equal(out[known], image[known])
    # Nothing to invent on a flat image (OpenCV's Telea drifts by a few levels deep inside).
    error = np.abs(classical_fill(np.full_like(image, 77), hole, method).astype(int) - 77)
    assert error.mean() < 1 and error.max() <= 6


def test_smooth_is_the_telea_ns_mean_at_the_boundary_and_blurred_deep_inside() -> None:
    image = _texture(seed=1)
    hole = _square_hole()
    telea = cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA).astype(np.float32)
    ns = cv2.inpaint(image, hole, 3, cv2.INPAINT_NS).astype(np.float32)
    mean = (telea + ns) / 2
    out = classical_fill(image, hole, "smooth").astype(np.float32)
    # The first hole row (1 px deep) is almost unblurred: weight 1 / (2 sigma).
    edge = out[16, 30:66] - mean[16, 30:66]
    blurred = cv2.GaussianBlur(mean, (0, 0), SMOOTH_SIGMA, borderType=cv2.BORDER_REFLECT)
    assert np.abs(edge).mean() < np.abs(blurred[16, 30:66] - mean[16, 30:66]).mean() / 4
    # The centre is >= 2 sigma from the boundary: fully the blurred mean.
    assert np.abs(out[48, 48] - blurred[48, 48]).max() <= 1.0


def test_smooth_removes_streaks_that_opencv_leaves() -> None:
    image = _texture(seed=2)
    hole = _square_hole()

    def roughness(method: str) -> float:  # mean |Laplacian| >= 2 sigma inside the hole
        lap = cv2.Laplacian(classical_fill(image, hole, method).astype(np.float32), cv2.CV_32F)
        return float(np.abs(lap[32:64, 32:64]).mean())

    # (uint8 rounding alone leaves a mean |Laplacian| near 1)
    assert roughness("smooth") < min(roughness("telea"), roughness("ns")) / 1.5


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown classical method 'patchmatch'"):
        classical_fill(_texture(), _square_hole(), "patchmatch")
