"""An exported generator run by ONNX Runtime, behind the generator protocol.

The graph written by :func:`inpaintkit.inference.export.export_onnx` has the inputs
``image`` (B,3,H,W) in [-1,1] and ``mask`` (B,1,H,W), 1 = hole, plus ``coarse`` (B,3,H,W)
for networks with a classical coarse input (metadata ``coarse=<method>``); its output is
(B,3,H,W) in [-1,1], not composited. :class:`OnnxInpaintModel` computes that coarse input
itself (:func:`~inpaintkit.models.classical.coarse_from_tensors`, as the Inpainter does for
PyTorch models), so to its callers it takes only image and mask (``coarse_input = None``).
Fixed-size exports resize their inputs to the export size and the output back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from inpaintkit.errors import InpaintError, NotFound
from inpaintkit.inference.device import resolve_device
from inpaintkit.models.base import GeneratorProtocol
from inpaintkit.models.classical import coarse_from_tensors

INPUT_NAMES = ("image", "mask")
COARSE_NAME = "coarse"
OUTPUT_NAME = "output"


def ort_session(path: str | os.PathLike, device: torch.device | None = None, threads: int | None = None):
    """An ONNX Runtime session (CUDA first when ``device`` is a GPU and it is available)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InpaintError("ONNX support needs onnxruntime: pip install 'inpaintkit[export]'") from None
    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures surface as exceptions; no duplicate log lines
    # ONNX Runtime's threads busy-wait for work after each run by default; on a 2-core
    # machine that takes the cores from whatever runs next (measured: the official PyTorch
    # code timed right after an ONNX call ran up to 1.6x slower in bench_peers.py).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
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


def session_feed(session, image: torch.Tensor, mask: torch.Tensor,
                 coarse: torch.Tensor | None) -> dict[str, np.ndarray]:
    """The inputs of one ``session.run``; ``coarse`` only when the graph has that input."""
    feed = {"image": image.detach().float().cpu().numpy(), "mask": mask.detach().float().cpu().numpy()}
    if COARSE_NAME in {i.name for i in session.get_inputs()}:
        if coarse is None:
            raise ValueError("this ONNX graph needs its coarse input")
        feed[COARSE_NAME] = coarse.detach().float().cpu().numpy()
    return feed


class OnnxInpaintModel(GeneratorProtocol):
    """An exported generator run by ONNX Runtime (see the module docstring)."""

    exportable: ClassVar[bool] = False  # it is an export already

    def __init__(self, path: str | os.PathLike, device: str | torch.device = "cpu",
                 threads: int | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise NotFound(f"ONNX model {self.path} does not exist")
        self.device = resolve_device(device)
        self.session = ort_session(self.path, self.device, threads)
        names = [i.name for i in self.session.get_inputs()]
        if names not in (list(INPUT_NAMES), [*INPUT_NAMES, COARSE_NAME]):
            raise InpaintError(f"{self.path} is not an inpaintkit export (inputs {names}, expected image, mask)")
        meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self.metadata: dict[str, Any] = meta
        self._multiple = int(meta.get("multiple", "8"))
        self.dynamic = meta.get("dynamic", "1") == "1"
        self.size = int(meta.get("size", "256"))
        self.stochastic = meta.get("stochastic", "0") == "1"  # type: ignore[misc]
        self.name = meta.get("inpaintkit_model", self.path.stem)
        # Exports made before "smooth" existed say coarse=telea; no metadata means Telea too.
        self.coarse_method = (meta.get("coarse") or "telea") if COARSE_NAME in names else None

    @property
    def multiple(self) -> int:
        return self._multiple

    @property
    def native_size(self) -> int | None:
        # A fixed-size graph works best when the Inpainter feeds it windows of its size.
        return None if self.dynamic else self.size

    def eval(self) -> OnnxInpaintModel:
        return self

    def to(self, *args: Any, **kwargs: Any) -> OnnxInpaintModel:
        return self

    def _run(self, image: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        coarse = None if self.coarse_method is None else coarse_from_tensors(image, mask, self.coarse_method)
        return self.session.run([OUTPUT_NAME], session_feed(self.session, image, mask, coarse))[0]

    def inpaint(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        coarse: torch.Tensor | None = None,
        sketch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``generator`` is ignored (ONNX Runtime has its own random state)."""
        self.check_extra_inputs(image, coarse, sketch)
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
