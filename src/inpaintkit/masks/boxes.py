"""Rectangular hole masks: a random box and the classic centre box.

Both return ``(h, w)`` bool, True = hole. Sizes are fractions of the image side so the
same parameters work at every resolution (DeepFill v1/v2 use a 128x128 box, i.e. 1/2 of a
256 image, shrunk by a random margin of up to 32 px: roughly ``min_frac=0.375``,
``max_frac=0.5`` here).
"""

from __future__ import annotations

import numpy as np


def _check(h: int, w: int) -> None:
    if h <= 0 or w <= 0:
        raise ValueError(f"box mask: size must be positive, got {h}x{w}")


def box_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    *,
    min_frac: float = 0.25,
    max_frac: float = 0.5,
    margin_frac: float = 0.0,
) -> np.ndarray:
    """One axis-aligned box at a random position.

    Box height ``round(U(min_frac, max_frac) * h)`` and width ``round(U(min_frac, max_frac)
    * w)``, drawn independently (so not always square), at least 1 px; the box keeps
    ``margin_frac * side`` away from the borders when there is room for it.
    """
    _check(h, w)
    if not 0 < min_frac <= max_frac <= 1:
        raise ValueError(f"box_mask: need 0 < min_frac <= max_frac <= 1, got "
                         f"{min_frac}, {max_frac}")
    bh = int(np.clip(round(rng.uniform(min_frac, max_frac) * h), 1, h))
    bw = int(np.clip(round(rng.uniform(min_frac, max_frac) * w), 1, w))
    my, mx = int(margin_frac * h), int(margin_frac * w)
    if h - bh - 2 * my < 0:
        my = 0
    if w - bw - 2 * mx < 0:
        mx = 0
    top = int(rng.integers(my, h - bh - my + 1))
    left = int(rng.integers(mx, w - bw - mx + 1))
    mask = np.zeros((h, w), bool)
    mask[top : top + bh, left : left + bw] = True
    return mask


def center_box_mask(h: int, w: int, frac: float = 0.5) -> np.ndarray:
    """The centred box covering ``frac`` of each side (0.5 -> a quarter of the area)."""
    _check(h, w)
    if not 0 < frac <= 1:
        raise ValueError(f"center_box_mask: need 0 < frac <= 1, got {frac}")
    bh, bw = max(1, round(frac * h)), max(1, round(frac * w))
    top, left = (h - bh) // 2, (w - bw) // 2
    mask = np.zeros((h, w), bool)
    mask[top : top + bh, left : left + bw] = True
    return mask


__all__ = ["box_mask", "center_box_mask"]
