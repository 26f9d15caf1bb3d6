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

# The names below are loaded on first use (PEP 562): importing torch costs about a second,
# and the CLI's --help, --version and option choices (STRATEGIES) must not pay it.
STRATEGIES = ("auto", "crop", "resize", "full")
DEFAULT_CLASSICAL = "patchmatch_lf"  # "default" without shipped default weights (weights.py says why)

_LAZY = {
    "resolve_device": "inpaintkit.inference.device",
    "ExportResult": "inpaintkit.inference.export",
    "export_onnx": "inpaintkit.inference.export",
    "Inpainter": "inpaintkit.inference.inpainter",
    "check_generator": "inpaintkit.inference.inpainter",
    "OnnxInpaintModel": "inpaintkit.inference.onnx_model",
    "DEFAULT_WEIGHTS": "inpaintkit.inference.weights",
    "ModelChoice": "inpaintkit.inference.weights",
    "UntrainedModelWarning": "inpaintkit.inference.weights",
    "available_models": "inpaintkit.inference.weights",
    "load_model": "inpaintkit.inference.weights",
    "resolve_model": "inpaintkit.inference.weights",
    "read_checkpoint_config": "inpaintkit.models.serialization",
    "registry_name": "inpaintkit.models.serialization",
    "save_model": "inpaintkit.models.serialization",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'inpaintkit.inference' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # once: later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
