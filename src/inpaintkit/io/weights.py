"""Reading a user's weights file (FID, LPIPS and VGG-loss networks) without unpickling code."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inpaintkit.errors import InpaintError, NotFound, Unsupported


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A flat ``name -> tensor`` dict from a user's weights file: .safetensors, or a torch
    file read with ``weights_only=True`` (never unpickles code). Used for FID, LPIPS and VGG
    loss weights; ``{"state_dict": ...}`` wrappers are unwrapped.

    Raises :class:`~inpaintkit.errors.NotFound` for a missing file and
    :class:`~inpaintkit.errors.Unsupported` for one that is not such a file.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # any parse failure is the user's file, not our bug
        raise Unsupported(f"cannot read weights file {path}: {exc}") from exc
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InpaintError(f"{path} is not a state dict (name -> tensor)")
    return dict(state)
