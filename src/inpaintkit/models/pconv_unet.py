"""Partial-convolution U-Net (Liu et al., ECCV 2018, "Image Inpainting for Irregular
Holes Using Partial Convolutions"), Table/Section 3.3 of the paper.

Every convolution is a :class:`~inpaintkit.layers.partial_conv.PartialConv2d` with a
multi-channel valid mask (1 = known); the library's hole mask (1 = hole) is converted once,
at the input (``valid = 1 - hole``). With L = ``layers`` (8 in the paper, 512x512 input)
and C_i = min(channels * 2**(i-1), max_channels) (64, 128, 256, 512, 512, ...)::

    h_0, m_0 = masked image (3), valid mask (3)
    encoder i = 1..L:  h_i, m_i = PConv_k(i)/2(h_{i-1}, m_{i-1}) -> BN (not i=1) -> ReLU
                       k = 7, 5, 5, 3, 3, ...                      (C_i, H/2^i, W/2^i)
    decoder i = L..1:  h, m = PConv3x3([up(h); h_{i-1}], [up(m); m_{i-1}])
                       -> BN + LeakyReLU(0.2) (not i=1)          (C_{i-1}, H/2^(i-1), ...)
    output = tanh(h)   (3, H, W) in [-1, 1]

``up`` is nearest-neighbour x2 for both features and masks; skips concatenate features
and their masks (hence the multi-channel masks: a skip's channels may see a larger hole
than the up-sampled channels). H and W must be divisible by ``multiple = 2**layers``. With
the defaults the model has 32.9M parameters, as the paper's.

Deviations: the paper's last layer is linear; we add ``tanh`` so that the output lies in
[-1, 1] as the library's protocol requires. The paper fine-tunes with the encoder's batch
norms frozen (learning rate 5e-5): set ``model.freeze_encoder_bn = True`` and ``train()``
keeps those layers in eval mode (their affine parameters still train unless the optimizer
excludes them, as the reference implementations also do).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.conventions import masked_input
from inpaintkit.layers.partial_conv import PartialConv2d
from inpaintkit.models.base import InpaintModel


@dataclass(frozen=True)
class PConvUNetConfig:
    layers: int = 8  # encoder depth L; H, W must be divisible by 2**L
    channels: int = 64  # width of the first encoder layer, doubled per level ...
    max_channels: int = 512  # ... up to this

    def __post_init__(self) -> None:
        if self.layers < 1 or self.channels < 1 or self.max_channels < self.channels:
            raise ValueError(
                "PConvUNetConfig: need layers >= 1 and 1 <= channels <= max_channels"
            )

    def width(self, level: int) -> int:
        """Channels of encoder level ``level`` (0 = the RGB input)."""
        if level == 0:
            return 3
        return min(self.channels * 2 ** (level - 1), self.max_channels)


def _kernel(level: int) -> int:
    return 7 if level == 1 else 5 if level in (2, 3) else 3


class _PConvBlock(nn.Module):
    """PConv -> optional BN -> optional activation; carries the single-channel mask."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, stride: int, bn: bool, act: nn.Module | None
    ) -> None:
        super().__init__()
        self.conv = PartialConv2d(in_ch, out_ch, kernel, stride=stride, multi_channel=True)
        self.bn = nn.BatchNorm2d(out_ch) if bn else None
        self.act = act

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, new_valid = self.conv(x, valid)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        # All channels of the updated mask are equal: keep one, expand where concatenated.
        return x, new_valid[:, :1]


class PConvUNet(InpaintModel):
    """Partial-convolution U-Net; see the module docstring.

    ``forward(image, mask) -> (B,3,H,W)`` in [-1, 1]; mask is the library's hole mask.
    """

    config_class = PConvUNetConfig
    tiny: ClassVar[dict[str, Any]] = {"layers": 4, "channels": 16, "max_channels": 32}

    def __init__(self, config: PConvUNetConfig) -> None:
        super().__init__(config)
        self.freeze_encoder_bn = False
        n = config.layers
        self.encoder = nn.ModuleList(
            _PConvBlock(
                config.width(i - 1),
                config.width(i),
                _kernel(i),
                stride=2,
                bn=i > 1,
                act=nn.ReLU(inplace=True),
            )
            for i in range(1, n + 1)
        )
        # decoder[j] handles level i = n - j (deepest first).
        self.decoder = nn.ModuleList(
            _PConvBlock(
                config.width(i) + config.width(i - 1),
                config.width(i - 1),
                3,
                stride=1,
                bn=i > 1,
                act=nn.LeakyReLU(0.2, inplace=True) if i > 1 else None,
            )
            for i in range(n, 0, -1)
        )

    @property
    def multiple(self) -> int:
        return 2**self.config.layers

    def train(self, mode: bool = True) -> PConvUNet:
        super().train(mode)
        if mode and self.freeze_encoder_bn:
            for block in self.encoder:
                if block.bn is not None:
                    block.bn.eval()
        return self

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != 3 or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"PConvUNet: expected image (B,3,H,W) and mask (B,1,H,W), got "
                f"{tuple(image.shape)} and {tuple(mask.shape)}"
            )
        h, w = image.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(
                f"PConvUNet: H and W must be divisible by {self.multiple} "
                f"(2**layers), got {h}x{w}"
            )
        # The boundary where the library's hole mask becomes partial conv's valid mask.
        valid = (mask <= 0.5).to(image.dtype)
        x = masked_input(image, 1.0 - valid)
        feats, masks = [x], [valid]
        for block in self.encoder:
            x, valid = block(x, valid)
            feats.append(x)
            masks.append(valid)
        x, valid = feats.pop(), masks.pop()
        for block in self.decoder:
            skip, skip_valid = feats.pop(), masks.pop()
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            valid = F.interpolate(valid, scale_factor=2.0, mode="nearest")
            both = torch.cat(
                [
                    valid.expand(-1, x.shape[1], -1, -1),
                    skip_valid.expand(skip.shape[0], skip.shape[1], -1, -1),
                ],
                dim=1,
            )
            x, valid = block(torch.cat([x, skip], dim=1), both)
        return torch.tanh(x)

    def inpaint(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        coarse: torch.Tensor | None = None,
        sketch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The completed image in [-1, 1], not composited (deterministic: no sampling)."""
        self.check_extra_inputs(image, coarse, sketch)
        return self.forward(image, mask)
