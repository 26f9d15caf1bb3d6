"""PIC-Net blocks (:mod:`inpaintkit.layers.pic_blocks`) against their formulas written with
torch.nn.functional, using the blocks' own weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.layers.pic_blocks import FirstBlock, ResBlock, UpBlock, maybe_spectral_norm, pic_widths, to_rgb

SLOPE = 0.1


def _x(c: int = 4, h: int = 6, w: int = 8) -> torch.Tensor:
    return torch.randn(2, c, h, w, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _conv(x: torch.Tensor, conv: nn.Conv2d, padding: int = 0) -> torch.Tensor:
    return F.conv2d(x, conv.weight, conv.bias, padding=padding)


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, SLOPE)


@pytest.mark.parametrize("down", [False, True])
def test_res_block(down: bool) -> None:
    torch.manual_seed(0)
    block = ResBlock(4, 6, 5, SLOPE, sn=False, down=down).double()
    x = _x()
    c1, c2 = block.body[1], block.body[3]
    want = _conv(_act(_conv(_act(x), c1, 1)), c2, 1) + _conv(x, block.shortcut)
    if down:
        want = (want[..., 0::2, 0::2] + want[..., 1::2, 0::2] + want[..., 0::2, 1::2]
                + want[..., 1::2, 1::2]) / 4
    assert c1.out_channels == 5  # the hidden width
    torch.testing.assert_close(block(x), want)


def test_first_block_has_no_activation_on_its_input() -> None:
    torch.manual_seed(1)
    block = FirstBlock(3, 4, SLOPE, sn=False).double()
    x = _x(3)
    c1, c2, short = block.body[0], block.body[2], block.shortcut[1]
    want = F.avg_pool2d(_conv(_act(_conv(x, c1, 1)), c2, 1), 2) + _conv(F.avg_pool2d(x, 2), short)
    out = block(x)
    assert out.shape == (2, 4, 3, 4)
    torch.testing.assert_close(out, want)


@pytest.mark.parametrize("norm", [False, True])
def test_up_block_doubles_the_size(norm: bool) -> None:
    torch.manual_seed(2)
    block = UpBlock(4, 3, SLOPE, sn=False, norm=norm).double()
    if norm:  # non-trivial affine parameters
        for m in block.body:
            if isinstance(m, nn.InstanceNorm2d):
                nn.init.normal_(m.weight)
                nn.init.normal_(m.bias)
    x = _x()

    def inorm(t: torch.Tensor, m: nn.Module) -> torch.Tensor:
        return F.instance_norm(t, weight=m.weight, bias=m.bias, eps=m.eps) if norm else t

    layers = list(block.body)
    n1, conv = (layers[0], layers[2]) if norm else (None, layers[1])
    n2, up = (layers[3], layers[5]) if norm else (None, layers[3])

    def convt(t: torch.Tensor, m: nn.ConvTranspose2d) -> torch.Tensor:
        return F.conv_transpose2d(t, m.weight, m.bias, stride=2, padding=1, output_padding=1)

    hidden = inorm(_conv(_act(inorm(x, n1)), conv, 1), n2)
    want = convt(_act(hidden), up) + convt(x, block.shortcut)
    out = block(x)
    assert out.shape == (2, 3, 12, 16)
    torch.testing.assert_close(out, want)


def test_to_rgb_and_widths() -> None:
    torch.manual_seed(3)
    head = to_rgb(4, SLOPE, sn=False).double()
    x = _x()
    want = torch.tanh(_conv(F.pad(_act(x), (1, 1, 1, 1), mode="reflect"), head[2]))
    torch.testing.assert_close(head(x), want)
    assert pic_widths(32, 128, 5) == [32, 64, 128, 128, 128]
    assert pic_widths(8, 32, 4) == [8, 16, 32, 32]


def test_spectral_norm_is_optional_and_keeps_the_weight_name() -> None:
    plain = maybe_spectral_norm(nn.Conv2d(3, 4, 3), False)
    normed = maybe_spectral_norm(nn.Conv2d(3, 4, 3), True)
    assert not hasattr(plain, "parametrizations")
    assert "parametrizations.weight.original" in dict(normed.named_parameters())
    normed.eval()
    sigma = torch.linalg.matrix_norm(normed.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)  # W / sigma(W), power-iterated at init
    blocks = [ResBlock(4, 4, 4, SLOPE, sn=True), FirstBlock(3, 4, SLOPE, sn=True),
              UpBlock(4, 4, SLOPE, sn=True, norm=True)]
    convs = [m for b in blocks for m in b.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
