"""FID: a tiny random-weight FID Inception from a local file, and the Frechet distance
against the numpy/scipy formula of the reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from safetensors.torch import save_file

from inpaintkit.errors import InpaintError
from inpaintkit.metrics import (
    FIDInceptionV3,
    feature_statistics,
    fid,
    frechet_distance,
    inception_features,
    load_fid_inception,
)

WIDTH = 1 / 16


def reference_frechet(mu1, s1, mu2, s2) -> float:
    """The published formula with scipy's matrix square root (as pytorch-fid computes it)."""
    covmean = np.real(scipy.linalg.sqrtm(s1 @ s2))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _calibrated_tiny_inception(seed: int = 0) -> FIDInceptionV3:
    """Random weights with batch-norm statistics measured on random images, so features are
    normalised (not all-zero after many ReLUs) like a trained network's."""
    torch.manual_seed(seed)
    model = FIDInceptionV3(width=WIDTH)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batch
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.train()
    with torch.no_grad():
        model(torch.rand(16, 3, 96, 96, generator=torch.Generator().manual_seed(seed)) * 2 - 1)
    return model.eval()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    model = _calibrated_tiny_inception()
    path = tmp_path_factory.mktemp("fid") / "inception_tiny.safetensors"
    state = dict(model.state_dict())
    # Files exported from the classifier carry its head; the loader must ignore it.
    state["fc.weight"] = torch.randn(10, model.feature_dim)
    state["fc.bias"] = torch.zeros(10)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return model, path


def _images(seed: int, n: int, shift: float = 0.0, size: int = 64) -> torch.Tensor:
    """Smooth random images in [-1,1] (blurred noise), optionally brightened by ``shift``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 8, size // 8, generator=g) * 2 - 1
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x * 0.8 + shift).clamp(-1, 1)


def test_full_width_architecture_matches_torchvision_layout():
    """Parameter count and names of torchvision's Inception-v3 trunk (the weights' layout)."""
    model = FIDInceptionV3()
    assert sum(p.numel() for p in model.parameters()) == 21_785_568
    assert model.feature_dim == 2048
    names = set(model.state_dict())
    for key in ("Conv2d_1a_3x3.conv.weight", "Conv2d_4a_3x3.bn.running_var",
                "Mixed_5b.branch_pool.conv.weight", "Mixed_6e.branch7x7dbl_5.bn.bias",
                "Mixed_7c.branch3x3dbl_3b.conv.weight"):
        assert key in names
    assert tuple(model.state_dict()["Mixed_6b.branch7x7_2.conv.weight"].shape) == (128, 128, 1, 7)


def test_load_from_file_shapes_and_same_outputs(tiny, tmp_path):
    model, path = tiny
    loaded = load_fid_inception(path)
    assert loaded.width == pytest.approx(WIDTH)
    x = _images(0, 4)
    with torch.no_grad():
        ref = model(x)
    feats = inception_features(loaded, x, batch_size=3)
    assert feats.shape == (4, model.feature_dim) and feats.dtype == torch.float64
    # Batches of 3+1 vs one of 4 are different float32 computations: oneDNN blocks each batch
    # size (and each CPU's ISA) its own way, so ~90-large features differ by a few float32
    # ulps of the largest (measured <= 0.4 ulp * 90 = 3.4e-5 with AVX-512 and AVX2). Allow
    # 64 ulps of the largest feature; a wrongly loaded weight moves features by O(1).
    tol = 64 * torch.finfo(torch.float32).eps * float(ref.abs().max())
    torch.testing.assert_close(feats, ref.double(), rtol=0, atol=tol)
    assert feats.std(0).mean() > 1e-3  # calibrated features are not degenerate

    # same file as a weights-only .pth (one batch of 4 again, compared with the 3+1 features)
    pth = tmp_path / "inception_tiny.pth"
    torch.save(model.state_dict(), pth)
    torch.testing.assert_close(inception_features(load_fid_inception(pth), x), feats, rtol=0, atol=tol)

    # uint8 images are accepted and equal to their [-1,1] version (same batch, same ops: the
    # conversion is the only difference, so the float32 tolerance above is ample)
    u8 = ((x + 1) * 127.5).round().to(torch.uint8)
    back = u8.float() / 127.5 - 1
    torch.testing.assert_close(inception_features(loaded, u8), inception_features(loaded, back), rtol=0, atol=tol)


def test_fid_of_a_set_with_itself_is_zero(tiny):
    model, _ = tiny
    x = _images(1, 12)
    scale = max(1.0, float(inception_features(model, x).var()))
    assert abs(fid(model, x, x)) < 1e-6 * scale
    # the iterable-of-batches form gives the same, to float32 rounding: features of batches
    # of 5 and 7 differ from those of one batch of 12 in the last bits (oneDNN blocks each
    # batch size its own way), and the FID of a set with itself is a difference of ~scale
    assert fid(model, x.split(5), x.split(7)) == pytest.approx(fid(model, x, x), abs=1e-6 * scale)


def test_fid_grows_with_distribution_shift(tiny):
    model, _ = tiny
    real = _images(2, 24)
    values = [fid(model, real, _images(3, 24, shift=s)) for s in (0.0, 0.3, 0.6)]
    assert values[0] < values[1] < values[2], values
    assert values[0] > 0  # two different samples of one distribution are not identical


def test_frechet_distance_matches_scipy_reference():
    rng = np.random.default_rng(0)
    for d, n in ((4, 50), (16, 200), (16, 10)):  # the last one rank-deficient (n < d)
        f1 = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
        f2 = rng.normal(loc=0.5, size=(n, d)) @ rng.normal(size=(d, d))
        mu1, s1 = feature_statistics(torch.from_numpy(f1))
        mu2, s2 = feature_statistics(torch.from_numpy(f2))
        np.testing.assert_allclose(mu1.numpy(), f1.mean(0))
        np.testing.assert_allclose(s1.numpy(), np.cov(f1, rowvar=False), rtol=1e-10, atol=1e-10)
        ours = frechet_distance(mu1, s1, mu2, s2)
        ref = reference_frechet(mu1.numpy(), s1.numpy(), mu2.numpy(), s2.numpy())
        assert ours == pytest.approx(ref, rel=1e-6, abs=1e-6 if n > d else 1e-3)


def test_frechet_distance_closed_forms():
    """1-D: (m1-m2)^2 + (s1-s2)^2; identical Gaussians: 0; pure mean shift: ||dmu||^2."""
    one = torch.ones(1, dtype=torch.float64)
    assert frechet_distance(one * 1, one.view(1, 1) * 4, one * 3, one.view(1, 1) * 9) == \
        pytest.approx((1 - 3) ** 2 + (2 - 3) ** 2)
    s = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    mu = torch.tensor([1.0, -1.0], dtype=torch.float64)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-12)
    assert frechet_distance(mu, s, mu + 2, s) == pytest.approx(8.0, abs=1e-12)


def test_bad_files(tmp_path):
    with pytest.raises(InpaintError, match="not found"):
        load_fid_inception(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InpaintError, match="bad.pth"):
        load_fid_inception(bad)
    other = tmp_path / "other.safetensors"
    save_file({"features.0.weight": torch.zeros(4, 3, 3, 3)}, str(other))
    with pytest.raises(InpaintError, match="Inception"):
        load_fid_inception(other)
    broken = tmp_path / "broken.safetensors"
    state = FIDInceptionV3(width=WIDTH).state_dict()
    state.pop("Mixed_7c.branch_pool.conv.weight")
    save_file(dict(state), str(broken))
    with pytest.raises(InpaintError, match="Mixed_7c.branch_pool"):
        load_fid_inception(broken)


def test_statistics_need_two_samples():
    with pytest.raises(ValueError):
        feature_statistics(torch.zeros(1, 8))
