"""Partial convolution (Liu et al., ECCV 2018, "Image Inpainting for Irregular Holes Using
Partial Convolutions"), with the border handling of Liu et al. 2018b ("Partial
Convolution based Padding").

For the window of each output pixel, with X the input features in the window and M the
**valid** mask in the window (1 = known, 0 = hole)::

    x' = W^T (X * M) * sum(1) / sum(M) + b     if sum(M) > 0
    x' = 0                                     otherwise
    m' = 1 if sum(M) > 0 else 0

``sum(1)`` is the window size: ``kh*kw`` for a single-channel mask, ``C_in*kh*kw`` for a
multi-channel one. The bias is added after the rescale, as in the paper.

Mask convention. The rest of inpaintkit uses 1 = hole; this layer takes the **valid**
mask (1 = known), because that is the quantity the formula multiplies by and counts, and
because the layers are chained (``m'`` feeds the next layer). Models convert once at
their boundary (``valid = 1 - hole``) and never pass a hole mask to this layer.

Borders. Zero padding pads the mask with zeros too, so padded pixels count as holes and
the windows that hang over the border are rescaled by ``sum(1)/sum(M)`` like any partly
valid window ("partial convolution based padding"). Consequently, with an all-ones mask
the layer equals a plain zero-padded convolution with the same weights on the interior
(windows fully inside the image), while on the border it equals
``(conv_nobias(X) * window / n_inside) + b``, where ``n_inside`` is the number of window
taps that fall inside the image. No output pixel of a layer with padding < kernel is
ever a hole because of the border alone.

Shapes: ``x`` (B, C_in, H, W); mask (B, 1, H, W), or (B, C_in, H, W) with
``multi_channel=True`` (a (B, 1, H, W) mask is broadcast). Returns
``(out (B, C_out, H', W'), new_mask)`` where ``new_mask`` is (B, 1, H', W') for a
single-channel layer and an expanded (B, C_out, H', W') view for a multi-channel one (all
channels equal: every output channel sees every input channel).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Shared with gated_conv so that the DeepFill ablation arms use one activation/init table.
from inpaintkit.layers.gated_conv import ACTIVATIONS, INIT_GAIN, same_padding

_Pair = int | tuple[int, int]


def _pair(v: _Pair) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class PartialConv2d(nn.Conv2d):
    """Partial convolution; see the module docstring. Takes the VALID mask (1 = known).

    Args:
        in_ch, out_ch, kernel, stride, dilation, bias: as :class:`torch.nn.Conv2d`.
        padding: zero padding; ``None`` gives "same" padding ``dilation*(kernel-1)//2``.
        multi_channel: the mask has one channel per input channel (needed when features
            with different holes are concatenated, e.g. U-Net skips).

    Subclasses :class:`torch.nn.Conv2d` so that initialisation, spectral norm, state dicts
    and FLOP hooks treat it like any convolution.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: _Pair,
        stride: _Pair = 1,
        padding: _Pair | None = None,
        dilation: _Pair = 1,
        bias: bool = True,
        multi_channel: bool = False,
    ) -> None:
        k = _pair(kernel)
        d = _pair(dilation)
        if padding is None:
            padding = (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2)
        super().__init__(
            in_ch, out_ch, k, stride=stride, padding=padding, dilation=d, bias=bias
        )
        self.multi_channel = multi_channel
        self.window_size = (in_ch if multi_channel else 1) * k[0] * k[1]
        # The count of valid taps only depends on the channel-summed mask, so a single
        # 1->1 all-ones kernel suffices (the official code convolves C_out x C_in ones,
        # which costs as much as the convolution itself).
        self.register_buffer("_ones", torch.ones(1, 1, *k), persistent=False)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", multi_channel={self.multi_channel}"

    def _check_mask(self, x: torch.Tensor, mask: torch.Tensor) -> None:
        if mask.ndim != 4 or mask.shape[0] not in (1, x.shape[0]) or mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(
                f"PartialConv2d: mask {tuple(mask.shape)} does not match input {tuple(x.shape)}"
            )
        allowed = (1, self.in_channels) if self.multi_channel else (1,)
        if mask.shape[1] not in allowed:
            raise ValueError(
                f"PartialConv2d: mask has {mask.shape[1]} channels, expected one of {allowed} "
                f"(multi_channel={self.multi_channel})"
            )

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C_in, H, W); mask: VALID mask (1 = known), see the class docstring."""
        self._check_mask(x, mask)
        # Counts in float32 with autocast off: in float16 integers above 2048 are inexact.
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            m32 = mask.float()
            per_pixel = m32 if m32.shape[1] == 1 else m32.sum(1, keepdim=True)
            if self.multi_channel and m32.shape[1] == 1:
                # A broadcast single-channel mask stands for C_in identical channels.
                per_pixel = per_pixel * self.in_channels
            ones = self._ones.float()
            count = F.conv2d(per_pixel, ones, None, self.stride, self.padding, self.dilation)
            valid32 = (count > 0.5).float()
            ratio32 = self.window_size / count.clamp_min(1.0) * valid32
        raw = F.conv2d(
            x * mask.to(x.dtype), self.weight, None, self.stride, self.padding, self.dilation
        )
        valid = valid32.to(raw.dtype)
        out = raw * ratio32.to(raw.dtype)
        if self.bias is not None:
            out = out + self.bias.to(raw.dtype).view(1, -1, 1, 1) * valid
        if self.multi_channel:
            valid = valid.expand(-1, self.out_channels, -1, -1)
        return out, valid


class PartialConvAct(nn.Module):
    """``phi(PartialConv2d(x, valid))`` with "same" padding, carrying the single-channel
    valid mask: the partial-convolution counterpart of a gated or plain conv layer
    (DeepFill v2's partial-convolution ablation, where all channels share one mask).

    ``upsample=True`` first doubles ``x`` and the mask (nearest), as DeepFill's "deconv".
    Initialised like :class:`~inpaintkit.layers.gated_conv.GatedConv2d` with ``gate=False``
    (N(0, (gain/sqrt(fan_in))^2), gain from ``INIT_GAIN``) so that the ablation arms start
    from the same signal scale. ``(x (B,C,H,W), valid (B,1,H,W)) -> (y, valid')``.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        activation: str | None = "elu",
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.conv = PartialConv2d(
            in_ch, out_ch, kernel, stride=stride, dilation=dilation,
            padding=same_padding(kernel, dilation),
        )
        nn.init.normal_(self.conv.weight, 0.0, INIT_GAIN[activation, False] / (in_ch * kernel * kernel) ** 0.5)
        nn.init.zeros_(self.conv.bias)
        self.activation = activation
        self.upsample = upsample
        self._phi = ACTIVATIONS[activation] if activation is not None else None

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            valid = F.interpolate(valid, scale_factor=2.0, mode="nearest")
        y, valid = self.conv(x, valid)
        return (self._phi(y) if self._phi is not None else y), valid

    def extra_repr(self) -> str:
        return f"activation={self.activation}, upsample={self.upsample}"
