"""What every inpainting generator in :data:`inpaintkit.models.MODELS` provides.

A generator is an ``nn.Module`` with

* ``config``: its frozen config dataclass (saved as JSON beside the weights);
* ``config_class`` (class attribute): that dataclass type;
* ``tiny`` (class attribute): config overrides for the test-sized model (<= 32 channels);
* ``multiple`` (property): H and W must be divisible by it (the Inpainter pads);
* ``forward(image, mask, ...)``: model-specific outputs, used by its training objective;
* ``inpaint(image, mask, generator=None) -> (B,3,H,W)``: the completed image in [-1, 1],
  *not* composited (the caller composites); deterministic for a given ``generator``.

Inputs follow :mod:`inpaintkit.conventions`: image (B,3,H,W) in [-1,1], mask (B,1,H,W),
1 = hole. Each model zeroes the hole itself (``masked_input``), so pixel values inside the
hole never reach the output. Pluralistic models also provide
``sample(image, mask, k, generator=None) -> (B,k,3,H,W)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn


class InpaintModel(nn.Module):
    """Base class: keeps the config and implements the shared bits of the protocol."""

    config_class: ClassVar[type]
    tiny: ClassVar[dict[str, Any]] = {}
    pluralistic: ClassVar[bool] = False
    # Extra input channels beyond image + mask (e.g. 1 for a sketch/edge map).
    def __init__(self, config: Any) -> None:
        super().__init__()
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}")
        self.config = config

    @property
    def multiple(self) -> int:
        return 8

    def inpaint(
        self, image: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        raise NotImplementedError


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as JSON-ready dict (tuples become lists)."""
    return dataclasses.asdict(config)


def config_from_dict(config_class: type, values: dict[str, Any]) -> Any:
    """Rebuild a config dataclass, refusing unknown keys with a clear message."""
    names = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{config_class.__name__}: unknown option(s) {', '.join(unknown)}")
    fixed = {}
    for key, value in values.items():
        # JSON has no tuples; restore them where the dataclass default is a tuple.
        default = names[key].default
        fixed[key] = tuple(value) if isinstance(default, tuple) and isinstance(value, list) else value
    return config_class(**fixed)
