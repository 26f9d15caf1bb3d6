"""Parameter counts of registered models from their configs alone, on the ``meta``
device: a config asking for an absurd model is refused before any memory is allocated
(``inpaintkit train`` and checkpoint loading call :func:`check_model_size`)."""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from inpaintkit.errors import TooLarge
from inpaintkit.models.registry import registered

#: Largest model accepted from a config: 2 * 10^9 parameters (8 GB of fp32 weights; the
#: networks here have 0.5-50 million). A config asking for more is a typo or an attack.
MAX_PARAMETERS = 2_000_000_000


_COUNTS: dict[tuple[str, Any], int] = {}


class _NoInit(TorchFunctionMode):
    """Skips weight initialisation and spectral norm's start-up normalisation while a model
    is built on the ``meta`` device: their values do not exist there, and their meta
    kernels are Python decompositions whose first call imports torch's compiler stack
    (1.3 s of CPU for DeepFill v2, 3.3 s for PIC-Net, on every CLI start). Every skipped
    call returns its input tensor (or, for the power iteration's ``mv`` / ``vdot``, an empty one), with
    the shape the real call would give."""

    SKIP = frozenset({"normal_", "uniform_", "trunc_normal_", "orthogonal_", "kaiming_normal_",
                      "kaiming_uniform_", "xavier_uniform_", "xavier_normal_", "zeros_", "ones_",
                      "constant_", "normalize"})

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in self.SKIP:
            return args[0] if args else kwargs["tensor"] if "tensor" in kwargs else kwargs["input"]
        if name == "mv":  # spectral norm's power iteration: (m, n) @ (n,) -> (m,)
            return args[0].new_empty(args[0].shape[:1])
        if name == "vdot":  # ... and its sigma estimate: a scalar
            return args[0].new_empty(())
        if name == "div" and isinstance(args[0], torch.Tensor) and args[0].dim() >= 1:
            return args[0]  # ... and its normalisation by sigma (a scalar): same shape
        return func(*args, **kwargs)


def meta_model(name: str, config: Any) -> torch.nn.Module:
    """Registry model ``name`` built from ``config`` on the ``meta`` device (no memory, no
    initialisation): its parameter shapes and config-derived attributes (``multiple``)."""
    with torch.device("meta"), _NoInit():
        return registered()[name](config)


def count_parameters(name: str, config: Any) -> int:
    """Parameters of registry model ``name`` built from ``config`` (a dataclass), counted on
    the ``meta`` device: no memory is allocated, so an absurd config costs nothing."""
    try:
        return _COUNTS[(name, config)]
    except (KeyError, TypeError):  # TypeError: a config with unhashable fields
        pass
    count = sum(p.numel() for p in meta_model(name, config).parameters())
    try:
        _COUNTS[(name, config)] = count
    except TypeError:
        pass
    return count


def check_model_size(name: str, config: Any, limit: int = MAX_PARAMETERS, what: str = "model") -> int:
    """The parameter count of ``name`` with ``config``; :class:`TooLarge` over ``limit``."""
    count = count_parameters(name, config)
    if count > limit:
        raise TooLarge(
            f"{what} {name} would have {count:,} parameters ({4 * count / 2**30:,.1f} GiB as float32), "
            f"over the limit of {limit:,}; check its config ({config})"
        )
    return count
