"""Device choice for inference: ``auto`` picks CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from inpaintkit.errors import InpaintError

if TYPE_CHECKING:
    import torch

DEVICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` / ``mps`` -> a usable :class:`torch.device`.

    Under torchrun (``LOCAL_RANK`` set) ``auto`` and ``cuda`` mean this rank's GPU.
    A device that is not available here is a user error, not a silent CPU fallback.
    """
    import torch  # here, not at the top: the CLI reads DEVICES for --help without torch

    if isinstance(device, torch.device):
        return device
    name = str(device).strip().lower()
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InpaintError(f"device '{device}' requested but CUDA is not available here")
        if name == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        try:
            return torch.device(name)
        except RuntimeError as exc:
            raise InpaintError(f"bad device '{device}': {exc}") from None
    if name == "mps":
        if not _mps_available():
            raise InpaintError("device 'mps' requested but Apple MPS is not available here")
        return torch.device("mps")
    raise InpaintError(f"unknown device '{device}' (use one of {', '.join(DEVICES)})")
