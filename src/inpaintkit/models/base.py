"""The generator protocol: what every entry of :data:`inpaintkit.models.MODELS` provides.

Tensors follow :mod:`inpaintkit.conventions`: image (B,3,H,W) in [-1,1], mask (B,1,H,W),
1 = hole. Every attribute below has a default on :class:`GeneratorProtocol`, so callers
read them directly (never ``getattr`` probes):

=====================  ===============================================================
``multiple``           int: H and W must be divisible by it (the Inpainter pads). 8.
``pluralistic``        bool: ``sample(image, mask, k, generator=None) -> (B,k,3,H,W)``
                       gives k different completions. Pluralistic implies stochastic.
``stochastic``         bool: the output depends on ``generator`` (K samples = K seeds).
``native_size``        int | None: the image side the model works best at (None: the
                       caller's default, or the checkpoint's metadata).
``exportable``         bool: ``inpaint`` is a pure network that ONNX export can trace.
``classical``          bool: a fixed (non-learned) uint8 fill; it also has the fast path
                       ``inpaint_array(image (H,W,3) uint8, hole (H,W) bool, sketch=None)
                       -> uint8`` (sketch: (H,W) bool strokes, when ``sketch_channels``).
``sketch_channels``    int: channels of the optional ``sketch`` guidance input (0: none;
                       the PatchMatch fills, the default among them, take 1).
``coarse_input``       str | None: name of the classical fill (``telea``, ``ns``,
                       ``smooth``, ``patchmatch``, see :mod:`.classical`; several
                       joined by ``+`` are stacked: (B,3k,H,W)) that the model takes as
                       its ``coarse`` input tensor; the caller computes it on uint8
                       (:func:`inpaintkit.models.classical.coarse_batch`).
=====================  ===============================================================

``inpaint(image, mask, generator=None, *, coarse=None, sketch=None) -> (B,3,H,W)``: the
completed image in [-1, 1], *not* composited (the caller composites); deterministic for a
given ``generator``. ``coarse`` (B,3,H,W) in [-1,1] is required iff ``coarse_input`` is set
and refused otherwise; ``sketch`` (B, sketch_channels, H, W) is refused when
``sketch_channels == 0``. Each model zeroes the hole itself
(:func:`~inpaintkit.conventions.masked_input`), so pixel values inside the hole never
reach the output.

A network is an :class:`InpaintModel` (an ``nn.Module``) that also has ``config`` (its
frozen config dataclass, saved as JSON beside the weights), ``config_class`` and ``tiny``
(config overrides for the test-sized model, <= 32 channels), and ``forward(image, mask,
...)`` with model-specific outputs for its training objective. Runtime wrappers that are
not modules (the ONNX Runtime model, test doubles) subclass :class:`GeneratorProtocol`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn


class GeneratorProtocol:
    """The protocol's attributes with their defaults (see the module docstring)."""

    pluralistic: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    exportable: ClassVar[bool] = True
    classical: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.pluralistic:
            cls.stochastic = True  # K samples differ by construction

    @property
    def multiple(self) -> int:
        return 8

    @property
    def native_size(self) -> int | None:
        return None

    @property
    def sketch_channels(self) -> int:
        return 0

    @property
    def coarse_input(self) -> str | None:
        return None

    def inpaint(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        coarse: torch.Tensor | None = None,
        sketch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError

    def sample(
        self, image: torch.Tensor, mask: torch.Tensor, k: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} is not pluralistic: it has no sample()")

    def check_extra_inputs(
        self, image: torch.Tensor, coarse: torch.Tensor | None, sketch: torch.Tensor | None
    ) -> None:
        """ValueError when ``coarse`` / ``sketch`` do not fit ``coarse_input`` /
        ``sketch_channels`` (missing, unexpected, or of the wrong shape)."""
        who = type(self).__name__
        if self.coarse_input is None and coarse is not None:
            raise ValueError(f"{who} takes no coarse input (coarse_input is None)")
        if self.coarse_input is not None:
            if coarse is None:
                raise ValueError(
                    f"{who} needs coarse=(B,3k,H,W): its '{self.coarse_input}' fill of the "
                    f"masked image (inpaintkit.models.classical.coarse_batch computes it)"
                )
            want = (image.shape[0], 3 * len(self.coarse_input.split("+")), *image.shape[-2:])
            if tuple(coarse.shape) != want:
                raise ValueError(f"{who}: coarse {tuple(coarse.shape)} should be {want}")
        if sketch is not None:
            want = (image.shape[0], self.sketch_channels, *image.shape[-2:])
            if not self.sketch_channels:
                raise ValueError(f"{who} takes no sketch (sketch_channels is 0)")
            if tuple(sketch.shape) != want:
                raise ValueError(f"{who}: sketch {tuple(sketch.shape)} should be {want}")


class InpaintModel(GeneratorProtocol, nn.Module):
    """Base class of the registered generators: keeps the config (see the module docstring)."""

    config_class: ClassVar[type]
    tiny: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: Any) -> None:
        super().__init__()
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}")
        self.config = config


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
