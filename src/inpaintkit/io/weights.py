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


def read_torch_file(path: str | Path) -> Any:
    """The object in a PyTorch file (``.pth`` / ``.pt``) read with ``weights_only=True``:
    tensors, dicts, lists, numbers and strings only; a file that needs code to unpickle (a
    pickled module, an arbitrary class) is refused, never run. For the official releases
    (``inpaintkit weights import``).

    Raises :class:`NotFound` for a missing file and :class:`Unsupported` for one that is
    not such a file (truncated, another format, or holding code).
    """
    import pickle
    import warnings

    import torch

    path = Path(path)
    if not path.is_file():
        raise NotFound(f"weights file not found: {path}")
    try:
        with warnings.catch_warnings():
            # "Detected pickle protocol 4": plain pickles are read under the same rules.
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unsupported(
            f"refusing to read {path}: it holds more than tensors (objects that need code to "
            f"load; only weights-only files are read, nothing is unpickled): {first}"
        ) from None
    except Exception as exc:  # truncated zip, not a torch file at all, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise Unsupported(f"cannot read {path} as a PyTorch weights file: {first}") from None


def flatten_tensors(obj: Any, prefix: str = "") -> dict[str, Any]:
    """``{"G": {"a.weight": t}, "n_iter": 5}`` -> ``{"G.a.weight": t}``: every tensor of a
    nested dict (lists and other values are dropped), keys joined with dots."""
    import torch

    out: dict[str, Any] = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            out.update(flatten_tensors(value, f"{prefix}.{key}" if prefix else str(key)))
    return out
