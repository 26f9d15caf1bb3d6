"""GatedConv2d / GatedDeconv2d: formula, gating range, padding, spectral norm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inpaintkit.layers.gated_conv import GatedConv2d, GatedDeconv2d


def _weight(layer: GatedConv2d) -> torch.Tensor:
    return layer.conv.weight  # the (possibly spectrally normalised) effective weight


def test_output_is_elu_feature_times_sigmoid_gate() -> None:
    torch.manual_seed(0)
    layer = GatedConv2d(5, 7, 3, keep_gate=True)
    x = torch.randn(2, 5, 12, 10)
    raw = F.conv2d(x, layer.conv.weight, layer.conv.bias, padding=1)
    feature, gate = raw[:, :7], raw[:, 7:]
    expected = F.elu(feature) * torch.sigmoid(gate)
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.last_gate, torch.sigmoid(gate))


def test_gate_values_lie_strictly_between_zero_and_one() -> None:
    torch.manual_seed(1)
    layer = GatedConv2d(4, 6, 3, keep_gate=True)
    y = layer(torch.randn(3, 4, 16, 16))
    gate = layer.last_gate
    assert gate is not None and gate.shape == y.shape
    assert not gate.requires_grad
    assert (gate > 0).all() and (gate < 1).all()
    # The gate really modulates: it is not constant.
    assert gate.std() > 0.01


def test_last_gate_not_kept_by_default() -> None:
    layer = GatedConv2d(3, 4, 3)
    layer(torch.randn(1, 3, 8, 8))
    assert layer.last_gate is None


@pytest.mark.parametrize("dilation", [1, 2, 4, 8, 16])
@pytest.mark.parametrize("kernel", [3, 5])
def test_same_padding_for_any_dilation(kernel: int, dilation: int) -> None:
    layer = GatedConv2d(2, 3, kernel, dilation=dilation)
    assert layer(torch.randn(1, 2, 20, 13)).shape == (1, 3, 20, 13)


def test_same_padding_is_centred() -> None:
    """An impulse through a dilated conv lands where the kernel centre puts it."""
    layer = GatedConv2d(1, 1, 3, dilation=4, activation=None, gate=False)
    with torch.no_grad():
        layer.conv.weight.zero_()
        layer.conv.weight[0, 0, 1, 1] = 1.0  # centre tap only
        layer.conv.bias.zero_()
    x = torch.zeros(1, 1, 17, 17)
    x[0, 0, 5, 9] = 1.0
    torch.testing.assert_close(layer(x), x)


@pytest.mark.parametrize(("size", "expected"), [(16, 8), (15, 8), (72, 36)])
def test_stride_two_halves_size(size: int, expected: int) -> None:
    layer = GatedConv2d(3, 4, 3, stride=2)
    assert layer(torch.randn(1, 3, size, size)).shape[-2:] == (expected, expected)


def test_activation_none_is_gated_identity() -> None:
    torch.manual_seed(2)
    layer = GatedConv2d(3, 2, 3, activation=None)
    x = torch.randn(1, 3, 8, 8)
    raw = F.conv2d(x, layer.conv.weight, layer.conv.bias, padding=1)
    torch.testing.assert_close(layer(x), raw[:, :2] * torch.sigmoid(raw[:, 2:]))
    # ELU would clip negatives at -1; identity features may go below.
    with torch.no_grad():
        layer.conv.bias[:2] = -5.0
        layer.conv.bias[2:] = 10.0
    assert layer(x).min() < -1.5


def test_ungated_is_plain_conv_with_half_the_parameters() -> None:
    torch.manual_seed(3)
    gated = GatedConv2d(4, 8, 3)
    plain = GatedConv2d(4, 8, 3, gate=False, keep_gate=True)
    n_gated = sum(p.numel() for p in gated.parameters())
    n_plain = sum(p.numel() for p in plain.parameters())
    assert n_gated == 2 * n_plain == 2 * (4 * 9 * 8 + 8)
    x = torch.randn(1, 4, 8, 8)
    torch.testing.assert_close(plain(x), F.elu(F.conv2d(x, _weight(plain), plain.conv.bias,
                                                         padding=1)))
    assert plain.last_gate is None


def test_relu_activation() -> None:
    layer = GatedConv2d(3, 4, 3, activation="relu")
    assert (layer(torch.randn(2, 3, 8, 8)) >= 0).all()


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="activation"):
        GatedConv2d(3, 4, 3, activation="swishy")
    with pytest.raises(ValueError, match="odd"):
        GatedConv2d(3, 4, 4)


def test_gradients_reach_feature_and_gate_halves() -> None:
    torch.manual_seed(4)
    layer = GatedConv2d(3, 4, 3)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    layer(x).square().sum().backward()
    grad = layer.conv.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    assert grad[:4].abs().sum() > 0 and grad[4:].abs().sum() > 0
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_spectral_norm_bounds_largest_singular_value() -> None:
    torch.manual_seed(5)
    layer = GatedConv2d(8, 16, 3, spectral_norm=True)
    with torch.no_grad():  # make the unnormalised weight large
        layer.conv.parametrizations.weight.original.mul_(25.0)
    original = layer.conv.parametrizations.weight.original
    assert torch.linalg.matrix_norm(original.flatten(1), ord=2) > 5
    layer.train()
    x = torch.randn(2, 8, 8, 8)
    for _ in range(30):  # each training forward runs one power iteration
        layer(x)
    weight = _weight(layer).detach()
    sigma = float(torch.linalg.matrix_norm(weight.flatten(1), ord=2))
    assert sigma == pytest.approx(1.0, abs=0.02)
    # Both halves (feature and gate convs) are bounded by the whole.
    for half in weight.split(16, dim=0):
        assert torch.linalg.matrix_norm(half.flatten(1), ord=2) <= 1.0 + 0.02


def test_deconv_is_nearest_upsample_then_gated_conv() -> None:
    torch.manual_seed(6)
    layer = GatedDeconv2d(4, 3, keep_gate=True)
    x = torch.randn(2, 4, 5, 7)
    y = layer(x)
    assert y.shape == (2, 3, 10, 14)
    up = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(y, layer.conv(up))
    assert layer.last_gate is not None and layer.last_gate.shape == y.shape


@pytest.mark.parametrize("activation", ["elu", "relu", "lrelu", None])
@pytest.mark.parametrize("gate", [True, False])
def test_init_keeps_the_signal_scale_through_depth(activation, gate) -> None:
    # With PyTorch's default conv init a stack of gated layers shrinks the features ~3x per
    # layer, so a deep refinement branch outputs a spatially constant map; see INIT_GAIN.
    torch.manual_seed(0)
    layers = torch.nn.Sequential(*(GatedConv2d(32, 32, 3, activation=activation, gate=gate) for _ in range(12)))
    x = torch.randn(2, 32, 32, 32)
    with torch.no_grad():
        y = layers(x)
    rms = float(y.square().mean().sqrt())
    spread = float(y.std(dim=(2, 3)).mean())
    assert 0.3 < rms < 3.0, rms
    assert spread > 0.1, spread  # positions still differ: the signal did not collapse
