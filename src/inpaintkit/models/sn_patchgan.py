"""SN-PatchGAN discriminator (DeepFill v2).

Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019, sec. 3.2:
six 5x5 convolutions with stride 2, each spectrally normalised (Miyato et al., ICLR 2018)
and followed by leaky ReLU (slope 0.2), widths ``cnum * (1, 2, 4, 4, 4, 4)``::

    D(x) = LReLU(SN(conv6)( ... LReLU(SN(conv1)([image, mask, sketch])) ... ))

Input: image ``(B, 3, H, W)`` in [-1, 1], mask ``(B, 1, H, W)`` (1 = hole) and optionally
a sketch ``(B, in_extra, H, W)``. Output: a map of patch scores
``(B, 4*cnum, ceil(H/64), ceil(W/64))``, every element a GAN score for the receptive field
it sees; the official code flattens it and applies the hinge loss to every element
(flattening is the loss's job here). As in the official code the last layer also has the
leaky ReLU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass(frozen=True)
class SNPatchGANConfig:
    """cnum: base width (64 official); in_extra: extra input channels (sketch)."""

    cnum: int = 64
    in_extra: int = 0

    def __post_init__(self) -> None:
        if self.cnum < 1 or self.in_extra < 0:
            raise ValueError(f"SNPatchGANConfig: bad cnum/in_extra {self.cnum}/{self.in_extra}")


class SNPatchGAN(nn.Module):
    """Spectral-normalised PatchGAN discriminator (see the module docstring)."""

    config_class: ClassVar[type] = SNPatchGANConfig
    tiny: ClassVar[dict[str, object]] = {"cnum": 8}  # widths 8-16-32-32-32-32

    def __init__(self, config: SNPatchGANConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.cnum * m for m in (1, 2, 4, 4, 4, 4)]
        layers: list[nn.Module] = []
        in_ch = 4 + config.in_extra  # image + mask (+ sketch)
        for out_ch in widths:
            layers += [
                spectral_norm(nn.Conv2d(in_ch, out_ch, 5, stride=2, padding=2)),
                nn.LeakyReLU(0.2),
            ]
            in_ch = out_ch
        self.body = nn.Sequential(*layers)

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, sketch: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(B,3,H,W), (B,1,H,W)[, (B,e,H,W)] -> patch scores (B, 4*cnum, H/64, W/64)."""
        parts = [image, mask.to(image.dtype)]
        if self.config.in_extra:
            if sketch is None or sketch.shape[1] != self.config.in_extra:
                raise ValueError(
                    f"SNPatchGAN: expected a sketch with {self.config.in_extra} channel(s)"
                )
            parts.append(sketch)
        elif sketch is not None:
            raise ValueError("SNPatchGAN: got a sketch but in_extra=0")
        return self.body(torch.cat(parts, dim=1))
