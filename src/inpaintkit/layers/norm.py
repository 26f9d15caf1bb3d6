"""Normalization factory with one signature for every kind: ``forward(x, mask)``.

``make_norm(kind, channels, **options)`` returns a module taking ``x`` (B,C,H,W) and a
hole mask (B,1,h,w) (1 = hole; ``None`` is accepted by every kind except ``rn_b``), so a
model can swap its normalization with a config string:

========== ========================================================================
kind       module
========== ========================================================================
none       identity
batch      ``BatchNorm2d(C)`` (affine, running statistics)
instance   ``InstanceNorm2d(C)``, no affine, no running statistics (as EdgeConnect)
rn_b       :class:`~inpaintkit.layers.region_norm.RegionNormB` (hole / known regions)
rn_l       :class:`~inpaintkit.layers.region_norm.RegionNormL` (learned regions)
========== ========================================================================

``options`` go to the underlying constructor (e.g. ``affine=True`` for instance,
``mode="batch"`` for rn_b/rn_l, ``threshold=0.9`` for rn_l).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from inpaintkit.layers.region_norm import RegionNormB, RegionNormL

NORM_KINDS = ("none", "batch", "instance", "rn_b", "rn_l")


class MaskAgnosticNorm(nn.Module):
    """Wraps a plain ``norm(x)`` module so it takes (and ignores) the mask."""

    def __init__(self, norm: nn.Module) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.norm(x)


def make_norm(kind: str, channels: int, **options: Any) -> nn.Module:
    """A normalization module of ``kind`` (see :data:`NORM_KINDS`) for ``channels``."""
    if kind == "none":
        return MaskAgnosticNorm(nn.Identity())
    if kind == "batch":
        return MaskAgnosticNorm(nn.BatchNorm2d(channels, **options))
    if kind == "instance":
        return MaskAgnosticNorm(
            nn.InstanceNorm2d(channels, **{"affine": False, "track_running_stats": False, **options})
        )
    if kind == "rn_b":
        return RegionNormB(channels, **options)
    if kind == "rn_l":
        return RegionNormL(channels, **options)
    raise ValueError(f"unknown norm kind {kind!r} (known: {', '.join(NORM_KINDS)})")
