"""PSNR / SSIM / L1 against scikit-image and numpy on random and structured fixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from inpaintkit.conventions import image_to_tensor, tensor_to_image
from inpaintkit.metrics import compute_metrics, l1, psnr, ssim, to_pixels

TOL = 1e-3  # the brief's bound; SSIM actually agrees to ~1e-7


def _hwc(batch: torch.Tensor) -> list[np.ndarray]:
    return [x.permute(1, 2, 0).numpy() for x in batch]


def ref_psnr(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.array([peak_signal_noise_ratio(x, y, data_range=255)
                         for x, y in zip(_hwc(a), _hwc(b), strict=True)])


def ref_ssim(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return np.array([
        structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, channel_axis=-1, data_range=255)
        for x, y in zip(_hwc(a), _hwc(b), strict=True)
    ])


def ref_l1(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return np.array([np.abs(x.astype(float) - y.astype(float)).mean() / 255 * 100
                     for x, y in zip(_hwc(a), _hwc(b), strict=True)])


def _random_pair(seed: int, shape=(4, 3, 48, 64), noise=40):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    b = (a.int() + torch.randint(-noise, noise + 1, shape, generator=g)).clamp(0, 255)
    return a, b.to(torch.uint8)


def _structured_pair():
    """Hard edges, flat areas, gradients and saturated values: where float errors hide."""
    yy, xx = torch.meshgrid(torch.arange(64), torch.arange(80), indexing="ij")
    checker = (((yy // 8 + xx // 8) % 2) * 255).to(torch.uint8)
    ramp = (xx * 255 // 79).to(torch.uint8)
    flat = torch.full((64, 80), 250, dtype=torch.uint8)
    a = torch.stack([
        torch.stack([checker, ramp, flat]),
        torch.stack([ramp, ramp, ramp]),
        torch.stack([flat, flat, flat]),
        torch.stack([checker, checker, checker]),
    ])
    b = a.clone()
    b[0] = 255 - b[0]                       # inverted
    b[1, :, :, 40:] = 0                     # half blacked out (an unfilled hole)
    b[2, :, 20:22] = 251                    # one-level change on a flat image
    b[3, :, :, :] = torch.roll(a[3], 3, -1)  # shifted edges
    return a, b


FIXTURES = {
    "random": _random_pair(0),
    "random-strong-noise": _random_pair(1, noise=255),
    "structured": _structured_pair(),
}


@pytest.mark.parametrize("name", list(FIXTURES))
def test_agrees_with_scikit_image(name):
    a, b = FIXTURES[name]
    np.testing.assert_allclose(psnr(a, b).numpy(), ref_psnr(a, b), atol=TOL, rtol=0)
    np.testing.assert_allclose(ssim(a, b).numpy(), ref_ssim(a, b), atol=TOL, rtol=0)
    np.testing.assert_allclose(l1(a, b).numpy(), ref_l1(a, b), atol=TOL, rtol=0)
    # The float path is much tighter than the bound; catch a regression to a sloppy one.
    np.testing.assert_allclose(ssim(a, b).numpy(), ref_ssim(a, b), atol=1e-5, rtol=0)


def test_batch_of_one_equals_row_of_batch():
    a, b = FIXTURES["random"]
    for fn in (psnr, ssim, l1):
        whole = fn(a, b)
        assert whole.shape == (a.shape[0],) and whole.dtype == torch.float64
        for i in range(a.shape[0]):
            single = fn(a[i:i + 1], b[i:i + 1])
            assert single.shape == (1,)
            assert torch.allclose(single, whole[i:i + 1], atol=1e-9)


def test_compute_metrics_equals_the_separate_functions():
    a, b = FIXTURES["structured"]
    both = compute_metrics(a, b, max_db=100.0)
    assert torch.equal(both["psnr"], psnr(a, b, max_db=100.0))
    assert torch.equal(both["ssim"], ssim(a, b))
    assert torch.equal(both["l1"], l1(a, b))
    assert torch.equal(compute_metrics(a, a)["psnr"], psnr(a, a))


def test_float_inputs_are_the_rounded_uint8_images():
    """[-1,1] floats are scored as the uint8 images tensor_to_image would write."""
    a, b = FIXTURES["random"]
    fa = torch.cat([image_to_tensor(x) for x in _hwc(a)])
    fb = torch.cat([image_to_tensor(x) for x in _hwc(b)])
    # A perturbation far below half a level rounds away.
    fb_noisy = fb + 1e-4 * torch.randn(fb.shape, generator=torch.Generator().manual_seed(3))
    for fn in (psnr, ssim, l1):
        assert torch.allclose(fn(fa, fb_noisy), fn(a, b), atol=1e-9)
    # and the rounding is the file writer's
    for i in range(a.shape[0]):
        expected = torch.from_numpy(tensor_to_image(fb_noisy[i])).permute(2, 0, 1).double()
        assert torch.equal(to_pixels(fb_noisy[i:i + 1])[0], expected)


def test_quantize_false_scores_raw_values():
    a = torch.zeros(1, 3, 16, 16)
    b = torch.full((1, 3, 16, 16), 0.2 / 127.5)  # 0.2 of a level: rounds to 0 difference
    assert math.isinf(float(psnr(a, b)))
    assert float(l1(a, b)) == 0.0
    raw = float(l1(a, b, quantize=False))
    assert raw == pytest.approx(0.2 / 255 * 100, rel=1e-5)
    assert float(psnr(a, b, quantize=False)) == pytest.approx(10 * math.log10(255**2 / 0.04), rel=1e-5)


def test_identical_images_psnr_inf_or_cap():
    """Documented: inf (like scikit-image) by default, ``max_db`` caps it."""
    a, _ = FIXTURES["random"]
    assert torch.isinf(psnr(a, a)).all()
    assert torch.equal(psnr(a, a, max_db=100.0), torch.full((a.shape[0],), 100.0, dtype=torch.float64))
    assert torch.allclose(ssim(a, a), torch.ones(a.shape[0], dtype=torch.float64), atol=1e-9)
    assert torch.equal(l1(a, a), torch.zeros(a.shape[0], dtype=torch.float64))
    # the cap never raises a finite value
    a2, b2 = FIXTURES["random"]
    assert torch.equal(psnr(a2, b2, max_db=100.0), psnr(a2, b2))


def test_metric_ordering_with_noise_level():
    clean, _ = _random_pair(5, noise=0)
    _, mild = _random_pair(5, noise=5)
    _, strong = _random_pair(5, noise=60)
    assert (psnr(clean, mild) > psnr(clean, strong)).all()
    assert (ssim(clean, mild) > ssim(clean, strong)).all()
    assert (l1(clean, mild) < l1(clean, strong)).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(11, 40), w=st.integers(11, 40),
       n=st.integers(1, 3))
def test_property_matches_scikit_image_any_size(seed, h, w, n):
    a, b = _random_pair(seed, shape=(n, 3, h, w), noise=80)
    np.testing.assert_allclose(ssim(a, b).numpy(), ref_ssim(a, b), atol=1e-5, rtol=0)
    np.testing.assert_allclose(psnr(a, b).numpy(), ref_psnr(a, b), atol=1e-9, rtol=0)
    np.testing.assert_allclose(l1(a, b).numpy(), ref_l1(a, b), atol=1e-9, rtol=0)
    # symmetry
    assert torch.allclose(ssim(a, b), ssim(b, a), atol=1e-6)


def test_bad_inputs():
    a = torch.zeros(1, 3, 16, 16, dtype=torch.uint8)
    with pytest.raises(ValueError):
        psnr(a, torch.zeros(1, 3, 16, 17, dtype=torch.uint8))
    with pytest.raises(ValueError):
        l1(a[0], a[0])
    with pytest.raises(ValueError):
        ssim(a[..., :10, :], a[..., :10, :])
    with pytest.raises(TypeError):
        psnr(a.int(), a.int())
