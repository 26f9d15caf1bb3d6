"""model_summary / count_macs: hand-computed counts, no double counting, every model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.layers.partial_conv import PartialConv2d
from inpaintkit.models import MODELS
from inpaintkit.models.summary import count_macs, model_summary


class _Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
        self.fc = nn.Linear(10, 5)
        self.kernel = nn.Parameter(torch.randn(6, 4, 3, 3))

    def forward(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        h = self.up(self.grouped(self.conv(x)))  # (1, 4, 32, 32)
        f = F.conv2d(h, self.kernel)  # functional: (1, 6, 30, 30)
        a = torch.randn(4, 6) @ torch.randn(6, 7)  # mm
        b = torch.bmm(torch.randn(2, 3, 5), torch.randn(2, 5, 4))
        q = torch.randn(1, 2, 8, 16)
        s = F.scaled_dot_product_attention(q, torch.randn(1, 2, 12, 16), torch.randn(1, 2, 12, 8))
        return f.sum() + a.sum() + b.sum() + s.sum() + self.fc(v).sum()


def test_hand_computed_counts():
    x = torch.randn(1, 3, 16, 16)
    macs = count_macs(_Mixed(), x, torch.randn(2, 10))
    modules = (
        16 * 16 * 8 * 3 * 9  # conv: out numel * C_in * k*k
        + 16 * 16 * 8 * 2 * 9  # grouped: C_in/groups = 2
        + (8 * 16 * 16) * 4 * 16  # transposed: in numel * C_out * k*k
        + 2 * 5 * 10  # linear
    )
    functional = (
        6 * 30 * 30 * 4 * 9  # F.conv2d
        + 4 * 6 * 7  # mm
        + 2 * 3 * 5 * 4  # bmm
        + 2 * 8 * 12 * (16 + 8)  # attention: QK^T + AV
    )
    assert macs == {"modules": modules, "functional": functional, "total": modules + functional}


def test_hooks_and_dispatch_agree_and_do_not_double_count():
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1)
    x = torch.randn(2, 4, 17, 17)

    class _Functional(nn.Module):
        def forward(self, x):
            return F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1)

    hooked = count_macs(conv, x)
    dispatched = count_macs(_Functional(), x)
    assert hooked["functional"] == 0 and dispatched["modules"] == 0
    assert hooked["total"] == dispatched["total"] == 2 * 6 * 9 * 9 * 4 * 9


def test_partial_conv_counted_once_as_a_conv():
    layer = PartialConv2d(5, 7, 3, multi_channel=True)
    x = torch.randn(1, 5, 12, 12)
    macs = count_macs(layer, x, torch.ones(1, 5, 12, 12))
    assert macs == {"modules": 7 * 12 * 12 * 5 * 9, "functional": 0, "total": 7 * 12 * 12 * 5 * 9}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_has_a_summary(name):
    torch.manual_seed(0)
    s = model_summary(name, size=64, tiny=True)
    assert s["name"] == name and s["size"] >= 64
    if MODELS[name].classical:  # OpenCV: no parameters, no multiply-adds of a network
        assert s["params"] == 0 and s["gmacs"] == 0
    else:
        assert s["params"] > 0 and s["gmacs"] > 0
    assert s["gflops"] == pytest.approx(2 * s["gmacs"])
    assert 0 <= s["gmacs_functional"] <= s["gmacs"]


@pytest.mark.parametrize("name", ["rn_inpaint", "pconv_unet"])
def test_fully_convolutional_cost_scales_with_area(name):
    small = model_summary(name, size=64, tiny=True)
    big = model_summary(name, size=128, tiny=True)
    assert big["params"] == small["params"]
    assert big["gmacs"] == pytest.approx(4 * small["gmacs"], rel=1e-9)
    # Only region norm's statistics bmm's (8*C*HW MACs per layer) run outside conv modules.
    assert small["gmacs_functional"] <= 0.05 * small["gmacs"]
    if name == "pconv_unet":
        assert small["gmacs_functional"] == 0


def test_size_rounded_up_to_multiple():
    s = model_summary("pconv_unet", size=50, tiny=True)  # multiple 16
    assert s["size"] == 64
    assert model_summary("rn_inpaint", size=62, tiny=True)["size"] == 64
