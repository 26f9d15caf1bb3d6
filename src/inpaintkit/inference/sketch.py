"""The optional user sketch of guided models (``sketch_channels`` > 0: the default
``patchmatch_lf``, whose strokes are walls of its structure fill, ``models/structure.py``,
and DeepFill v2 with ``in_extra=1``), as the Inpainter takes it: one (H,W) bool array,
True = stroke, that then travels with the mask (padded, resized, cropped the same way).
Only strokes inside the hole guide; the Inpainter notes that those outside are ignored.

Accepted: an (H,W) uint8 array (> 127 = stroke: white strokes on black, the file
convention), an (H,W) bool array, or a float array / tensor in [0, 1] of shape (H,W),
(1,H,W) or (1,1,H,W) (> 0.5 = stroke; the tensor convention (B,1,H,W), one image).
"""

from __future__ import annotations

import numpy as np
import torch

from inpaintkit.errors import InpaintError


def sketch_strokes(sketch: np.ndarray | torch.Tensor, shape: tuple[int, int], model_name: str,
                   channels: int) -> np.ndarray:
    """``sketch`` as an (H,W) bool array for an image of ``shape`` (H, W); an
    InpaintError for a model without sketch channels or a sketch of another size."""
    if channels == 0:
        raise InpaintError(f"model '{model_name}' takes no sketch (it has no sketch channel; "
                           f"use the default, patchmatch_lf, or a DeepFill v2 trained with in_extra=1)")
    if isinstance(sketch, torch.Tensor):
        sketch = sketch.detach().cpu().float().numpy()
    array = np.asarray(sketch)
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise InpaintError(f"sketch must be one (H,W) channel, got shape {np.asarray(sketch).shape}")
    if array.shape != tuple(shape):
        raise InpaintError(f"sketch is {array.shape[1]}x{array.shape[0]} but the image is "
                           f"{shape[1]}x{shape[0]} (draw it on the image's size)")
    if array.dtype == bool:
        return np.ascontiguousarray(array)
    if array.dtype == np.uint8:
        return array > 127
    return np.asarray(array, dtype=np.float32) > 0.5
