"""Feed-forward stylization network: Johnson et al. 2016 ("Perceptual Losses for Real-Time
Style Transfer and Super-Resolution") as modified by Ulyanov et al. 2016 ("Instance
Normalization: The Missing Ingredient for Fast Stylization").

For a feature map x (B,C,H,W), batch normalization and instance normalization differ only
in the set the statistics are taken over::

    BN:  y_bchw = g_c (x_bchw - mu_c) / sqrt(s2_c + eps) + b_c,
         mu_c  = mean over (b, h, w),   s2_c  = variance over (b, h, w)
    IN:  y_bchw = g_c (x_bchw - mu_bc) / sqrt(s2_bc + eps) + b_c,
         mu_bc = mean over (h, w),      s2_bc = variance over (h, w)

so IN removes each image's own contrast, and one output never depends on the other images
of the batch. The paper's point: use IN (with affine g, b) in the generator at training
*and* test time (per-image statistics at inference, no running averages). BN here keeps
running statistics and uses them in eval mode, as the Johnson et al. network did.

Layers (``w`` = the width multiplier, channels ``32w, 64w, 128w``; every conv is
reflection-padded, every conv but the last is followed by the norm and a ReLU)::

    (B,3,H,W) in [-1,1]
    conv 9x9, 32w              -> (B, 32w, H,   W)
    conv 3x3 stride 2, 64w     -> (B, 64w, H/2, W/2)
    conv 3x3 stride 2, 128w    -> (B,128w, H/4, W/4)
    n x residual block (conv 3x3, norm, ReLU, conv 3x3, norm; + input)
    nearest x2, conv 3x3, 64w  -> (B, 64w, H/2, W/2)   (resize-convolution, no checkerboard)
    nearest x2, conv 3x3, 32w  -> (B, 32w, H,   W)
    conv 9x9, 3, tanh          -> (B,3,H,W) in [-1,1]

Any H, W: the input is padded (reflection; replication for images under 16 px) to a
multiple of 4 and at least 16, and the output cropped back.

Stylizers are not inpainting generators: they live in their own registry
(``models.registry.STYLIZERS``) and checkpoints name them as ``"stylizer"``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.layers.norm import make_norm

STYLIZER_NORMS = ("instance", "batch")


@dataclass(frozen=True)
class StylizerConfig:
    width: float = 1.0  # channel multiplier of 32 / 64 / 128
    blocks: int = 5  # residual blocks
    norm: str = "instance"  # instance | batch

    def __post_init__(self) -> None:
        if self.norm not in STYLIZER_NORMS:
            raise ValueError(f"norm must be one of {', '.join(STYLIZER_NORMS)}, got '{self.norm}'")
        if not 0 < self.width <= 8:
            raise ValueError(f"width must be in (0, 8], got {self.width}")
        if not 0 <= self.blocks <= 64:
            raise ValueError(f"blocks must be in [0, 64], got {self.blocks}")


def _norm(kind: str, channels: int) -> nn.Module:
    # IN with affine and no running statistics: per-image statistics also at inference.
    options = {"affine": True} if kind == "instance" else {}
    return make_norm(kind, channels, **options)


class ConvNormReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, norm: str, act: bool = True) -> None:
        layers: list[nn.Module] = [nn.ReflectionPad2d(kernel // 2), nn.Conv2d(cin, cout, kernel, stride)]
        layers.append(_norm(norm, cout))
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvNormReLU(channels, channels, 3, 1, norm),
                                  ConvNormReLU(channels, channels, 3, 1, norm, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a conv: the IN paper's (and later Johnson code's) answer to
    the checkerboard of transposed convolutions."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__()
        self.conv = ConvNormReLU(cin, cout, 3, 1, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Stylizer(nn.Module):
    """The stylization generator; ``forward(image (B,3,H,W) in [-1,1]) -> (B,3,H,W) in [-1,1]``."""

    config_class: ClassVar[type] = StylizerConfig
    tiny: ClassVar[dict[str, Any]] = {"width": 0.25, "blocks": 1}
    # The training set-up asks every generator for the classical fill it takes; none here.
    coarse_input: ClassVar[None] = None
    multiple: ClassVar[int] = 4
    min_side: ClassVar[int] = 16

    def __init__(self, config: StylizerConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else StylizerConfig()
        if not dataclasses.is_dataclass(config):
            raise TypeError("Stylizer needs a StylizerConfig")
        self.config = config
        c1, c2, c3 = (max(1, round(c * config.width)) for c in (32, 64, 128))
        n = config.norm
        self.down = nn.Sequential(ConvNormReLU(3, c1, 9, 1, n), ConvNormReLU(c1, c2, 3, 2, n),
                                  ConvNormReLU(c2, c3, 3, 2, n))
        self.res = nn.Sequential(*(ResidualBlock(c3, n) for _ in range(config.blocks)))
        self.up = nn.Sequential(Upsample(c3, c2, n), Upsample(c2, c1, n))
        self.out = nn.Sequential(nn.ReflectionPad2d(4), nn.Conv2d(c1, 3, 9))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"Stylizer: expected (B,3,H,W), got {tuple(image.shape)}")
        h, w = image.shape[-2:]
        ph = max(self.min_side, -(-h // self.multiple) * self.multiple) - h
        pw = max(self.min_side, -(-w // self.multiple) * self.multiple) - w
        x = image
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        y = torch.tanh(self.out(self.up(self.res(self.down(x)))))
        return y[..., :h, :w]


__all__ = ["STYLIZER_NORMS", "Stylizer", "StylizerConfig"]
