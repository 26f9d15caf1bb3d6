"""DeepFill v2's own training masks: a box united with free-form strokes, at every step.

Reference: the official training graph (JiahuiYu/generative_inpainting, v2 branch,
``inpaint_model.py::build_graph`` with ``inpaint_ops.py``): every training image gets

    mask = random_bbox_mask  OR  brush_stroke_mask

* ``random_bbox``: a box of ``img_shape / 2`` (128 x 128 at 256 px) at a uniform random
  position, shrunk by ``U{0..max_delta/2}`` pixels per side with ``max_delta = 32`` (so the
  box side is 96-128 px of a 256 px image); sizes here are fractions of the image side so
  the same scheme holds at every resolution;
* ``brush_stroke_mask``: 1-3 zig-zag strokes, 4-11 segments, width 12-40 px at 256 px
  (:func:`~inpaintkit.masks.freeform.free_form_mask`).

The resulting hole covers about 30 % of the image on average (measured at 256 and 128 px in
``tests/masks/test_deepfill_masks.py``), against about 18 % for the project's
:class:`~inpaintkit.masks.MixedMaskGenerator` (strokes *or* a box, sometimes both). The
paper trains on these large holes; the irregular test masks go up to 60 %.
"""

from __future__ import annotations

import numpy as np

from inpaintkit.masks.freeform import free_form_mask

_BOX_FRAC = 0.5  # official: box of img_shape / 2
_DELTA_FRAC = 32 / 256  # official: max_delta_shape 32 px of a 256 px image


def deepfill_box_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """The official ``bbox2mask(random_bbox())``: ``(h, w)`` bool, True = hole.

    A box of half the image side at a uniform position, each side shrunk by an independent
    ``U{0..delta/2}`` pixels (``delta = 32`` px at 256 px, scaled with the image).
    """
    if h <= 0 or w <= 0:
        raise ValueError(f"deepfill_box_mask: size must be positive, got {h}x{w}")
    bh, bw = max(1, round(_BOX_FRAC * h)), max(1, round(_BOX_FRAC * w))
    top = int(rng.integers(0, h - bh + 1))
    left = int(rng.integers(0, w - bw + 1))
    dh = max(0, round(_DELTA_FRAC * h) // 2)
    dw = max(0, round(_DELTA_FRAC * w) // 2)
    sy, sx = int(rng.integers(0, dh + 1)), int(rng.integers(0, dw + 1))
    mask = np.zeros((h, w), bool)
    mask[top + sy : top + bh - sy, left + sx : left + bw - sx] = True
    return mask


def deepfill_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Box OR brush strokes, as every official DeepFill v2 training step: ``(h, w)`` bool."""
    return deepfill_box_mask(h, w, rng) | free_form_mask(h, w, rng)


__all__ = ["deepfill_box_mask", "deepfill_mask"]
