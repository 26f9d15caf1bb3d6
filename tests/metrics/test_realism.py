"""The hole patch SWD (metrics/realism.py) against an independent slow reference built from
explicit loops and scipy's 1-D Wasserstein distance, and its behaviour on blur and noise."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from inpaintkit.metrics.realism import (
    MIN_CENTRES,
    PatchSWD,
    patch_swd,
    projection_directions,
    sliced_wasserstein,
)

scipy_stats = pytest.importorskip("scipy.stats")


def _photo_like(size: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth scene with edges and a mild texture: what a photo's hole looks like."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    img = np.stack([60 + 1.2 * x, 90 + 0.8 * y, 140 + 40 * np.sin(x / 9) * np.cos(y / 13)], axis=2)
    img[size // 4: size // 2, size // 3: 2 * size // 3] += 50  # a bright block: edges
    img[:, size // 2 + 7:] -= 30
    texture = cv2.GaussianBlur(rng.normal(0, 6, img.shape).astype(np.float32), (0, 0), 0.8)
    return np.clip(img + texture, 0, 255).astype(np.uint8)


def _square_hole(size: int, top: int, side: int) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[top:top + side, top:top + side] = True
    return hole


def _in_hole(original: np.ndarray, filled: np.ndarray, hole: np.ndarray) -> np.ndarray:
    out = original.copy()
    out[hole] = filled[hole]
    return out


def _reference(result: np.ndarray, original: np.ndarray, hole: np.ndarray) -> float:
    """The module docstring's formula written out: explicit pyramid, a Python loop over the
    centres, float64 throughout, scipy's W1 per direction."""
    directions = projection_directions()
    gauss = [result.astype(np.float32), original.astype(np.float32)]
    weight = hole.astype(np.float32)
    per_level = []
    for _ in range(2):
        downs = [cv2.pyrDown(g) for g in gauss]
        bands = [g - cv2.pyrUp(d, dstsize=(g.shape[1], g.shape[0])) for g, d in zip(gauss, downs, strict=True)]
        ys, xs = np.nonzero(weight >= 0.5)
        if len(ys) >= 16:
            sets = []
            for band in bands:
                padded = np.pad(band, ((3, 3), (3, 3), (0, 0)), mode="reflect").astype(np.float64)
                sets.append(np.array([padded[y:y + 7, x:x + 7, :].transpose(2, 0, 1).ravel()
                                      for y, x in zip(ys, xs, strict=True)]))
            mean, std = sets[1].mean(0), np.maximum(sets[1].std(0), 1.0)
            a, b = (sets[0] - mean) / std, (sets[1] - mean) / std
            per_level.append(np.mean([scipy_stats.wasserstein_distance(a @ d, b @ d) for d in directions.T]))
        gauss, weight = downs, cv2.pyrDown(weight)
    return 1000.0 * float(np.mean(per_level)) if per_level else math.nan


def test_one_dimensional_w1_by_hand():
    # sorted {0,1,5} vs {1,2,3}: |0-1| + |1-2| + |5-3| = 4 over 3 points
    a, b = np.array([[5.0], [0.0], [1.0]]), np.array([[3.0], [1.0], [2.0]])
    assert sliced_wasserstein(a, b, np.array([[1.0]])) == pytest.approx(4 / 3, rel=1e-6)
    assert sliced_wasserstein(a, b, np.array([[-1.0, 1.0]])) == pytest.approx(4 / 3, rel=1e-6)


def test_sliced_wasserstein_matches_scipy_per_direction():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, (300, 147))
    b = rng.standard_t(3, (300, 147)) * 1.5 + 0.2
    d = projection_directions()
    want = np.mean([scipy_stats.wasserstein_distance(a @ t, b @ t) for t in d.T])
    assert sliced_wasserstein(a, b, d) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("case", ["square", "line", "two_blobs"])
def test_patch_swd_matches_the_slow_reference(case):
    rng = np.random.default_rng(2)
    original = _photo_like(40, seed=3)
    result = _in_hole(original, rng.integers(0, 256, original.shape, dtype=np.uint8), np.ones((40, 40), bool))
    hole = np.zeros((40, 40), bool)
    if case == "square":
        hole[12:26, 10:24] = True
    elif case == "line":  # 1 px wide: level 0 has 30 centres, level 1 none (skipped)
        hole[20, 5:35] = True
    else:
        hole[2:9, 30:38] = True  # touches the border: reflect padding
        hole[25:33, 3:12] = True
    result = _in_hole(original, result, hole)
    want = _reference(result, original, hole)
    assert math.isfinite(want) and want > 0
    assert patch_swd(result, original, hole) == pytest.approx(want, rel=1e-4)


def test_identical_images_score_exactly_zero_and_no_hole_is_nan():
    img = _photo_like()
    assert patch_swd(img, img, _square_hole(96, 30, 30)) == 0.0
    assert math.isnan(patch_swd(img, img, np.zeros((96, 96), bool)))
    tiny = np.zeros((96, 96), bool)
    tiny[40:43, 40:45] = True  # 15 centres at level 0, fewer at level 1
    assert np.count_nonzero(tiny) < MIN_CENTRES
    assert math.isnan(patch_swd(np.zeros_like(img), img, tiny))


def test_blur_scores_worse_than_the_original_and_noise_worse_than_blur():
    img = _photo_like()
    hole = _square_hole(96, 28, 40)
    blurred = _in_hole(img, cv2.GaussianBlur(img, (0, 0), 3), hole)
    noisy = np.clip(img + np.random.default_rng(5).normal(0, 25, img.shape), 0, 255).astype(np.uint8)
    noisy = _in_hole(img, noisy, hole)
    score = PatchSWD(img, hole)
    assert score(img) == 0.0
    assert score(blurred) > 50.0
    assert score(noisy) > 1.5 * score(blurred)


def test_deterministic_and_arrays_equal_tensors():
    img = _photo_like()
    hole = _square_hole(96, 20, 30)
    other = _in_hole(img, cv2.GaussianBlur(img, (0, 0), 2), hole)
    first = patch_swd(other, img, hole)
    assert patch_swd(other, img, hole) == first
    directions = projection_directions()
    assert directions.shape == (147, 128)
    assert np.allclose(np.linalg.norm(directions, axis=0), 1.0)
    assert abs(directions @ directions.T - np.eye(147) * 128 / 147).max() < 1.0  # spread, not one axis
    as_tensor = patch_swd(torch.from_numpy(other).permute(2, 0, 1), torch.from_numpy(img).permute(2, 0, 1),
                          torch.from_numpy(hole)[None])
    assert as_tensor == first


def test_pixels_away_from_the_hole_do_not_matter():
    img = _photo_like(128)
    hole = _square_hole(128, 16, 20)
    result = _in_hole(img, cv2.GaussianBlur(img, (0, 0), 2), hole)
    base = patch_swd(result, img, hole)
    far = np.zeros((128, 128), bool)
    far[76:, :] = True
    far[:, 76:] = True  # 40 px and more from the hole
    changed_img, changed_result = img.copy(), result.copy()
    changed_img[far] = 255 - img[far]
    changed_result[far] = 255 - result[far]
    assert patch_swd(changed_result, changed_img, hole) == base
    changed_result[far] = 0  # only the result: still nothing a hole patch sees
    assert patch_swd(changed_result, changed_img, hole) == base
    near = result.copy()
    near[37:40, 16:36] = 0  # just below the hole: inside its patches' reach
    assert patch_swd(near, img, hole) != base


def test_bad_inputs():
    img = _photo_like(32)
    with pytest.raises(ValueError, match="uint8"):
        patch_swd(img.astype(np.float32), img, np.ones((32, 32), bool))
    with pytest.raises(ValueError, match="differ"):
        patch_swd(img[:16], img, np.ones((32, 32), bool))
