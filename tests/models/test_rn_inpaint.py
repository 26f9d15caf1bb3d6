"""RNInpaint generator (the contract is in test_contract.py) and EdgePatchGAN discriminator."""

from __future__ import annotations

import pytest
import torch

from inpaintkit.layers.norm import MaskAgnosticNorm
from inpaintkit.layers.region_norm import RegionNormB, RegionNormL
from inpaintkit.models import DISCRIMINATORS, MODELS, create_discriminator, create_model
from inpaintkit.models.base import config_from_dict, config_to_dict
from inpaintkit.models.rn_inpaint import EdgePatchGAN, RNInpaint, RNInpaintConfig


def _batch(h: int, w: int, b: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(b, 1, h, w)
    mask[0, :, h // 4 : h // 2, w // 4 : 3 * w // 4] = 1
    mask[-1, :, 5:30, 7:19] = 1
    return image, mask


def _tiny(**overrides) -> RNInpaint:
    torch.manual_seed(0)
    return create_model("rn_inpaint", tiny=True, **overrides)


def test_registered():
    assert MODELS["rn_inpaint"] is RNInpaint
    assert DISCRIMINATORS["edge_patchgan"] is EdgePatchGAN


def test_region_norm_has_no_train_eval_difference():
    model = _tiny()
    image, mask = _batch(64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.train()(image, mask), model.eval()(image, mask))


def test_all_hole_and_no_hole_are_finite():
    model = _tiny().eval()
    image, _ = _batch(64, 64)
    for fill in (0.0, 1.0):
        out = model(image, torch.full((2, 1, 64, 64), fill))
        assert torch.isfinite(out).all()


def test_norm_placement_follows_official_code():
    model = _tiny()
    assert all(isinstance(m, RegionNormB) for m in (model.enc_norm1, model.enc_norm2, model.enc_norm3))
    middle = [m for block in model.middle for m in (block.norm1, block.norm2)]
    assert len(middle) == 2 * model.config.residual_blocks
    assert all(isinstance(m, RegionNormL) for m in [*middle, model.dec_norm1, model.dec_norm2])
    baseline = _tiny(norm="instance")
    assert not any(isinstance(m, (RegionNormB, RegionNormL)) for m in baseline.modules())
    assert isinstance(baseline.enc_norm1, MaskAgnosticNorm)


def test_edge_channel():
    model = _tiny(edge=True)
    image, mask = _batch(64, 64)
    edge = (torch.rand(2, 1, 64, 64) > 0.9).float()
    out = model.inpaint(image, mask, sketch=edge)
    assert out.shape == image.shape
    # The edge map is a real input (inside the hole too, where it guides the fill).
    assert not torch.equal(out, model.inpaint(image, mask, sketch=torch.zeros_like(edge)))
    with pytest.raises(ValueError, match="edge"):
        model(image, mask)
    with pytest.raises(ValueError, match="edge"):
        _tiny()(image, mask, edge=edge)
    assert model.enc1.in_channels == 5 and _tiny(mask_input=False).enc1.in_channels == 3


def test_size_checks():
    model = _tiny()
    assert model.multiple == 4
    with pytest.raises(ValueError, match="divisible"):
        model(torch.zeros(1, 3, 64, 62), torch.zeros(1, 1, 64, 62))
    with pytest.raises(ValueError):
        RNInpaintConfig(norm="group")


def test_config_round_trip_and_tiny_width():
    model = _tiny(rn_mode="batch", upsample="transpose")
    cfg = config_from_dict(RNInpaintConfig, config_to_dict(model.config))
    assert cfg == model.config
    widest = max(m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert widest <= 32


def _expected_params(c: int, n: int, in_ch: int) -> int:
    """Parameter count of the default (RN, pixel-shuffle) architecture, layer by layer."""
    enc = (in_ch * c * 49 + c) + (c * 2 * c * 16 + 2 * c) + (2 * c * 4 * c * 16 + 4 * c)
    rn_b = 4 * (c + 2 * c + 4 * c)  # gamma/beta for hole and known
    middle = n * 2 * (4 * c * 4 * c * 9 + 4 * c)
    rn_l = (2 * n + 2) * (2 * 49 + 2 * (49 + 1))  # detector (no bias) + gamma/beta convs
    dec = (4 * c * 8 * c * 9 + 8 * c) + (2 * c * 4 * c * 9 + 4 * c) + (c * 3 * 49 + 3)
    return enc + rn_b + middle + rn_l + dec


def test_full_parameter_counts():
    def count(**kw):
        return sum(p.numel() for p in create_model("rn_inpaint", **kw).parameters())

    full = count()
    assert full == _expected_params(64, 8, 4) == 11_599_727
    # EdgeConnect's inpainting generator (IN, transposed convs, image + edge input): 10.77M.
    assert count(norm="instance", upsample="transpose", mask_input=False, edge=True) == 10_774_595
    print(f"rn_inpaint full: {full:,} parameters")


def test_discriminator():
    torch.manual_seed(0)
    d = create_discriminator("edge_patchgan", tiny=True)
    x = torch.rand(2, 3, 64, 96, requires_grad=True)
    scores, feats = d.forward_features(x)
    assert scores.shape == (2, 1, 6, 10) and ((scores >= 0) & (scores <= 1)).all()
    assert len(feats) == 5 and torch.equal(torch.sigmoid(feats[-1]), scores)
    scores.mean().backward()
    assert torch.isfinite(x.grad).all()
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and all(c.bias is None for c in convs)
    assert all(hasattr(c, "parametrizations") for c in convs)  # spectral norm
    logits = create_discriminator("edge_patchgan", tiny=True, use_sigmoid=False)
    assert logits(x).shape == (2, 1, 6, 10)
    full = create_discriminator("edge_patchgan")
    assert full(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    # 4x4 convs 3-64-128-256-512-1, no bias.
    expected = 16 * (3 * 64 + 64 * 128 + 128 * 256 + 256 * 512 + 512)
    assert sum(p.numel() for p in full.parameters()) == expected
