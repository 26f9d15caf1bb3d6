"""Region normalization: per-region statistics, equivalence with InstanceNorm, empty
regions, batch pooling, RN-L gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inpaintkit.layers.region_norm import RegionNormB, RegionNormL, region_normalize


def _features_and_mask(b=3, c=4, h=16, w=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(b, 1, h, w)
    for i in range(b):  # a different hole per sample
        mask[i, :, 2 + i : 9 + i, 1 : 5 + 2 * i] = 1.0
    # Very different statistics inside and outside the hole, per sample and channel.
    x = torch.randn(b, c, h, w, generator=g) * 3 + 5
    x = torch.where(mask > 0, x * 0.1 - 7, x)
    return x, mask


def _moments(y: torch.Tensor, region: torch.Tensor, dims: tuple[int, ...]):
    n = region.sum(dims, keepdim=True)
    mean = (y * region).sum(dims, keepdim=True) / n
    var = (((y - mean) * region) ** 2).sum(dims, keepdim=True) / n
    return mean, var


def test_rn_b_each_region_of_each_sample_and_channel_is_normalized():
    x, mask = _features_and_mask()
    y = RegionNormB(4)(x, mask)
    for region in (mask, 1 - mask):
        mean, var = _moments(y, region, (2, 3))
        torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-4, rtol=0)
        torch.testing.assert_close(var, torch.ones_like(var), atol=1e-3, rtol=0)
    # Not what plain instance norm gives: the regions were normalized separately.
    inorm = nn.InstanceNorm2d(4)(x)
    assert (y - inorm).abs().max() > 0.5


@pytest.mark.parametrize("fill", [0.0, 1.0])
@pytest.mark.parametrize("mode", ["instance", "batch"])
def test_single_region_equals_plain_norm(fill, mode):
    x, _ = _features_and_mask()
    mask = torch.full((3, 1, 16, 12), fill)
    y = RegionNormB(4, mode=mode)(x, mask)
    ref = nn.InstanceNorm2d(4)(x) if mode == "instance" else nn.BatchNorm2d(4, affine=False)(x)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["instance", "batch"])
@pytest.mark.parametrize("layer_kind", ["b", "l"])
def test_empty_region_no_nan_and_finite_grads(mode, layer_kind):
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    if layer_kind == "b":
        layer = RegionNormB(4, mode=mode)
        # a 1-pixel hole at 32x32 that vanishes at 8x8 with nearest resizing: empty hole
        mask = torch.zeros(2, 1, 32, 32)
        mask[:, :, 1, 1] = 1.0
        y = layer(x, mask)
    else:
        layer = RegionNormL(4, threshold=1.1, mode=mode)  # nothing reaches the threshold
        y = layer(x)
    assert torch.isfinite(y).all()
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all()
    for p in layer.parameters():
        assert p.grad is None or torch.isfinite(p.grad).all()


def test_constant_region_is_finite():
    x = torch.ones(1, 2, 6, 6)
    mask = torch.zeros(1, 1, 6, 6)
    mask[..., :3, :] = 1
    y = RegionNormB(2)(x, mask)
    assert torch.isfinite(y).all() and torch.allclose(y, torch.zeros_like(y))


def test_rn_b_gradients_finite_and_reach_affine():
    x, mask = _features_and_mask()
    x.requires_grad_(True)
    layer = RegionNormB(4)
    y = layer(x, mask)
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all()
    for p in layer.parameters():
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_rn_b_affine_is_per_region():
    x, mask = _features_and_mask()
    layer = RegionNormB(4)
    with torch.no_grad():
        layer.hole_bias.fill_(5.0)
        layer.hole_weight.fill_(2.0)
        layer.known_bias.fill_(-1.0)
    y = layer(x, mask)
    mean_h, var_h = _moments(y, mask, (2, 3))
    mean_k, var_k = _moments(y, 1 - mask, (2, 3))
    torch.testing.assert_close(mean_h, torch.full_like(mean_h, 5.0), atol=1e-4, rtol=0)
    torch.testing.assert_close(var_h, torch.full_like(var_h, 4.0), atol=1e-2, rtol=0)
    torch.testing.assert_close(mean_k, torch.full_like(mean_k, -1.0), atol=1e-4, rtol=0)
    torch.testing.assert_close(var_k, torch.ones_like(var_k), atol=1e-3, rtol=0)


def test_batch_mode_pools_over_the_batch():
    x, mask = _features_and_mask()
    y = RegionNormB(4, mode="batch")(x, mask)
    for region in (mask, 1 - mask):
        mean, var = _moments(y, region, (0, 2, 3))
        torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-4, rtol=0)
        torch.testing.assert_close(var, torch.ones_like(var), atol=1e-3, rtol=0)
        # ... but not per sample: samples have different hole statistics.
        mean_s, _ = _moments(y, region, (2, 3))
        assert mean_s.abs().max() > 0.05


def test_batch_mode_depends_on_batch_instance_does_not():
    x, mask = _features_and_mask()
    x2 = x.clone()
    x2[1:] = x2[1:] * 3 + 1
    for mode, depends in (("instance", False), ("batch", True)):
        layer = RegionNormB(4, mode=mode)
        a, b = layer(x, mask)[0], layer(x2, mask)[0]
        assert (not torch.allclose(a, b, atol=1e-4)) == depends
    # At batch size 1 the two modes agree.
    one = (x[:1], mask[:1])
    torch.testing.assert_close(
        RegionNormB(4, mode="batch")(*one), RegionNormB(4, mode="instance")(*one)
    )


def test_mask_is_resized_nearest():
    x, mask = _features_and_mask(h=8, w=8)
    big = torch.nn.functional.interpolate(mask, scale_factor=4, mode="nearest")
    layer = RegionNormB(4)
    torch.testing.assert_close(layer(x, big), layer(x, mask))


def test_region_normalize_rejects_wrong_region_size():
    with pytest.raises(ValueError):
        region_normalize(torch.randn(1, 2, 4, 4), torch.ones(1, 1, 8, 8))
    with pytest.raises(ValueError):
        RegionNormB(2, mode="group")


def test_low_precision_input_keeps_dtype():
    x, mask = _features_and_mask()
    y = RegionNormB(4)(x.to(torch.bfloat16), mask)
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()


def test_rn_l_region_from_thresholded_response():
    torch.manual_seed(0)
    x, _ = _features_and_mask()
    layer = RegionNormL(4, threshold=0.5)
    with torch.no_grad():  # no affine: the output is the plain region normalization
        for conv in (layer.gamma_conv, layer.beta_conv):
            conv.weight.zero_()
            conv.bias.zero_()
    s = layer.response(x)
    assert s.shape == (3, 1, 16, 12) and ((s > 0) & (s < 1)).all()
    region = (s >= 0.5).float()
    assert 0 < region.mean() < 1  # both regions are present in this example
    torch.testing.assert_close(layer(x), region_normalize(x, region))
    # The mask argument is accepted and ignored.
    torch.testing.assert_close(layer(x, torch.ones(3, 1, 16, 12)), layer(x))


def test_rn_l_threshold_zero_is_instance_norm_plus_affine():
    x, _ = _features_and_mask()
    layer = RegionNormL(4, threshold=0.0)
    s = layer.response(x)
    expected = nn.InstanceNorm2d(4)(x) * (1 + layer.gamma_conv(s)) + layer.beta_conv(s)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_rn_l_detector_learns_through_the_affine():
    torch.manual_seed(0)
    x, _ = _features_and_mask()
    x.requires_grad_(True)
    layer = RegionNormL(4)
    y = layer(x)
    (y * torch.randn_like(y)).sum().backward()
    for p in (layer.detector.weight, layer.gamma_conv.weight, layer.beta_conv.weight):
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert torch.isfinite(x.grad).all()


def _reference(x: torch.Tensor, region: torch.Tensor, mode: str, eps: float = 1e-5):
    """Boolean indexing, region by region: the paper's equations written plainly."""
    out = torch.zeros_like(x)
    samples = [[i] for i in range(x.shape[0])] if mode == "instance" else [list(range(x.shape[0]))]
    for idx in samples:
        for sel in (region[idx, 0] > 0.5, region[idx, 0] <= 0.5):  # (n, H, W) bool
            if not sel.any():
                continue
            for ch in range(x.shape[1]):
                vals = x[idx, ch][sel]
                mean, var = vals.mean(), vals.var(unbiased=False)
                block = out[idx, ch]
                block[sel] = (vals - mean) / torch.sqrt(var + eps)
                out[idx, ch] = block
    return out


@pytest.mark.parametrize("mode", ["instance", "batch"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_region_normalize_matches_plain_reference(mode, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 5, 9, 7, generator=g) * 4 + 2
    region = (torch.rand(3, 1, 9, 7, generator=g) > 0.7).float()
    region[1] = 0  # an empty region in one sample
    region[2, :, 0, 0] = 1  # a one-pixel region in another
    region[2, :, 1:, :] = 0
    torch.testing.assert_close(
        region_normalize(x, region, mode), _reference(x, region, mode), atol=1e-4, rtol=1e-4
    )
