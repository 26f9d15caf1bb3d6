"""PartialConv2d: the paper's formula, hole invariance, borders, mask update."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inpaintkit.layers.partial_conv import PartialConv2d


def _reference(layer: PartialConv2d, x: torch.Tensor, valid: torch.Tensor):
    """The paper's formula window by window (unfold), independent of the layer's code."""
    c = x.shape[1]
    m = valid.expand(-1, c, -1, -1) if valid.shape[1] == 1 else valid
    kw = dict(
        kernel_size=layer.kernel_size,
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
    )
    cols = F.unfold(x * m, **kw)  # (B, C*k*k, L)
    counts = F.unfold(m, **kw).sum(1, keepdim=True)  # valid taps over all channels
    w = layer.weight.reshape(layer.out_channels, -1)
    out = torch.einsum("ok,bkl->bol", w, cols) * (cols.shape[1] / counts.clamp_min(1))
    if layer.bias is not None:
        out = out + layer.bias.view(1, -1, 1)
    out = torch.where(counts > 0, out, torch.zeros_like(out))
    h = (x.shape[2] + 2 * layer.padding[0] - layer.dilation[0] * (layer.kernel_size[0] - 1) - 1)
    h = h // layer.stride[0] + 1
    w_out = (x.shape[3] + 2 * layer.padding[1] - layer.dilation[1] * (layer.kernel_size[1] - 1) - 1)
    w_out = w_out // layer.stride[1] + 1
    new = (counts > 0).float().view(x.shape[0], 1, h, w_out)
    return out.view(x.shape[0], -1, h, w_out), new


def _random_valid(shape, seed: int, p: float = 0.4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) > p).float()


CASES = [
    # kernel, stride, dilation, multi_channel
    (3, 1, 1, False),
    (5, 2, 1, False),
    (7, 2, 1, True),
    (3, 1, 2, True),
    (3, 2, 1, True),
]


@pytest.mark.parametrize("kernel,stride,dilation,multi", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_paper_formula(kernel, stride, dilation, multi, seed):
    torch.manual_seed(seed)
    layer = PartialConv2d(4, 6, kernel, stride=stride, dilation=dilation, multi_channel=multi)
    x = torch.randn(2, 4, 13, 11)
    valid = _random_valid((2, 4 if multi else 1, 13, 11), seed, p=0.6)
    out, new = layer(x, valid)
    ref_out, ref_new = _reference(layer, x, valid)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    assert torch.equal(new[:, :1], ref_new)
    assert new.shape[1] == (6 if multi else 1)
    if multi:
        assert torch.equal(new, new[:, :1].expand_as(new))


@pytest.mark.parametrize("kernel,stride,dilation,multi", CASES)
def test_hole_pixels_do_not_matter(kernel, stride, dilation, multi):
    torch.manual_seed(0)
    layer = PartialConv2d(3, 5, kernel, stride=stride, dilation=dilation, multi_channel=multi)
    valid = _random_valid((2, 3 if multi else 1, 16, 16), 3)
    x1 = torch.randn(2, 3, 16, 16, requires_grad=True)
    noise = torch.randn(2, 3, 16, 16) * 100
    x2 = torch.where(valid > 0, x1.detach(), noise)
    out1, new1 = layer(x1, valid)
    out2, new2 = layer(x2, valid)
    assert torch.equal(out1, out2)
    assert torch.equal(new1, new2)
    out1.square().sum().backward()
    grad = x1.grad
    assert torch.isfinite(grad).all()
    assert (grad[(valid.expand_as(grad) == 0)] == 0).all()


def test_all_valid_equals_plain_conv_inside_and_rescales_border():
    torch.manual_seed(0)
    layer = PartialConv2d(3, 4, 3)  # padding 1
    x = torch.randn(2, 3, 9, 10)
    out, new = layer(x, torch.ones(2, 1, 9, 10))
    plain = F.conv2d(x, layer.weight, layer.bias, padding=1)
    # Interior: every tap inside the image, so the ratio is exactly 1.
    torch.testing.assert_close(out[..., 1:-1, 1:-1], plain[..., 1:-1, 1:-1])
    # Border: zero-padded taps count as holes (partial-convolution padding).
    no_bias = F.conv2d(x, layer.weight, None, padding=1)
    rows = torch.full((9,), 3.0)
    rows[0] = rows[-1] = 2.0
    cols = torch.full((10,), 3.0)
    cols[0] = cols[-1] = 2.0
    inside = rows[:, None] * cols[None, :]
    expected = no_bias * (9.0 / inside) + layer.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out[..., 0, 0], plain[..., 0, 0])
    assert torch.equal(new, torch.ones_like(new))


def test_no_padding_all_valid_equals_plain_conv_everywhere():
    torch.manual_seed(0)
    layer = PartialConv2d(3, 4, 5, stride=2, padding=0, multi_channel=True)
    x = torch.randn(1, 3, 15, 15)
    out, _ = layer(x, torch.ones(1, 3, 15, 15))
    torch.testing.assert_close(out, F.conv2d(x, layer.weight, layer.bias, stride=2))


def _hole_size(valid: torch.Tensor) -> tuple[int, int]:
    hole = valid[0, 0] == 0
    if not hole.any():
        return (0, 0)
    rows = hole.any(1).nonzero()
    cols = hole.any(0).nonzero()
    return (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))


@pytest.mark.parametrize("kernel,dilation,per_side", [(3, 1, 1), (5, 1, 2), (3, 2, 2), (7, 1, 3)])
def test_hole_shrinks_per_layer(kernel, dilation, per_side):
    layer = PartialConv2d(1, 1, kernel, dilation=dilation)
    valid = torch.ones(1, 1, 40, 40)
    valid[..., 10:25, 12:30] = 0  # a 15 x 18 hole
    x = torch.randn(1, 1, 40, 40)
    size = (15, 18)
    for _ in range(4):
        x, valid = layer(x, valid)
        expected = tuple(max(s - 2 * per_side, 0) for s in size)
        assert _hole_size(valid) == (expected if min(expected) > 0 else (0, 0))
        size = expected
        # Inside the remaining hole the output is exactly zero, bias included.
        assert (x[valid == 0] == 0).all()


def test_hole_eventually_filled_and_stride_halves_mask():
    layer = PartialConv2d(2, 2, 3, stride=2)
    valid = torch.ones(1, 1, 32, 32)
    valid[..., 8:24, 8:24] = 0
    out, new = layer(torch.randn(1, 2, 32, 32), valid)
    assert out.shape == (1, 2, 16, 16) and new.shape == (1, 1, 16, 16)
    assert _hole_size(new) == (7, 7)


def test_all_hole_gives_zeros_and_finite_grads():
    layer = PartialConv2d(3, 4, 3)
    x = torch.randn(1, 3, 8, 8, requires_grad=True)
    out, new = layer(x, torch.zeros(1, 1, 8, 8))
    assert (out == 0).all() and (new == 0).all()
    out.sum().backward()
    assert torch.isfinite(layer.weight.grad).all() and torch.isfinite(layer.bias.grad).all()


def test_multi_channel_counts_channels_separately():
    layer = PartialConv2d(2, 1, 1, bias=False, multi_channel=True)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    x = torch.tensor([[[[2.0]], [[4.0]]]])  # (1, 2, 1, 1)
    valid = torch.tensor([[[[1.0]], [[0.0]]]])  # second channel is a hole
    out, new = layer(x, valid)
    assert out.item() == pytest.approx(2.0 * 2 / 1)  # window 2, one valid tap
    assert new.item() == 1.0
    # A broadcast single-channel mask equals the expanded multi-channel one.
    v1 = _random_valid((1, 1, 6, 6), 5)
    xx = torch.randn(1, 2, 6, 6)
    layer3 = PartialConv2d(2, 3, 3, multi_channel=True)
    a, _ = layer3(xx, v1)
    b, _ = layer3(xx, v1.expand(-1, 2, -1, -1))
    torch.testing.assert_close(a, b)


def test_bad_mask_shape_raises():
    layer = PartialConv2d(3, 4, 3)
    with pytest.raises(ValueError):
        layer(torch.randn(1, 3, 8, 8), torch.ones(1, 3, 8, 8))
    with pytest.raises(ValueError):
        layer(torch.randn(1, 3, 8, 8), torch.ones(1, 1, 4, 4))


def test_default_padding_keeps_size():
    layer = PartialConv2d(3, 4, 5, dilation=2)
    out, new = layer(torch.randn(1, 3, 12, 12), torch.ones(1, 1, 12, 12))
    assert out.shape[-2:] == (12, 12) and new.shape[-2:] == (12, 12)


def test_autocast_keeps_exact_counts():
    torch.manual_seed(0)
    layer = PartialConv2d(300, 4, 3, multi_channel=True)  # window 2700 > 2048
    x = torch.randn(1, 300, 6, 6)
    valid = _random_valid((1, 300, 6, 6), 1)
    ref, ref_new = layer(x, valid)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, new = layer(x, valid)
    assert out.dtype == torch.bfloat16
    assert torch.equal(new.float(), ref_new)
    torch.testing.assert_close(out.float(), ref, atol=0.1, rtol=0.05)


def test_partial_conv_act_matches_a_plain_conv_on_the_interior_and_upsamples_the_mask() -> None:
    from inpaintkit.layers.partial_conv import PartialConvAct

    torch.manual_seed(0)
    layer = PartialConvAct(4, 6, 3, dilation=2)
    x = torch.randn(2, 4, 20, 20)
    ones = torch.ones(2, 1, 20, 20)
    y, valid = layer(x, ones)
    ref = F.elu(F.conv2d(x, layer.conv.weight, layer.conv.bias, padding=2, dilation=2))
    torch.testing.assert_close(y[..., 2:-2, 2:-2], ref[..., 2:-2, 2:-2], rtol=1e-5, atol=1e-5)
    assert torch.equal(valid, ones)

    up = PartialConvAct(4, 6, 3, upsample=True)
    hole = torch.ones(1, 1, 8, 8)
    hole[..., 2:6, 2:6] = 0.0  # a 4x4 hole; x2 nearest gives 8x8, a 3x3 window shrinks it to 6x6
    y, valid = up(torch.randn(1, 4, 8, 8), hole)
    assert y.shape == (1, 6, 16, 16) and valid.shape == (1, 1, 16, 16)
    assert valid.sum() == 16 * 16 - 6 * 6
