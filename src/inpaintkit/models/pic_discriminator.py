"""PIC-Net's discriminator (the official ResDiscriminator) and sample ranking.

Zheng, Cham, Cai, "Pluralistic Image Completion", CVPR 2019; official code
lyndonzheng/Pluralistic-Inpainting (model/network.py). (B,3,H,W) -> patch scores
(B,1,H/2^L - 2,W/2^L - 2), no sigmoid (LSGAN). Built from the same residual blocks as the
generator (:mod:`inpaintkit.layers.pic_blocks`).

Compatibility: ``spectral_norm_style="official"`` (imported official weights) uses the
official ``SpectralNorm`` arithmetic (:class:`~inpaintkit.layers.pic_blocks.OfficialSpectralNorm`,
one power-iteration step from the stored vectors per forward); the default "torch" keeps
torch's parametrization. ``down_pool="each"`` pools each branch of a down block before the
sum, as the official blocks do (the default pools the sum: equal up to ~1e-7).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.conventions import composite
from inpaintkit.layers.pic_blocks import FirstBlock, ResBlock, maybe_spectral_norm, pic_widths
from inpaintkit.layers.short_long_attention import ShortLongAttention


@dataclass(frozen=True)
class PICDiscriminatorConfig:
    in_channels: int = 3
    ndf: int = 32  # official 32
    img_f: int = 128  # official 128
    layers: int = 5  # official 5: output (H/32 - 2) x (W/32 - 2)
    use_attention: bool = True  # short-term attention before down block 3 (needs layers >= 4)
    attention_reduction: int = 4
    spectral_norm: bool = True
    negative_slope: float = 0.1
    spectral_norm_style: str = "torch"  # "torch" | "official" (imported official weights)
    down_pool: str = "sum"  # "sum" | "each": pool a down block's sum, or each branch (official)

    def __post_init__(self) -> None:
        if self.ndf < 1 or self.img_f < self.ndf or self.layers < 1 or self.in_channels < 1:
            raise ValueError(f"PICDiscriminatorConfig: bad sizes {self}")
        if self.spectral_norm_style not in ("torch", "official"):
            raise ValueError(f"PICDiscriminatorConfig: spectral_norm_style must be 'torch' or "
                             f"'official', got {self.spectral_norm_style!r}")
        if self.down_pool not in ("sum", "each"):
            raise ValueError(f"PICDiscriminatorConfig: down_pool must be 'sum' or 'each', got {self.down_pool!r}")


class PICDiscriminator(nn.Module):
    """The official ResDiscriminator: residual down blocks, self-attention, 3x3 valid conv.

    (B,in_channels,H,W) -> scores (B,1,H/2^L - 2,W/2^L - 2) (no sigmoid). The training
    objective builds two: one for the generative path, one for the reconstructive path.
    """

    config_class = PICDiscriminatorConfig
    tiny = {"ndf": 8, "img_f": 32, "layers": 4}

    def __init__(self, config: PICDiscriminatorConfig | None = None) -> None:
        super().__init__()
        cfg = self.config = PICDiscriminatorConfig() if config is None else config
        s = cfg.negative_slope
        sn = "official" if cfg.spectral_norm and cfg.spectral_norm_style == "official" else cfg.spectral_norm
        w = pic_widths(cfg.ndf, cfg.img_f, cfg.layers)
        self.first = FirstBlock(cfg.in_channels, w[0], s, sn)
        self.blocks = nn.ModuleList(ResBlock(w[i - 1], w[i], w[i - 1], s, sn, down=True,
                                             pool_each=cfg.down_pool == "each")
                                    for i in range(1, cfg.layers))
        self.attention = (
            ShortLongAttention(w[2], reduction=cfg.attention_reduction, long_term=False)
            if cfg.use_attention and cfg.layers >= 4 else None
        )
        self.last = ResBlock(w[-1], w[-1], w[-1], s, sn)
        self.act = nn.LeakyReLU(s)
        self.score = maybe_spectral_norm(nn.Conv2d(w[-1], 1, 3), sn)

    @property
    def min_size(self) -> int:
        return 3 * 2**self.config.layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(f"PICDiscriminator: input {tuple(x.shape)} is smaller than "
                             f"{self.min_size} (3 * 2^layers)")
        out = self.first(x)
        for i, block in enumerate(self.blocks, start=1):
            if i == 3 and self.attention is not None:
                out, _ = self.attention(out)
            out = block(out)
        return self.score(self.act(self.last(out)))


def sample_scores(samples: torch.Tensor, discriminator: nn.Module, mask: torch.Tensor,
                  image: torch.Tensor | None = None) -> torch.Tensor:
    """The discriminator's score of each of k completions per image, (B,k) float.

    samples (B,k,3,H,W); mask (B,1,H,W), 1 = hole; image (B,3,H,W) optional: when given,
    samples are composited onto it first (as the official test does before scoring).
    The score of a sample is the mean of the discriminator's patch scores weighted by how
    much of each patch's cell is hole, so the known region (the same in every sample) does
    not dilute it. Higher is more real (LSGAN: real -> 1, fake -> 0).
    """
    b, k = samples.shape[:2]
    flat = samples.flatten(0, 1)
    hole = (mask > 0.5).to(flat.dtype).repeat_interleave(k, dim=0)
    if image is not None:
        flat = composite(flat, image.repeat_interleave(k, dim=0), hole)
    with torch.no_grad():
        scores = discriminator(flat)
    weight = F.adaptive_avg_pool2d(hole, scores.shape[-2:]) + 1e-6
    score = (scores.mean(dim=1, keepdim=True) * weight).sum(dim=(1, 2, 3)) / weight.sum(
        dim=(1, 2, 3))
    return score.view(b, k)


def rank_samples(samples: torch.Tensor, discriminator: nn.Module, mask: torch.Tensor,
                 image: torch.Tensor | None = None) -> torch.Tensor:
    """Order k completions per image by :func:`sample_scores`, best first: (B,k) long
    indices, ``samples[b, order[b, 0]]`` scores highest (the PIC paper's selection)."""
    return sample_scores(samples, discriminator, mask, image).argsort(dim=1, descending=True)
