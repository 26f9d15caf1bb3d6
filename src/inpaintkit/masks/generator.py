"""Training-mask generator mixing free-form strokes and boxes.

Never uses the irregular-mask test set (that is for evaluation only, see
:class:`~inpaintkit.masks.folder.MaskFolder`): training on it would leak the test masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inpaintkit.masks.boxes import box_mask
from inpaintkit.masks.freeform import free_form_mask


def as_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    """``256`` -> ``(256, 256)``; ``(h, w)`` unchanged; ValueError for non-positive sizes."""
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    else:
        h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size}")
    return h, w


@dataclass
class MixedMaskGenerator:
    """Random training masks: free-form strokes with probability ``p_free_form``, else a box.

    With probability ``p_union`` the other kind is OR'ed in as well (DeepFill v2 trains on
    the union of a box and strokes). Masks with a hole ratio outside
    ``[min_hole_ratio, max_hole_ratio]`` are redrawn (up to ``max_tries`` times, then the
    last one is kept) so that training never sees an empty or nearly full hole.

    Callable as ``gen(h, w, rng) -> (h, w) bool`` (the mask-source protocol of
    :class:`~inpaintkit.data.ImageFolderDataset`); ``gen.sample(rng)`` uses ``size``.
    """

    size: int | tuple[int, int] = 256
    p_free_form: float = 0.7
    p_union: float = 0.2
    min_hole_ratio: float = 0.01
    max_hole_ratio: float = 0.7
    max_tries: int = 10
    free_form_kwargs: dict[str, Any] = field(default_factory=dict)
    box_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.size = as_hw(self.size)
        for name in ("p_free_form", "p_union"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"MixedMaskGenerator: {name} must be in [0, 1]")
        if not 0.0 <= self.min_hole_ratio <= self.max_hole_ratio <= 1.0:
            raise ValueError("MixedMaskGenerator: need 0 <= min_hole_ratio <= max_hole_ratio <= 1")

    def _one(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        free = rng.random() < self.p_free_form
        union = rng.random() < self.p_union
        if free:
            mask = free_form_mask(h, w, rng, **self.free_form_kwargs)
        else:
            mask = box_mask(h, w, rng, **self.box_kwargs)
        if union:
            other = (
                box_mask(h, w, rng, **self.box_kwargs)
                if free
                else free_form_mask(h, w, rng, **self.free_form_kwargs)
            )
            mask |= other
        return mask

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        mask = self._one(h, w, rng)
        for _ in range(self.max_tries - 1):
            if self.min_hole_ratio <= mask.mean() <= self.max_hole_ratio:
                break
            mask = self._one(h, w, rng)
        return mask

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One mask at the configured ``size``."""
        h, w = self.size
        return self(h, w, rng)


__all__ = ["MixedMaskGenerator", "as_hw"]
