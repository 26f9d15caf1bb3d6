"""ONNX export of a generator's ``inpaint``, verified in ONNX Runtime.

:func:`export_onnx` traces the pure network ``model.inpaint(image, mask)`` (image
(B,3,H,W) in [-1,1], mask (B,1,H,W), 1 = hole; output (B,3,H,W) in [-1,1], not composited)
with the TorchScript-based exporter (no ``onnxscript`` needed), checks the file with
``onnx.checker`` and runs it in ONNX Runtime against PyTorch (max abs diff < 1e-3). A
network with a classical coarse input (``coarse_input``, e.g. DeepFill v2 with
``coarse="smooth"``) takes it as a third graph input, ``(image, mask, coarse)``; the graph
records the method as metadata ``coarse=<method>`` and
:class:`~inpaintkit.inference.onnx_model.OnnxInpaintModel` computes that input with
OpenCV before calling ONNX Runtime. The result equals the PyTorch model's.

Dynamic H/W: exported with dynamic batch/height/width axes, then verified at a second,
non-square size. A model whose graph bakes sizes in (tracing records Python ints) fails
that check and is re-exported at a fixed ``size`` x ``size``; the ONNX model then resizes
its inputs to that size and the result back (the caller composites).

Every export is verified on two different inputs at the export size, so a graph that
traced an input-dependent value as a constant is caught rather than shipped.

Not exportable (an :class:`InpaintError` says so): the classical methods (OpenCV only),
models with ``exportable = False``, and models whose tracing fails. Stochastic models
(pluralistic sampling) export with their random ops; their numbers cannot be compared to
PyTorch, so only shape and finiteness are verified.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.inference.onnx_model import (
    COARSE_NAME,
    INPUT_NAMES,
    OUTPUT_NAME,
    OnnxInpaintModel,
    ort_session,
    session_feed,
)
from inpaintkit.inference.weights import resolve_model
from inpaintkit.models.base import GeneratorProtocol
from inpaintkit.models.classical import coarse_from_tensors
from inpaintkit.models.serialization import registry_name

TOLERANCE = 1e-3
MAX_OPSET = 20  # highest opset the retry below may move to (onnxruntime >= 1.17 runs it)


@dataclasses.dataclass
class ExportResult:
    path: Path
    model: str
    dynamic: bool  # True: any H, W divisible by ``multiple``; False: fixed size x size
    size: int
    multiple: int
    max_abs_diff: float | None  # ONNX Runtime vs PyTorch at the export size (None: stochastic)
    opset: int = 17
    notes: list[str] = dataclasses.field(default_factory=list)


class _InpaintGraph(nn.Module):
    """(image, mask) -> model.inpaint(image, mask): the function that gets exported."""

    def __init__(self, model: GeneratorProtocol) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.inpaint(image, mask)


class _CoarseInpaintGraph(_InpaintGraph):
    """(image, mask, coarse) -> model.inpaint(image, mask, coarse=coarse)."""

    def forward(self, image: torch.Tensor, mask: torch.Tensor,  # type: ignore[override]
                coarse: torch.Tensor) -> torch.Tensor:
        return self.model.inpaint(image, mask, coarse=coarse)


def _coarse(model: GeneratorProtocol, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """The model's classical coarse input for (image, mask), or None if it takes none."""
    if model.coarse_input is None:
        return None
    return coarse_from_tensors(image.detach().float().cpu(), mask.detach().float().cpu(),
                               model.coarse_input).to(image.device)


def _example(size_hw: tuple[int, int], device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = size_hw
    g = torch.Generator().manual_seed(seed)
    # A smooth-ish random image (not pure noise) and a box hole in the middle.
    image = torch.rand(1, 3, max(h // 4, 1), max(w // 4, 1), generator=g) * 2 - 1
    image = F.interpolate(image, size=(h, w), mode="bilinear", align_corners=False)
    image = (image + 0.1 * torch.randn(1, 3, h, w, generator=g)).clamp(-1, 1)
    mask = torch.zeros(1, 1, h, w)
    mask[..., h // 4 : h // 4 + max(h // 3, 1), w // 3 : w // 3 + max(w // 3, 1)] = 1
    return image.to(device), mask.to(device)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _col2im_symbolic(g, input, output_size, kernel_size, dilation, padding, stride):
    """aten::col2im (``F.fold``) -> ONNX Col2Im (opset 18). torch's own symbolic fails when
    ``output_size`` is a traced list (it asks the list for its tensor size); fold is always
    2-D, so the rank is known without asking."""
    from torch.onnx import symbolic_helper as sh

    dilation = list(sh._maybe_get_const(dilation, "is")) or [1, 1]
    stride = list(sh._maybe_get_const(stride, "is")) or [1, 1]
    pads = [p for p in sh._maybe_get_const(padding, "is") for _ in range(2)] or [0, 0, 0, 0]
    return g.op("Col2Im", input, output_size, kernel_size,
                dilations_i=dilation, pads_i=pads, strides_i=stride)


_REGISTERED: set[int] = set()


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the TorchScript exporter: its deprecation/tracer warnings, and the IR dump
    it prints on a failed attempt (torch enables its own log during every export)."""
    log = getattr(torch._C, "_jit_onnx_log", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if log is not None:
            torch._C._jit_onnx_log = lambda *args: None
        try:
            yield
        finally:
            if log is not None:
                torch._C._jit_onnx_log = log


def _torch_export(graph: nn.Module, example: tuple[torch.Tensor, ...], path: Path,
                  opset: int, dynamic: bool) -> None:
    axes = {0: "batch", 2: "height", 3: "width"}
    inputs = [*INPUT_NAMES, COARSE_NAME][: len(example)]
    dynamic_axes = {n: axes for n in (*inputs, OUTPUT_NAME)} if dynamic else None
    for version in range(18, MAX_OPSET + 1):
        if version not in _REGISTERED:
            torch.onnx.register_custom_op_symbolic("aten::col2im", _col2im_symbolic, version)
            _REGISTERED.add(version)
    # The TorchScript exporter is deprecated in favour of the dynamo one, which needs
    # onnxscript (not a dependency).
    with _quiet_exporter(), torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(
            graph, example, str(path), dynamo=False, opset_version=opset,
            input_names=inputs, output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes, do_constant_folding=True,
        )


def _compare(session, model: GeneratorProtocol, image: torch.Tensor, mask: torch.Tensor) -> float | None:
    coarse = _coarse(model, image, mask)
    got = session.run([OUTPUT_NAME], session_feed(session, image, mask, coarse))[0]
    if got.shape != tuple(image.shape) or not np.isfinite(got).all():
        raise ValueError(f"ONNX output has shape {got.shape} (expected {tuple(image.shape)}) or NaNs")
    if model.stochastic:
        return None
    with torch.no_grad():
        want = model.inpaint(image, mask, coarse=coarse).detach().cpu().numpy()
    return float(np.abs(got - want).max())


class _Frozen(nn.Module):
    """Stands in for a ParametrizationList: returns the weight it computed, as a buffer."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("value", value)

    def forward(self) -> torch.Tensor:
        return self.value


@contextlib.contextmanager
def _frozen_parametrizations(model: nn.Module):
    """Weight re-parametrisations (spectral norm) as constant buffers while exporting.

    In eval mode they are constants anyway, and their ops (``vdot``) have no ONNX form.
    Each ``module.parametrizations[name]`` is swapped for a module returning the computed
    weight and put back afterwards. (Not ``remove_parametrizations`` on a deep copy: the
    copy shares its parametrised class with the original, and removal deletes the
    ``weight`` property from that class, breaking the caller's model; and torch refuses to
    trace under ``parametrize.cached()``.)
    """
    from torch.nn.utils import parametrize

    swapped = []
    try:
        with torch.no_grad():
            for module in model.modules():
                if parametrize.is_parametrized(module):
                    for name in list(module.parametrizations.keys()):
                        value = getattr(module, name).detach().clone()
                        swapped.append((module, name, module.parametrizations[name]))
                        module.parametrizations[name] = _Frozen(value)
        yield
    finally:
        for module, name, original in reversed(swapped):
            module.parametrizations[name] = original


def _export_with_fallbacks(graph: nn.Module, example: tuple[torch.Tensor, ...], path: Path,
                           opset: int, dynamic: bool, name: str, notes: list[str]) -> tuple[int, bool]:
    """Export; on failure retry at the opset the exporter asks for (e.g. col2im = F.fold
    needs 18) and/or with fixed H/W (some symbolics need static sizes). -> (opset, dynamic)."""
    try:
        _torch_export(graph, example, path, opset, dynamic)
        return opset, dynamic
    except Exception as exc:
        error: Exception = exc
    found = re.search(r"added in version (\d+)", str(error))
    needed = int(found.group(1)) if found else 0
    newer = needed if opset < needed <= MAX_OPSET else opset
    tries = [(newer, dynamic)] if newer != opset else []
    if dynamic:
        tries.append((newer, False))
    for o, d in tries:
        try:
            _torch_export(graph, example, path, o, d)
        except Exception as exc:
            error = exc
            continue
        if o != opset:
            notes.append(f"'{name}' needs ONNX opset {o} (asked for {opset})")
        if d != dynamic:
            notes.append(f"'{name}' exports only with fixed H/W (inputs are resized to it)")
        return o, d
    raise InpaintError(f"model '{name}' cannot be exported to ONNX: {_first_line(error)}")


def _exportable(model: GeneratorProtocol | str | os.PathLike) -> tuple[GeneratorProtocol, str]:
    """(module, name) of what ``export_onnx`` was given; InpaintError for what has no graph."""
    if isinstance(model, (str, os.PathLike)):
        loaded = resolve_model(model, "cpu")
        module, name = loaded.model, loaded.name
    elif isinstance(model, GeneratorProtocol):
        module = model
        try:
            name = registry_name(module)  # type: ignore[arg-type]
        except InpaintError:  # an unregistered module can still be exported
            name = type(module).__name__
    else:
        raise InpaintError(f"{type(model).__name__} does not follow the generator protocol")
    if module.classical:
        raise InpaintError(
            f"'{name}' is OpenCV inpainting, not a network: it cannot be exported to ONNX "
            f"(use it directly with --model {name})"
        )
    if isinstance(module, OnnxInpaintModel):
        raise InpaintError(f"'{name}' is already an ONNX model")
    if not module.exportable or not isinstance(module, nn.Module):
        raise InpaintError(f"model '{name}' is not exportable to ONNX: it runs non-traceable code in inpaint")
    return module, name


def _add_metadata(tmp: Path, name: str, values: dict[str, str]) -> None:
    """Write the metadata into the exported file and validate it with onnx.checker."""
    import onnx

    proto = onnx.load(str(tmp))
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise InpaintError(f"exported ONNX graph for '{name}' is invalid: {_first_line(exc)}") from None
    onnx.save(proto, str(tmp))


def export_onnx(model: GeneratorProtocol | str | os.PathLike, path: str | os.PathLike, size: int = 256,
                dynamic: bool = True, opset: int = 17) -> ExportResult:
    """Export ``model.inpaint`` to ONNX at ``path`` (written atomically) and verify it.

    ``model`` is a module or anything :func:`~inpaintkit.inference.load_model` accepts.
    ``size`` (rounded up to the model's ``multiple``) is the example/verification size and,
    when dynamic shapes fail, the fixed input size.
    """
    module, name = _exportable(model)
    multiple = module.multiple
    size = max(int(size), multiple)
    size = -(-size // multiple) * multiple

    module.eval()
    device = next(module.parameters(), torch.empty(0)).device
    coarse_mode = module.coarse_input or ""
    graph = (_CoarseInpaintGraph(module) if coarse_mode else _InpaintGraph(module)).eval()
    image, mask = _example((size, size), device)
    # Same size, other content: catches values traced as constants.
    same_size = _example((size, size), device, seed=2)
    # A second, non-square size to check that the dynamic axes really are dynamic.
    # (Larger, not smaller: some models need a minimum size, e.g. 2x2 at the bottleneck.)
    other = _example((size + 2 * multiple, size + multiple), device, seed=1)
    coarse = _coarse(module, image, mask)
    example = (image, mask) if coarse is None else (image, mask, coarse)

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise InpaintError(f"cannot write {path}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    notes: list[str] = []
    with _frozen_parametrizations(module):
        try:
            opset, is_dynamic = _export_with_fallbacks(graph, example, tmp, opset, dynamic, name, notes)
            if is_dynamic:
                try:
                    diff2 = _compare(ort_session(tmp), module, *other)
                    ok = diff2 is None or diff2 < TOLERANCE
                except Exception:
                    ok = False
                if not ok:
                    notes.append(
                        f"'{name}' does not run at other sizes with dynamic H/W: exported at a "
                        f"fixed {size}x{size} (inputs are resized to it)"
                    )
                    try:
                        _torch_export(graph, example, tmp, opset, dynamic=False)
                    except Exception as exc:
                        raise InpaintError(f"model '{name}' cannot be exported to ONNX: {_first_line(exc)}") from None
                    is_dynamic = False
            _add_metadata(tmp, name, {
                "inpaintkit_model": name, "multiple": str(multiple), "dynamic": str(int(is_dynamic)),
                "size": str(size), "stochastic": str(int(module.stochastic)), "coarse": coarse_mode,
            })
            try:
                session = ort_session(tmp)
                diff = _compare(session, module, image, mask)
                diff_b = _compare(session, module, *same_size)
                diff = None if diff is None or diff_b is None else max(diff, diff_b)
            except InpaintError:
                raise
            except Exception as exc:
                raise InpaintError(f"ONNX Runtime cannot run the export of '{name}': {_first_line(exc)}") from None
            if diff is not None and diff >= TOLERANCE:
                raise InpaintError(
                    f"ONNX export of '{name}' differs from PyTorch by {diff:.2e} (> {TOLERANCE:g})"
                )
            if module.stochastic:
                notes.append(f"'{name}' samples randomly: ONNX output checked for shape only")
            if coarse_mode:
                notes.append(
                    f"'{name}' takes an OpenCV {coarse_mode} coarse input: the graph has it as a "
                    f"third input 'coarse' (OnnxInpaintModel computes it)"
                )
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    return ExportResult(path, name, is_dynamic, size, multiple, diff, opset, notes)
