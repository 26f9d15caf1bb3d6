"""The torch pyramid against OpenCV's (the reference the realism metric uses)."""

import numpy as np
import pytest
import torch

from inpaintkit.layers.pyramid import laplacian_bands, pyr_down, pyr_up
from inpaintkit.metrics.realism import laplacian_levels

cv2 = pytest.importorskip("cv2")

# Ours (a torch conv) and OpenCV's (separable, its own summation order and SIMD path) round
# differently: a 25-tap filter of [0,255] float32 values differs by a few ulps of 255 (measured
# 1.5 ulp = 4.6e-5 with AVX2 kernels). Allow 16 ulps of 255 (5e-4); a wrong tap weight (k/256)
# or a shifted sample moves pixels by whole grey levels.
TOL_255 = 16 * float(np.finfo(np.float32).eps) * 255


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32) * 255


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1)[None]


def _np(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize(("h", "w"), [(16, 24), (13, 18), (7, 9)])
def test_pyr_down_is_opencvs(h, w):
    x = _image(h, w)
    np.testing.assert_allclose(_np(pyr_down(_t(x))), cv2.pyrDown(x), rtol=0, atol=TOL_255)


def test_pyr_up_is_opencvs_away_from_the_border():
    x = _image(11, 14, seed=1)
    ours, ref = _np(pyr_up(_t(x))), cv2.pyrUp(x)
    assert ours.shape == ref.shape == (22, 28, 3)
    np.testing.assert_allclose(ours[2:-2, 2:-2], ref[2:-2, 2:-2], rtol=0, atol=TOL_255)
    assert np.abs(ours - ref).max() < 0.5 * 255  # the border differs, but not wildly


def test_bands_match_the_realism_metric_inside_and_rebuild_the_image():
    x = _image(32, 40, seed=2)
    bands = laplacian_bands(_t(x), levels=2)
    ref = laplacian_levels(x, levels=2)
    for ours, theirs, margin in zip(bands, ref, (4, 2), strict=True):
        assert ours.shape[-2:] == theirs.shape[:2]
        np.testing.assert_allclose(_np(ours)[margin:-margin, margin:-margin],
                                   theirs[margin:-margin, margin:-margin], atol=1e-3)
    # G0 = L0 + up(G1) exactly, by construction
    g1 = pyr_down(_t(x))
    np.testing.assert_allclose(_np(bands[0] + pyr_up(g1)), x, atol=1e-3)


def test_a_smooth_image_has_almost_no_fine_bands():
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    ramp = np.repeat((0.5 * xx + 0.3 * yy)[..., None], 3, axis=2)
    bands = laplacian_bands(_t(ramp), levels=2)
    # exact for a linear ramp away from the borders (which reflect and replicate)
    assert all(float(b[..., 8:-8, 8:-8].abs().max()) < 1e-3 for b in bands)
    assert float(bands[0].abs().max()) > 0.1  # the borders do differ: the check can fail
