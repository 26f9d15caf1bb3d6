"""Gated convolution (DeepFill v2).

Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019, eq. (1)-(2)::

    gating  = W_g * x
    feature = W_f * x
    y       = phi(feature) * sigmoid(gating)        phi = ELU by default

Shapes: x ``(B, in_ch, H, W)`` -> y ``(B, out_ch, ceil(H/stride), ceil(W/stride))``.

The feature and gating convolutions are stored as *one* ``Conv2d`` with ``2*out_ch``
outputs whose first half is the feature conv and second half the gating conv. That is
exactly the official implementation (``gen_conv`` convolves to ``cnum`` channels and
splits them in two), costs one convolution call instead of two and has the same
parameters as two separate convolutions. With ``spectral_norm=True`` the normalisation
applies to the stacked weight; the largest singular value of each half is bounded by that of
the whole, so both halves stay 1-Lipschitz (in the power-iteration sense).

Output layer: the official code returns a *plain* convolution (no split, no gate) when
``activation is None``. Here ``activation=None`` means phi = identity and the layer is
*still gated* unless ``gate=False`` is passed; the DeepFill v2 model passes ``gate=False``
for its RGB output layers to follow the official code. ``gate=False`` in general gives a
plain ``conv -> phi`` layer (used by the ``deepfill_v2_vanilla`` ablation).

:class:`GatedDeconv2d` is the official "deconv": nearest-neighbour x2 upsampling followed by
a 3x3 gated convolution (avoids the checkerboard artefacts of transposed convolutions).

Padding (``padding=``): ``"torch"`` (default) pads ``dilation*(k-1)/2`` zeros on every side;
``"tf"`` is TensorFlow's ``"SAME"``, computed from the input size at run time: a total of
``max((ceil(H/s) - 1)*s + d*(k-1) + 1 - H, 0)`` zeros, the odd one at the bottom / right. For
stride 1 both are the same; a stride-2 3x3 conv on an even size pads (0, 1) instead of
(1, 1), i.e. the sampling grid is shifted by one pixel. The official DeepFill v2 weights
(TensorFlow, and the PyTorch port's ``networks_tf.py``) need ``"tf"``.

Initialisation: weights ~ N(0, (gain / sqrt(fan_in))^2), biases 0, with ``gain`` chosen so
that a unit-second-moment input gives a unit-second-moment output (``INIT_GAIN``). With
PyTorch's default conv init every gated layer shrinks the signal by about 3x (phi
halves it, the sigmoid gate halves it again): measured in the 17-layer DeepFill refinement
branch, the per-position spread of the features fell from 0.12 to 0.0005, the output was
spatially constant and training only learned a colour offset. Under this init the
features keep their scale through any depth (tests/layers/test_gated_conv.py).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "elu": F.elu,
    "relu": F.relu,
    "lrelu": lambda t: F.leaky_relu(t, 0.2),
}


# gain such that E[(phi(f) * sigmoid(g))^2] = 1 for f, g ~ N(0, gain^2) (gated) or
# E[phi(f)^2] = 1 (plain), found numerically (2e6 samples); plain ReLU is Kaiming's sqrt(2).
INIT_GAIN: dict[tuple[str | None, bool], float] = {
    ("elu", True): 2.241, ("elu", False): 1.277,
    ("relu", True): 2.347, ("relu", False): 1.413,
    ("lrelu", True): 2.306, ("lrelu", False): 1.386,
    (None, True): 1.727, (None, False): 1.0,
}


PADDINGS = ("torch", "tf")


def tf_same_padding(size: tuple[int, int] | torch.Size, kernel: int, stride: int, dilation: int = 1
                    ) -> tuple[int, int, int, int]:
    """TensorFlow "SAME" zero padding of an ``(H, W)`` input as ``F.pad``'s
    ``(left, right, top, bottom)``: the extra zero of an odd total goes right / bottom."""
    pads = []
    for n in (int(size[1]), int(size[0])):
        total = max((-(-n // stride) - 1) * stride + dilation * (kernel - 1) + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads[0], pads[1], pads[2], pads[3]


def same_padding(kernel: int, dilation: int = 1) -> int:
    """Zero padding that keeps H, W (stride 1) or gives ceil(H/stride) for an odd kernel."""
    if kernel % 2 != 1:
        raise ValueError(f"'same' padding needs an odd kernel size, got {kernel}")
    return dilation * (kernel - 1) // 2


class GatedConv2d(nn.Module):
    """``phi(W_f * x) * sigmoid(W_g * x)`` with "same" zero padding for any dilation.

    Args:
        in_ch, out_ch: input channels; output channels *after* gating (the underlying conv
            has ``2*out_ch`` outputs when gated).
        kernel, stride, dilation: as for ``nn.Conv2d`` (kernel must be odd).
        activation: ``"elu"`` (default), ``"relu"``, ``"lrelu"`` or ``None`` (identity).
        gate: ``False`` drops the gating branch: ``y = phi(W_f * x)``.
        spectral_norm: wrap the convolution in spectral normalisation.
        keep_gate: keep the last gating map (``(B, out_ch, H', W')``, values in (0, 1),
            detached) in ``self.last_gate`` for visualisation.
        padding: ``"torch"`` (symmetric) or ``"tf"`` (TensorFlow "SAME"; module docstring).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        activation: str | None = "elu",
        spectral_norm: bool = False,
        gate: bool = True,
        keep_gate: bool = False,
        padding: str = "torch",
    ) -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"unknown padding '{padding}' (known: {', '.join(PADDINGS)})")
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation '{activation}' (known: {', '.join(ACTIVATIONS)}, None)"
            )
        self.out_ch = out_ch
        self.gated = gate
        self.activation = activation
        self.keep_gate = keep_gate
        self.last_gate: torch.Tensor | None = None
        self.tf_padding = padding == "tf"
        conv = nn.Conv2d(
            in_ch,
            2 * out_ch if gate else out_ch,
            kernel,
            stride=stride,
            padding=0 if self.tf_padding else same_padding(kernel, dilation),
            dilation=dilation,
        )
        fan_in = in_ch * kernel * kernel
        nn.init.normal_(conv.weight, 0.0, INIT_GAIN[activation, gate] / fan_in**0.5)
        nn.init.zeros_(conv.bias)
        self.conv = _spectral_norm(conv) if spectral_norm else conv
        self._phi = ACTIVATIONS[activation] if activation is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_padding:
            x = F.pad(x, tf_same_padding(x.shape[-2:], self.conv.kernel_size[0], self.conv.stride[0],
                                         self.conv.dilation[0]))
        y = self.conv(x)  # (B, 2*out_ch or out_ch, H', W')
        if self.gated:
            y, g = y.split(self.out_ch, dim=1)  # views, no copy
            g = torch.sigmoid(g)
            if self.keep_gate:
                self.last_gate = g.detach()
        if self._phi is not None:
            y = self._phi(y)
        return y * g if self.gated else y

    def extra_repr(self) -> str:
        return f"gated={self.gated}, activation={self.activation}" + (", padding=tf" if self.tf_padding else "")


class GatedDeconv2d(nn.Module):
    """Nearest-neighbour x2 upsampling, then a 3x3 :class:`GatedConv2d` (stride 1).

    ``(B, in_ch, H, W) -> (B, out_ch, 2H, 2W)``. Keyword arguments go to the gated conv.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, **kwargs: object) -> None:
        super().__init__()
        self.conv = GatedConv2d(in_ch, out_ch, kernel, stride=1, **kwargs)  # type: ignore[arg-type]

    @property
    def last_gate(self) -> torch.Tensor | None:
        return self.conv.last_gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
