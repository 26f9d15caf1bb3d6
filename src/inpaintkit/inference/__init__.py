"""Inference: load a model by name or path, fill holes in images, export to ONNX.

* :class:`Inpainter` - uint8 image + bool mask -> K completed uint8 images (known pixels
  bit-identical), with padding and crop/resize strategies for large images;
* :func:`resolve_model` / :func:`load_model` - ``default``, registry names (the classical
  ``telea`` / ``ns`` / ``smooth`` included), checkpoint folders and ``.onnx`` files;
  :func:`available_models` lists the names (the web app and the CLI ask here, not the
  registry);
* :func:`export_onnx` / :class:`OnnxInpaintModel` - ONNX export and ONNX Runtime inference.

The checkpoint format itself lives in :mod:`inpaintkit.models.serialization`;
:func:`save_model`, :func:`read_checkpoint_config` and :func:`registry_name` are
re-exported here for convenience.
"""

from inpaintkit.inference.device import resolve_device
from inpaintkit.inference.export import ExportResult, export_onnx
from inpaintkit.inference.inpainter import STRATEGIES, Inpainter, check_generator
from inpaintkit.inference.onnx_model import OnnxInpaintModel
from inpaintkit.inference.weights import (
    DEFAULT_WEIGHTS,
    ModelChoice,
    UntrainedModelWarning,
    available_models,
    load_model,
    resolve_model,
)
from inpaintkit.models.serialization import read_checkpoint_config, registry_name, save_model

__all__ = [
    "DEFAULT_WEIGHTS",
    "STRATEGIES",
    "ExportResult",
    "Inpainter",
    "ModelChoice",
    "OnnxInpaintModel",
    "UntrainedModelWarning",
    "available_models",
    "check_generator",
    "export_onnx",
    "load_model",
    "read_checkpoint_config",
    "registry_name",
    "resolve_device",
    "resolve_model",
    "save_model",
]
