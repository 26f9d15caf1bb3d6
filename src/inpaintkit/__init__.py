"""inpaintkit: image inpainting (DeepFill v2, region normalization, pluralistic
completion, partial convolution, classical baselines) as a library, CLI and web app.

Tensor convention (see :mod:`inpaintkit.conventions`): image ``(B,3,H,W)`` float in
[-1, 1] RGB; mask ``(B,1,H,W)`` float in {0, 1}, 1 = hole.
"""

from inpaintkit.errors import InpaintError

__version__ = "0.1.0"
__all__ = ["InpaintError", "composite", "__version__"]


def __getattr__(name: str):
    # Lazy: importing torch costs seconds, and `inpaintkit --version` should not pay it.
    if name == "composite":
        from inpaintkit.conventions import composite

        return composite
    raise AttributeError(f"module 'inpaintkit' has no attribute {name!r}")
