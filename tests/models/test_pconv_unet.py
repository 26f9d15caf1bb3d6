"""PConvUNet: depth, the paper's architecture and parameter count, frozen encoder BN
(the generator contract is in test_contract.py)."""

from __future__ import annotations

import pytest
import torch

from inpaintkit.layers.partial_conv import PartialConv2d
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.base import config_from_dict, config_to_dict
from inpaintkit.models.pconv_unet import PConvUNet, PConvUNetConfig


def _batch(h: int, w: int, b: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(b, 1, h, w)
    mask[0, :, h // 4 : h // 2, w // 4 : 3 * w // 4] = 1
    mask[-1, :, 3:40, 9:21] = 1
    return image, mask


def _tiny(**overrides) -> PConvUNet:
    torch.manual_seed(0)
    return create_model("pconv_unet", tiny=True, **overrides)


def test_registered_and_tiny_is_small():
    assert MODELS["pconv_unet"] is PConvUNet
    model = _tiny()
    assert model.multiple == 16
    assert max(m.out_channels for m in model.modules() if isinstance(m, PartialConv2d)) <= 32


def test_all_hole_and_no_hole_are_finite():
    model = _tiny().eval()
    image, _ = _batch(64, 64)
    for fill in (0.0, 1.0):
        assert torch.isfinite(model(image, torch.full((2, 1, 64, 64), fill))).all()


def test_depth_is_configurable():
    for layers, size in ((2, 8), (5, 64), (6, 128)):
        torch.manual_seed(0)
        model = create_model("pconv_unet", tiny=True, layers=layers).eval()
        assert model.multiple == 2**layers
        assert len(model.encoder) == len(model.decoder) == layers
        image, mask = _batch(size, size, b=1)
        assert model(image, mask).shape == image.shape
    with pytest.raises(ValueError, match="divisible"):
        _tiny()(torch.zeros(1, 3, 64, 72), torch.zeros(1, 1, 64, 72))


def test_architecture_follows_the_paper():
    model = create_model("pconv_unet")
    enc = [b.conv for b in model.encoder]
    assert [c.kernel_size[0] for c in enc] == [7, 5, 5, 3, 3, 3, 3, 3]
    assert [c.out_channels for c in enc] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert all(c.stride == (2, 2) and c.multi_channel for c in enc)
    assert [b.bn is not None for b in model.encoder] == [False] + [True] * 7
    dec = [b.conv for b in model.decoder]
    assert [c.in_channels for c in dec] == [1024] * 4 + [768, 384, 192, 67]
    assert [c.out_channels for c in dec] == [512] * 4 + [256, 128, 64, 3]
    assert model.decoder[-1].bn is None and model.decoder[-1].act is None
    assert isinstance(model.decoder[0].act, torch.nn.LeakyReLU)


def test_full_parameter_count():
    full = sum(p.numel() for p in create_model("pconv_unet").parameters())
    convs = [(3, 64, 7), (64, 128, 5), (128, 256, 5), (256, 512, 3)] + [(512, 512, 3)] * 4
    convs += [(1024, 512, 3)] * 4 + [(768, 256, 3), (384, 128, 3), (192, 64, 3), (67, 3, 3)]
    weights = sum(i * o * k * k + o for i, o, k in convs)
    bns = 2 * (128 + 256 + 512 * 5) + 2 * (512 * 4 + 256 + 128 + 64)
    assert full == weights + bns == 32_865_236  # the paper's 32.9M
    print(f"pconv_unet full: {full:,} parameters")


def test_freeze_encoder_bn():
    model = _tiny()
    model.freeze_encoder_bn = True
    model.train()
    assert all(not b.bn.training for b in model.encoder if b.bn is not None)
    assert all(b.bn.training for b in model.decoder if b.bn is not None)
    image, mask = _batch(64, 64)
    before = [b.bn.running_mean.clone() for b in model.encoder if b.bn is not None]
    model(image, mask)
    after = [b.bn.running_mean for b in model.encoder if b.bn is not None]
    assert all(torch.equal(x, y) for x, y in zip(before, after, strict=True))


def test_config_round_trip():
    cfg = PConvUNetConfig(layers=5, channels=8, max_channels=16)
    assert config_from_dict(PConvUNetConfig, config_to_dict(cfg)) == cfg
    assert [cfg.width(i) for i in range(6)] == [3, 8, 16, 16, 16, 16]
    with pytest.raises(ValueError):
        PConvUNetConfig(layers=0)
