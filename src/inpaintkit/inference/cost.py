"""Peak memory of one model call, estimated before anything is allocated.

A network's working memory grows with the pixel count ``P = H * W`` of the padded input:
linearly for convolutions, and with ``P^2`` for attention over all positions (DeepFill's
contextual attention matches ``P/64`` patches against ``P/64`` patches, a 1024^2 image
needs a 1 GiB score matrix and a 2048^2 one 17 GiB). The two phases peak at different
times, so each model gets

    peak(P) = b * P + c * P^2        (bytes of tensors alive at once, one sample)

with ``b`` from a traced forward pass at a small size (where convolutions dominate) and
``c`` from one at a large size (where attention dominates); the sum bounds the larger of
the two. A trace runs the model's own ``inpaint`` under a dispatch mode that adds up the
bytes of every tensor an operator creates and subtracts them when the last tensor using
that storage dies, keeping the maximum. It runs on the ``meta`` device (shapes only: no
memory, no arithmetic, so 2048^2 costs what 256^2 does) at 256 and 2048 px. A model with
an operator that has no meta kernel is traced on the CPU at 64 and 128 px and taken as
linear (``c = 0``: true for the convolutional networks where this happens). The sizes
depend on the config (widths, attention rate), which the trace reads from the model itself.

The estimate of a request is ``weights + OVERHEAD + samples * peak(P) * SAFETY``, where ``SAFETY``
covers what tensors do not show (allocator caches and fragmentation, convolution
workspaces, the uint8 arrays and PNG encoding around the call); it was calibrated against
the resident memory measured for real calls (the README's "Reliability" section).
Classical fills work on uint8 arrays: a fixed ``CLASSICAL_BYTES_PER_PIXEL``.
"""

from __future__ import annotations

import copy
import logging
import weakref
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.weak import WeakIdKeyDictionary

logger = logging.getLogger(__name__)

SAFETY = 1.5
OVERHEAD = 64 * 2**20  # interpreter-side buffers of one call, whatever its size
CLASSICAL_BYTES_PER_PIXEL = 64
# A model the trace cannot run (e.g. an ONNX export): assume DeepFill-like convolutions.
FALLBACK_BYTES_PER_PIXEL = 4096
# (small, large) sides traced: on meta (free at any size), and on the CPU (real work).
TRACE_SIDES = {"meta": (256, 2048), "cpu": (64, 128)}


class _LiveBytes(TorchDispatchMode):
    """Bytes of tensor storage alive at once (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._owner: WeakIdKeyDictionary = WeakIdKeyDictionary()

    def _release(self, record: list[int]) -> None:
        record[1] -= 1
        if record[1] == 0:
            self.live -= record[0]

    def _hold(self, tensor: torch.Tensor, record: list[int]) -> None:
        record[1] += 1
        self._owner[tensor] = record
        weakref.finalize(tensor, self._release, record)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        returns = func._schema.returns
        inputs = [a for a in args if isinstance(a, torch.Tensor)]
        for i, t in enumerate(outs):
            if not isinstance(t, torch.Tensor) or t in self._owner:
                continue
            if i < len(returns) and returns[i].alias_info is not None:
                # A view or an in-place result: it keeps its input's storage alive.
                source = next((self._owner[a] for a in inputs if a in self._owner), None)
                if source is not None:
                    self._hold(t, source)
                continue
            record = [t.untyped_storage().nbytes(), 0]
            self.live += record[0]
            self.peak = max(self.peak, self.live)
            self._hold(t, record)
        return out


def traced_peak(model: nn.Module, side: int, device: str | torch.device) -> int:
    """Peak bytes of tensors alive during ``model.inpaint`` of one ``side``-square image."""
    x = torch.zeros(1, 3, side, side, device=device)
    k = torch.zeros(1, 1, side, side, device=device)
    k[..., side // 4: side // 2, side // 4: side // 2] = 1
    extra = {"coarse": torch.zeros_like(x)} if getattr(model, "coarse_input", None) else {}
    with torch.inference_mode(), _LiveBytes() as mode:
        model.inpaint(x, k, generator=None, **extra)
    return mode.peak


@dataclass(frozen=True)
class MemoryModel:
    """``weights + OVERHEAD + samples * (b P + c P^2) * SAFETY`` bytes (module docstring)."""

    weights: int
    b: float
    c: float
    how: str  # "meta", "cpu", "classical", "fallback"

    def per_sample(self, pixels: int) -> float:
        return self.b * pixels + self.c * pixels * pixels

    def peak_bytes(self, pixels: int, samples: int = 1) -> int:
        return int(self.weights + OVERHEAD + samples * self.per_sample(pixels) * SAFETY)


_FITTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def memory_model(model: object) -> MemoryModel:
    """The memory of ``model`` (a generator; module docstring), fitted once per model."""
    try:
        return _FITTED[model]
    except (KeyError, TypeError):
        pass
    fitted = _fit_memory(model)
    try:
        _FITTED[model] = fitted
    except TypeError:  # not weak-referenceable: fitted again next time
        pass
    return fitted


def _fit_memory(model: object) -> MemoryModel:
    if getattr(model, "classical", False):
        return MemoryModel(0, CLASSICAL_BYTES_PER_PIXEL, 0.0, "classical")
    if not isinstance(model, nn.Module):
        return MemoryModel(0, FALLBACK_BYTES_PER_PIXEL, 0.0, "fallback")
    weights = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    multiple = max(1, int(getattr(model, "multiple", 8)))
    for device in ("meta", "cpu"):
        small, large = (s + (-s) % multiple for s in TRACE_SIDES[device])
        try:
            probe = copy.deepcopy(model).to(device).eval()
            low, high = traced_peak(probe, small, device), traced_peak(probe, large, device)
        except Exception as exc:  # an operator without a meta kernel, a model that needs more
            logger.debug("memory trace on %s failed: %s", device, exc)
            continue
        b = low / small**2
        c = max(0.0, high - b * large**2) / large**4 if device == "meta" else 0.0
        if device == "cpu":
            b = max(b, high / large**2)
        return MemoryModel(weights, b, c, device)
    return MemoryModel(weights, FALLBACK_BYTES_PER_PIXEL, 0.0, "fallback")
