"""Parameter and multiply-add counts of the registered generators.

``model_summary(name, size=256)`` builds ``MODELS[name]`` (full config unless
``tiny=True``), runs one ``inpaint`` of a (1,3,S,S) image with a centred square hole in
eval mode without gradients (classical fills count 0), and returns::

    {"name", "size" (S, rounded up to the model's multiple), "params",
     "gmacs" (multiply-adds / 1e9), "gflops" (= 2 * gmacs, floating-point operations),
     "gmacs_functional" (the part of gmacs not inside a hooked module)}

What is counted (one multiply-add = one MAC):

* forward hooks on every ``nn.Conv2d`` (including subclasses such as
  :class:`~inpaintkit.layers.partial_conv.PartialConv2d`), ``nn.ConvTranspose2d`` and
  ``nn.Linear``: ``Conv2d`` = out.numel() * C_in/groups * kh*kw;
  ``ConvTranspose2d`` = in.numel() * C_out/groups * kh*kw; ``Linear`` = out.numel() * in_features;
* every convolution or matrix product executed *outside* those modules (functional
  ``F.conv2d``/``conv_transpose2d`` as in contextual attention, ``matmul``/``bmm``/``einsum``,
  ``F.linear``, scaled-dot-product attention), seen at the ATen dispatch level: aten
  ``convolution``, ``mm``, ``addmm``, ``bmm``, ``baddbmm``, ``addbmm``, ``mv``, ``dot`` and
  the ``_scaled_dot_product_*`` kernels (QK^T + AV). Ops inside a hooked module are
  skipped at that level so nothing is counted twice (e.g. PartialConv2d's 1-channel mask
  count convolution is not counted: negligible, and not a multiply by weights);
* not counted: element-wise ops, normalization, activations, pooling, interpolation,
  FFTs, and the spectral-norm power iteration (it only runs in training).

``gflops`` is the number the benchmark divides by time to get GFLOP/s, comparable with a
matmul's ``2*N^3`` operations.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from inpaintkit.conventions import masked_input
from inpaintkit.models.base import InpaintModel
from inpaintkit.models.registry import MODELS, create_model

_HOOKED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    return None


def module_macs(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-adds of one call of a Conv2d / ConvTranspose2d / Linear module."""
    if isinstance(module, nn.ConvTranspose2d):
        k = math.prod(module.kernel_size)
        return inp.numel() * (module.out_channels // module.groups) * k
    if isinstance(module, nn.Conv2d):
        k = math.prod(module.kernel_size)
        return out.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    raise TypeError(f"no MAC formula for {type(module).__name__}")


def _aten_macs(func: Any, args: tuple, out: Any) -> int:
    """Multiply-adds of one ATen op (0 for ops that are not convolutions/products)."""
    name = func.overloadpacket.__name__
    if name == "convolution":
        x, w = args[0], args[1]
        transposed = bool(args[6]) if len(args) > 6 else False
        k = math.prod(w.shape[2:])
        if transposed:  # weight (C_in, C_out/groups, k...)
            return x.numel() * w.shape[1] * k
        return _first_tensor(out).numel() * w.shape[1] * k  # weight (C_out, C_in/groups, k...)
    if name == "mm":
        return args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
    if name == "addmm":
        return args[1].shape[0] * args[1].shape[1] * args[2].shape[1]
    if name == "bmm":
        b, n, k = args[0].shape
        return b * n * k * args[1].shape[2]
    if name in ("baddbmm", "addbmm"):
        b, n, k = args[1].shape
        return b * n * k * args[2].shape[2]
    if name == "mv":
        return args[0].numel()
    if name == "dot":
        return args[0].numel()
    if name.startswith("_scaled_dot_product"):
        q, k, v = args[0], args[1], args[2]
        # q (..., L, E), k (..., S, E), v (..., S, Ev): QK^T is L*S*E, AV is L*S*Ev.
        batch = math.prod(q.shape[:-2])
        return batch * q.shape[-2] * k.shape[-2] * (q.shape[-1] + v.shape[-1])
    return 0


class _MacCounter(TorchDispatchMode):
    """Counts MACs of ATen products; suspended while a hooked module runs."""

    def __init__(self) -> None:
        super().__init__()
        self.functional = 0
        self.suspended = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.suspended == 0:
            self.functional += _aten_macs(func, args, out)
        return out


def count_macs(model: nn.Module, *inputs: Any, **kwargs: Any) -> dict[str, int]:
    """Run ``model(*inputs, **kwargs)`` once and count its multiply-adds.

    Returns ``{"modules": MACs in hooked modules, "functional": MACs elsewhere,
    "total": both}``. Runs under ``torch.no_grad``; the model's mode is left as it is.
    """
    counter = _MacCounter()
    totals = {"modules": 0}
    depth = {"n": 0}

    def pre_hook(module: nn.Module, args: tuple) -> None:
        depth["n"] += 1
        counter.suspended += 1

    def post_hook(module: nn.Module, args: tuple, output: Any) -> None:
        depth["n"] -= 1
        counter.suspended -= 1
        if depth["n"] == 0:  # a hooked module inside another is part of the outer count
            totals["modules"] += module_macs(module, _first_tensor(args), _first_tensor(output))

    handles = []
    for m in model.modules():
        if isinstance(m, _HOOKED):
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(post_hook))
    try:
        with torch.no_grad(), counter:
            model(*inputs, **kwargs)
    finally:
        for h in handles:
            h.remove()
    return {
        "modules": totals["modules"],
        "functional": counter.functional,
        "total": totals["modules"] + counter.functional,
    }


def probe_inputs(
    size: int, multiple: int = 1, batch: int = 1, device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded (batch,3,S,S) image and a centred square hole covering a quarter of it;
    S is ``size`` rounded up to ``multiple``."""
    s = max(multiple, math.ceil(size / multiple) * multiple)
    g = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, s, s, generator=g) * 2 - 1
    mask = torch.zeros(batch, 1, s, s)
    mask[..., s // 4 : 3 * s // 4, s // 4 : 3 * s // 4] = 1.0
    return image.to(device), mask.to(device)


class _Inpaint(nn.Module):
    """Calls ``inner.inpaint`` so that count_macs can run the protocol method. A classical
    coarse input is stood in for by the masked image: its OpenCV fill is no multiply-add
    of the network, and the network's cost does not depend on its values."""

    def __init__(self, inner: InpaintModel) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        g = torch.Generator(device=image.device).manual_seed(0)
        coarse = None
        if self.inner.coarse_input is not None:  # one masked image per stacked fill
            fills = len(self.inner.coarse_input.split("+"))
            coarse = masked_input(image, mask).repeat(1, fills, 1, 1)
        return self.inner.inpaint(image, mask, generator=g, coarse=coarse)


def summarize(model: InpaintModel, size: int = 256, name: str = "") -> dict[str, Any]:
    """:func:`model_summary` of an already built generator (its mode is left as it is)."""
    device = next(model.parameters(), torch.empty(0)).device
    image, mask = probe_inputs(size, model.multiple, device=device)
    macs = count_macs(_Inpaint(model), image, mask)
    return {
        "name": name,
        "size": image.shape[-1],
        "params": sum(p.numel() for p in model.parameters()),
        "gmacs": macs["total"] / 1e9,
        "gflops": 2 * macs["total"] / 1e9,
        "gmacs_functional": macs["functional"] / 1e9,
    }


def model_summary(name: str, size: int = 256, tiny: bool = False) -> dict[str, Any]:
    """Parameters and multiply-adds of ``MODELS[name]`` at ``size`` x ``size`` (batch 1)."""
    return summarize(create_model(name, tiny=tiny).eval(), size, name)


def all_summaries(size: int = 256, tiny: bool = False) -> list[dict[str, Any]]:
    """:func:`model_summary` for every entry of ``MODELS``, sorted by name."""
    return [model_summary(name, size=size, tiny=tiny) for name in sorted(MODELS)]
