"""ONNX export of a generator's ``inpaint`` and an ONNX Runtime model that runs it.

:func:`export_onnx` wraps ``model.inpaint(image, mask)`` (image (B,3,H,W) in [-1,1], mask
(B,1,H,W), 1 = hole; output (B,3,H,W) in [-1,1], not composited) in a two-input module,
exports it with the TorchScript-based exporter (no ``onnxscript`` needed), checks the file
with ``onnx.checker`` and runs it in ONNX Runtime against PyTorch (max abs diff < 1e-3).

Dynamic H/W: exported with dynamic batch/height/width axes, then verified at a second,
non-square size. A model whose graph bakes sizes in (tracing records Python ints) fails
that check and is re-exported at a fixed ``size`` x ``size``; :class:`OnnxInpaintModel`
then resizes its inputs to that size and the result back (the caller composites).

Not exportable (an :class:`InpaintError` says so): the classical methods (OpenCV runs
outside any graph), models that set ``onnx_exportable = False`` or to a reason string
(e.g. DeepFill with ``coarse="telea"`` runs OpenCV inside ``forward``: train/export it with
the learned coarse stage instead), and models whose tracing fails. Stochastic models
(pluralistic sampling) export with their random ops; their numbers cannot be compared to
PyTorch, so only shape and finiteness are verified.
"""

from __future__ import annotations

import dataclasses
import os
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
    notes: list[str] = dataclasses.field(default_factory=list)


class _InpaintGraph(nn.Module):
    """(image, mask) -> model.inpaint(image, mask): the function that gets exported."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.model.inpaint(image, mask)


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


def _torch_export(graph: nn.Module, example: tuple[torch.Tensor, torch.Tensor], path: Path,
                  opset: int, dynamic: bool) -> None:
    axes = {0: "batch", 2: "height", 3: "width"}
    dynamic_axes = {n: axes for n in (*INPUT_NAMES, OUTPUT_NAME)} if dynamic else None
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs
        # onnxscript (not a dependency); its tracer warnings are expected noise here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph, example, str(path), dynamo=False, opset_version=opset,
            input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
            dynamic_axes=dynamic_axes, do_constant_folding=True,
        )


def _compare(session, model: nn.Module, image: torch.Tensor, mask: torch.Tensor,
             stochastic: bool) -> float | None:
    feed = {"image": image.detach().cpu().numpy(), "mask": mask.detach().cpu().numpy()}
    got = session.run([OUTPUT_NAME], feed)[0]
    if got.shape != tuple(image.shape) or not np.isfinite(got).all():
        raise ValueError(f"ONNX output has shape {got.shape} (expected {tuple(image.shape)}) or NaNs")
    if stochastic:
        return None
    with torch.no_grad():
        want = model.inpaint(image, mask).detach().cpu().numpy()
    return float(np.abs(got - want).max())


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
        name = getattr(module, "name", None) if isinstance(module, ClassicalInpainter) else None
        name = name or (registry_name(module) if isinstance(module, nn.Module) else type(module).__name__)
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
    graph = _InpaintGraph(module).eval()
    image, mask = _example((size, size), device)
    # A second, non-square size to check that the dynamic axes really are dynamic.
    other = _example((size + 2 * multiple, max(size - multiple, multiple)), device, seed=1)

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise InpaintError(f"cannot write {path}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    notes: list[str] = []
    try:
        try:
            _torch_export(graph, (image, mask), tmp, opset, dynamic)
        except Exception as exc:
            raise InpaintError(f"model '{name}' cannot be exported to ONNX: {_first_line(exc)}") from None
        is_dynamic = dynamic
        if dynamic:
            try:
                diff2 = _compare(_ort_session(tmp), module, *other, stochastic)
                ok = diff2 is None or diff2 < TOLERANCE
            except Exception:
                ok = False
            if not ok:
                notes.append(
                    f"'{name}' does not trace with dynamic H/W: exported at a fixed {size}x{size} "
                    f"(inputs are resized to it)"
                )
                _torch_export(graph, (image, mask), tmp, opset, dynamic=False)
                is_dynamic = False
        proto = onnx.load(str(tmp))
        for key, value in {"inpaintkit_model": name, "multiple": str(multiple),
                           "dynamic": str(int(is_dynamic)), "size": str(size),
                           "stochastic": str(int(stochastic))}.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        try:
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as exc:
            raise InpaintError(f"exported ONNX graph for '{name}' is invalid: {_first_line(exc)}") from None
        onnx.save(proto, str(tmp))
        try:
            diff = _compare(_ort_session(tmp), module, image, mask, stochastic)
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
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return ExportResult(path, name, is_dynamic, size, multiple, diff, notes)


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
        if names != list(INPUT_NAMES):
            raise InpaintError(f"{self.path} is not an inpaintkit export (inputs {names}, expected image, mask)")
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata: dict[str, Any] = meta
        self._multiple = int(meta.get("multiple", "8"))
        self.dynamic = meta.get("dynamic", "1") == "1"
        self.size = int(meta.get("size", "256"))
        self.stochastic = meta.get("stochastic", "0") == "1"
        self.name = meta.get("inpaintkit_model", self.path.stem)

    @property
    def multiple(self) -> int:
        return self._multiple

    def eval(self) -> OnnxInpaintModel:
        return self

    def to(self, *args: Any, **kwargs: Any) -> OnnxInpaintModel:
        return self

    def _run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {"image": image, "mask": mask})[0]

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """``generator`` is ignored (ONNX Runtime has its own random state)."""
        image_c = image.detach().float().cpu()
        mask_c = (mask.detach().float().cpu() > 0.5).float()
        h, w = image_c.shape[-2:]
        if self.dynamic:
            out = self._run(image_c.numpy(), mask_c.numpy())
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
            out = torch.from_numpy(self._run(img.numpy(), msk.numpy()))
            if (h, w) != (s, s):
                out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            results.append(out)
        return torch.cat(results).clamp(-1, 1).to(image.device)
