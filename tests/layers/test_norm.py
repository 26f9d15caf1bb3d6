"""make_norm: one forward(x, mask) signature for every kind."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inpaintkit.layers.norm import NORM_KINDS, make_norm
from inpaintkit.layers.region_norm import RegionNormB, RegionNormL


def _inputs():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 8, 8, generator=g) * 2 + 1
    mask = torch.zeros(2, 1, 16, 16)  # at the image size, not the feature size
    mask[..., 4:10, 2:12] = 1
    return x, mask


@pytest.mark.parametrize("kind", NORM_KINDS)
def test_every_kind_takes_x_and_mask(kind):
    x, mask = _inputs()
    x.requires_grad_(True)
    norm = make_norm(kind, 6)
    y = norm(x, mask)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("kind", ["none", "batch", "instance", "rn_l"])
def test_mask_free_kinds_accept_none(kind):
    x, mask = _inputs()
    norm = make_norm(kind, 6).eval()
    torch.testing.assert_close(norm(x, None), norm(x, mask))


def test_plain_kinds_match_torch():
    x, mask = _inputs()
    assert torch.equal(make_norm("none", 6)(x, mask), x)
    torch.testing.assert_close(make_norm("instance", 6)(x, mask), nn.InstanceNorm2d(6)(x))
    torch.testing.assert_close(make_norm("batch", 6)(x, mask), nn.BatchNorm2d(6)(x))


def test_region_kinds_and_options():
    rn_b = make_norm("rn_b", 6, mode="batch", affine=False)
    assert isinstance(rn_b, RegionNormB) and rn_b.mode == "batch" and not rn_b.affine
    rn_l = make_norm("rn_l", 6, threshold=0.9)
    assert isinstance(rn_l, RegionNormL) and rn_l.threshold == 0.9
    inorm = make_norm("instance", 6, affine=True)
    assert sum(p.numel() for p in inorm.parameters()) == 12
    x, mask = _inputs()
    # RN-B uses the mask: a different hole gives a different output.
    other = torch.zeros_like(mask)
    other[..., :4, :] = 1
    assert not torch.allclose(rn_b(x, mask), rn_b(x, other))


def test_rn_b_requires_mask_and_unknown_kind_raises():
    x, _ = _inputs()
    with pytest.raises(ValueError):
        make_norm("rn_b", 6)(x, None)
    with pytest.raises(ValueError, match="unknown norm kind"):
        make_norm("layer", 6)
