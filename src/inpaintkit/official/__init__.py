"""The papers' published weights, imported into ordinary inpaintkit checkpoint folders.

Each official release stores its networks in its own layout: TensorFlow tensor bundles
(DeepFill v2, JiahuiYu/generative_inpainting), ``{'G': state_dict, ...}`` pickles of the
PyTorch port (nipponjo/deepfillv2-pytorch, two generator layouts), the state dict of RN's
``InpaintingModel`` (geekyutao/RN) and PIC-Net's per-network ``latest_net_*.pth`` files
(lyndonzheng/Pluralistic-Inpainting). A *format* here is one such layout: it knows how to
read the file(s), which registry model and config (with the compatibility settings that
make our layers compute exactly what the official code computes) they become, how the keys
and tensors map, and the reverse map (our model -> the official layout), which the
round-trip tests and ``benchmarks/check_official_import.py`` use.

Arrows: ``official`` -> models, io, errors (never inference, training, commands); the
``weights import`` command and the check script sit above it.

Adding a format: a module in this package with the four functions of
:class:`OfficialFormat`, and one line in :data:`FORMATS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inpaintkit.errors import InpaintError

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class OfficialFormat:
    """One official file layout.

    name: the ``--format`` value.
    model: the registry name (:data:`inpaintkit.models.MODELS`) of the imported generator.
    summary: one line for ``--help`` and errors: whose code, which files.
    read: path (a file, or a folder / prefix where the release is several files) -> the
        official tensors as one flat ``name -> tensor`` dict (several files: prefixed, e.g.
        ``"G." / "E." / "D."``). Never unpickles code (``torch.load(weights_only=True)``).
        Raises InpaintError naming the file for anything unreadable.
    convert: official flat dict -> ``(config overrides, our generator state dict,
        discriminator or None)``; the overrides hold the compatibility settings. Raises
        InpaintError naming what does not match (missing / unexpected keys, shapes):
        never a partial load. The discriminator, where the release has one, is
        ``(registry name, config overrides, state dict)``.
    export: our generator (built with such a config) -> the official flat dict (the
        inverse of ``convert`` on the generator's tensors); used to write files in the
        official layout for tests and the check script.
    files: path -> the files ``read`` reads for it (their sha256 go into the provenance);
        None: the file itself, or every file of a folder / TF prefix.
    """

    name: str
    model: str
    summary: str
    read: Callable[[Path], State]
    convert: Callable[[State], tuple[dict[str, Any], State, tuple[str, dict[str, Any], State] | None]]
    export: Callable[[torch.nn.Module], State]
    files: Callable[[Path], list[Path]] | None = None


# One line per format (name -> OfficialFormat), added by each format's module.
FORMATS: dict[str, OfficialFormat] = {}


def get_format(name: str) -> OfficialFormat:
    """The format called ``name``, or a one-line InpaintError listing the known ones."""
    _load_all()
    if name not in FORMATS:
        known = ", ".join(sorted(FORMATS)) or "none"
        raise InpaintError(f"unknown weights format '{name}' (known: {known})")
    return FORMATS[name]


def _load_all() -> None:
    # The format modules register themselves on import; importing them here (not at the
    # top) keeps ``import inpaintkit.official`` light and free of cycles.
    import importlib

    for module in _MODULES:
        importlib.import_module(f"inpaintkit.official.{module}")


# The format modules of this package (each adds its FORMATS entries when imported).
_MODULES: tuple[str, ...] = ("deepfill_port", "deepfill_tf", "rn", "pic")
