"""ONNX export of a generator's ``inpaint`` and an ONNX Runtime model that runs it.

:func:`export_onnx` wraps ``model.inpaint(image, mask)`` (image (B,3,H,W) in [-1,1], mask
(B,1,H,W), 1 = hole; output (B,3,H,W) in [-1,1], not composited) in a two-input module,
exports it with the TorchScript-based exporter (no ``onnxscript`` needed), checks the file
with ``onnx.checker`` and runs it in ONNX Runtime against PyTorch (max abs diff < 1e-3).

Dynamic H/W: exported with dynamic batch/height/width axes, then verified at a second,
non-square size. A model whose graph bakes sizes in (tracing records Python ints) fails
that check and is re-exported at a fixed ``size`` x ``size``; :class:`OnnxInpaintModel`
then resizes its inputs to that size and the result back (the caller composites).

Every export is verified on two different inputs at the export size, so a graph that
traced an input-dependent value as a constant is caught rather than shipped.

Partly exportable: DeepFill v2 with a classical coarse stage (``coarse="telea"``, ``"ns"``
or ``"smooth"``) runs OpenCV inside ``forward`` (a per-sample uint8 call no graph can hold).
Its export takes the coarse result as a third input, ``(image, mask, coarse)``: the network
part (refinement stage) is the graph, and :class:`OnnxInpaintModel` computes the coarse
stage with OpenCV before calling ONNX Runtime (metadata ``coarse=<method>``). The result
equals the PyTorch model's.

Not exportable (an :class:`InpaintError` says so): the classical methods (OpenCV only),
models that set ``onnx_exportable = False`` or to a reason string, and models whose tracing
fails. Stochastic models (pluralistic sampling) export with their random ops; their
numbers cannot be compared to PyTorch, so only shape and finiteness are verified.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.errors import InpaintError

TOLERANCE = 1e-3
MAX_OPSET = 20  # highest opset the retry below may move to (onnxruntime >= 1.17 runs it)
INPUT_NAMES = ("image", "mask")
OUTPUT_NAME = "output"


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

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.inpaint(image, mask)


class _InpaintGraphWithCoarse(nn.Module):
    """(image, mask, coarse) -> model.inpaint(image, mask) with the OpenCV coarse stage
    replaced by the ``coarse`` input while tracing (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.home = sys.modules[type(model).__module__]

    def forward(self, image: torch.Tensor, mask: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        original = self.home.classical_coarse
        self.home.classical_coarse = lambda x, m, method: coarse
        try:
            return self.model.inpaint(image, mask)
        finally:
            self.home.classical_coarse = original


def _external_coarse(model: Any) -> str:
    """The classical coarse method of a model (DeepFill ``coarse="telea"`` etc.), else ""."""
    from inpaintkit.classical import CLASSICAL_METHODS

    home = sys.modules.get(type(model).__module__)
    method = getattr(getattr(model, "config", None), "coarse", None)
    if method in CLASSICAL_METHODS and callable(getattr(home, "classical_coarse", None)):
        return str(method)
    return ""


def classical_coarse_input(image: torch.Tensor, mask: torch.Tensor, method: str) -> torch.Tensor:
    """The ``coarse`` input of a classical-coarse export: the fill (radius 3) of the masked image."""
    from inpaintkit.conventions import masked_input
    from inpaintkit.inference.classical import ClassicalInpainter

    return ClassicalInpainter(method, 3).inpaint(masked_input(image, mask), mask)


def _feed(session, image: torch.Tensor, mask: torch.Tensor, coarse_method: str) -> dict[str, np.ndarray]:
    feed = {"image": image.detach().float().cpu().numpy(), "mask": mask.detach().float().cpu().numpy()}
    if "coarse" in {i.name for i in session.get_inputs()}:
        image_c, mask_c = image.detach().float().cpu(), mask.detach().float().cpu()
        feed["coarse"] = classical_coarse_input(image_c, mask_c, coarse_method).numpy()
    return feed


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


def _ort_session(path: str | os.PathLike, device: torch.device | None = None, threads: int | None = None):
    try:
        import onnxruntime as ort
    except ImportError:
        raise InpaintError("ONNX support needs onnxruntime: pip install 'inpaintkit[export]'") from None
    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures surface as exceptions; no duplicate log lines
    if threads:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if device is not None and device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(os.fspath(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InpaintError(f"cannot load ONNX model {path}: {first}") from None


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
    inputs = [*INPUT_NAMES, "coarse"][: len(example)]
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


def _compare(session, model: nn.Module, image: torch.Tensor, mask: torch.Tensor,
             stochastic: bool) -> float | None:
    got = session.run([OUTPUT_NAME], _feed(session, image, mask, _external_coarse(model)))[0]
    if got.shape != tuple(image.shape) or not np.isfinite(got).all():
        raise ValueError(f"ONNX output has shape {got.shape} (expected {tuple(image.shape)}) or NaNs")
    if stochastic:
        return None
    with torch.no_grad():
        want = model.inpaint(image, mask).detach().cpu().numpy()
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


def export_onnx(model: nn.Module | str | os.PathLike, path: str | os.PathLike, size: int = 256,
                dynamic: bool = True, opset: int = 17) -> ExportResult:
    """Export ``model.inpaint`` to ONNX at ``path`` (written atomically) and verify it.

    ``model`` is a module or anything :func:`~inpaintkit.inference.load_model` accepts.
    ``size`` (rounded up to the model's ``multiple``) is the example/verification size and,
    when dynamic shapes fail, the fixed input size.
    """
    import onnx

    from inpaintkit.inference.classical import ClassicalInpainter
    from inpaintkit.inference.weights import registry_name, resolve_model

    if isinstance(model, (str, os.PathLike)):
        loaded = resolve_model(model, "cpu")
        module, name = loaded.model, loaded.name
    else:
        module = model
        try:
            name = getattr(module, "name", None) or registry_name(module)
        except InpaintError:  # an unregistered module can still be exported
            name = type(module).__name__
    if isinstance(module, ClassicalInpainter):
        raise InpaintError(
            f"'{name}' is OpenCV inpainting, not a network: it cannot be exported to ONNX "
            f"(use it directly with --model {name})"
        )
    if isinstance(module, OnnxInpaintModel):
        raise InpaintError(f"'{name}' is already an ONNX model")
    reason = getattr(module, "onnx_exportable", True)
    if reason is not True:
        why = reason if isinstance(reason, str) else "it runs non-traceable code in inpaint"
        raise InpaintError(f"model '{name}' is not exportable to ONNX: {why}")
    multiple = int(getattr(module, "multiple", 1))
    size = max(int(size), multiple)
    size = -(-size // multiple) * multiple
    stochastic = bool(getattr(module, "pluralistic", False) or getattr(module, "stochastic", False))

    module.eval()
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    coarse_mode = _external_coarse(module)
    graph = (_InpaintGraphWithCoarse(module) if coarse_mode else _InpaintGraph(module)).eval()
    image, mask = _example((size, size), device)
    # Same size, other content: catches values traced as constants.
    same_size = _example((size, size), device, seed=2)
    # A second, non-square size to check that the dynamic axes really are dynamic.
    # (Larger, not smaller: some models need a minimum size, e.g. 2x2 at the bottleneck.)
    other = _example((size + 2 * multiple, size + multiple), device, seed=1)

    def example(pair: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if coarse_mode:
            return (*pair, classical_coarse_input(*pair, coarse_mode).to(device))
        return pair

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
            opset, is_dynamic = _export_with_fallbacks(
                graph, example((image, mask)), tmp, opset, dynamic, name, notes
            )
            if is_dynamic:
                try:
                    diff2 = _compare(_ort_session(tmp), module, *other, stochastic)
                    ok = diff2 is None or diff2 < TOLERANCE
                except Exception:
                    ok = False
                if not ok:
                    notes.append(
                        f"'{name}' does not run at other sizes with dynamic H/W: exported at a "
                        f"fixed {size}x{size} (inputs are resized to it)"
                    )
                    try:
                        _torch_export(graph, example((image, mask)), tmp, opset, dynamic=False)
                    except Exception as exc:
                        raise InpaintError(f"model '{name}' cannot be exported to ONNX: {_first_line(exc)}") from None
                    is_dynamic = False
            proto = onnx.load(str(tmp))
            for key, value in {"inpaintkit_model": name, "multiple": str(multiple),
                               "dynamic": str(int(is_dynamic)), "size": str(size),
                               "stochastic": str(int(stochastic)), "coarse": coarse_mode}.items():
                entry = proto.metadata_props.add()
                entry.key, entry.value = key, value
            try:
                onnx.checker.check_model(proto)
            except onnx.checker.ValidationError as exc:
                raise InpaintError(f"exported ONNX graph for '{name}' is invalid: {_first_line(exc)}") from None
            onnx.save(proto, str(tmp))
            try:
                session = _ort_session(tmp)
                diff = _compare(session, module, image, mask, stochastic)
                diff_b = _compare(session, module, *same_size, stochastic)
                diff = None if diff is None else max(diff, diff_b)
            except InpaintError:
                raise
            except Exception as exc:
                raise InpaintError(f"ONNX Runtime cannot run the export of '{name}': {_first_line(exc)}") from None
            if diff is not None and diff >= TOLERANCE:
                raise InpaintError(
                    f"ONNX export of '{name}' differs from PyTorch by {diff:.2e} (> {TOLERANCE:g})"
                )
            if stochastic:
                notes.append(f"'{name}' samples randomly: ONNX output checked for shape only")
            if coarse_mode:
                notes.append(
                    f"'{name}' has an OpenCV {coarse_mode} coarse stage: the graph takes it as a third "
                    f"input 'coarse' (OnnxInpaintModel computes it)"
                )
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
    return ExportResult(path, name, is_dynamic, size, multiple, diff, opset, notes)


class OnnxInpaintModel:
    """An exported generator run by ONNX Runtime, following the generator protocol.

    ``inpaint(image (B,3,H,W) in [-1,1], mask (B,1,H,W))`` -> (B,3,H,W) in [-1,1] (not
    composited). Fixed-size exports resize inputs to their size and the output back.
    """

    pluralistic = False

    def __init__(self, path: str | os.PathLike, device: str | torch.device = "cpu",
                 threads: int | None = None) -> None:
        from inpaintkit.inference.device import resolve_device

        self.path = Path(path)
        if not self.path.is_file():
            raise InpaintError(f"ONNX model {self.path} does not exist")
        self.device = resolve_device(device)
        self.session = _ort_session(self.path, self.device, threads)
        names = [i.name for i in self.session.get_inputs()]
        if names not in (list(INPUT_NAMES), [*INPUT_NAMES, "coarse"]):
            raise InpaintError(f"{self.path} is not an inpaintkit export (inputs {names}, expected image, mask)")
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata: dict[str, Any] = meta
        self._multiple = int(meta.get("multiple", "8"))
        self.dynamic = meta.get("dynamic", "1") == "1"
        self.size = int(meta.get("size", "256"))
        self.stochastic = meta.get("stochastic", "0") == "1"
        self.name = meta.get("inpaintkit_model", self.path.stem)
        # A fixed-size graph works best when the Inpainter feeds it windows of its size.
        self.native_size = None if self.dynamic else self.size

    @property
    def multiple(self) -> int:
        return self._multiple

    def eval(self) -> OnnxInpaintModel:
        return self

    def to(self, *args: Any, **kwargs: Any) -> OnnxInpaintModel:
        return self

    def _run(self, image: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        # Exports made before "smooth" existed say coarse=telea; no metadata means Telea too.
        method = self.metadata.get("coarse") or "telea"
        return self.session.run([OUTPUT_NAME], _feed(self.session, image, mask, method))[0]

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``generator`` is ignored (ONNX Runtime has its own random state)."""
        image_c = image.detach().float().cpu()
        mask_c = (mask.detach().float().cpu() > 0.5).float()
        h, w = image_c.shape[-2:]
        if self.dynamic:
            out = self._run(image_c, mask_c)
            return torch.from_numpy(out).to(image.device)
        results = []
        s = self.size
        for i in range(image_c.shape[0]):
            img, msk = image_c[i : i + 1], mask_c[i : i + 1]
            if (h, w) != (s, s):
                img = F.interpolate(img, size=(s, s), mode="bilinear", align_corners=False)
                # Any hole pixel under a resized pixel makes it a hole (never treat unknown
                # pixels as known).
                msk = F.interpolate(msk, size=(s, s), mode="bilinear", align_corners=False,
                                    antialias=True)
                msk = (msk > 1e-6).float()
            out = torch.from_numpy(self._run(img, msk))
            if (h, w) != (s, s):
                out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            results.append(out)
        return torch.cat(results).clamp(-1, 1).to(image.device)
