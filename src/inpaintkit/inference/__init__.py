"""Inference: load a model, fill holes in images, export to ONNX.

* :class:`Inpainter` - uint8 image + bool mask -> K completed uint8 images (known pixels
  bit-identical), with padding and crop/resize strategies for large images;
* :func:`load_model` / :func:`save_model` - safetensors checkpoints (never pickle);
* :class:`ClassicalInpainter` - OpenCV Telea / Navier-Stokes behind the model protocol;
* :func:`export_onnx` / :class:`OnnxInpaintModel` - ONNX export and ONNX Runtime inference.
"""

from inpaintkit.inference.classical import ClassicalInpainter
from inpaintkit.inference.device import resolve_device
from inpaintkit.inference.export import ExportResult, OnnxInpaintModel, export_onnx
from inpaintkit.inference.inpainter import STRATEGIES, Inpainter
from inpaintkit.inference.weights import (
    DEFAULT_WEIGHTS,
    UntrainedModelWarning,
    load_model,
    read_checkpoint_config,
    registry_name,
    resolve_model,
    save_model,
)

__all__ = [
    "DEFAULT_WEIGHTS",
    "STRATEGIES",
    "UntrainedModelWarning",
    "ClassicalInpainter",
    "ExportResult",
    "Inpainter",
    "OnnxInpaintModel",
    "export_onnx",
    "load_model",
    "read_checkpoint_config",
    "registry_name",
    "resolve_device",
    "resolve_model",
    "save_model",
]
