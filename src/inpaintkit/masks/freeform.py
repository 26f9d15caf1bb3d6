"""Free-form (brush-stroke) training masks.

Reference: Yu et al., "Free-Form Image Inpainting with Gated Convolution" (DeepFill v2),
ICCV 2019, Algorithm 1, and the ``brush_stroke_mask`` of the official code
(JiahuiYu/generative_inpainting, ``inpaint_ops.py``). Written from the description; the
differences from the official code are listed in :func:`free_form_mask`.

Two generators, both ``(h, w, rng) -> (h, w) bool``, True = hole, fully determined by the
``numpy.random.Generator`` passed in (same seed, same mask):

* :func:`free_form_mask`: the official DeepFill v2 brush strokes (the default for training);
* :func:`free_form_mask_paper`: Algorithm 1 of the paper with its parameters (max vertices,
  max length, max brush width, max angle).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from inpaintkit.masks.boxes import box_mask

_REF_SIZE = 256.0  # the official parameters are tuned for 256x256 images


def _scale(h: int, w: int) -> float:
    return min(h, w) / _REF_SIZE


def _draw_stroke(mask: np.ndarray, points: list[tuple[int, int]], width: int) -> None:
    """A polyline of thickness ``width`` with a filled disk at every vertex (round joints)."""
    width = max(1, int(width))
    for p, q in zip(points[:-1], points[1:], strict=True):
        cv2.line(mask, p, q, 1, thickness=width, lineType=cv2.LINE_8)
    for p in points:
        cv2.circle(mask, p, width // 2, 1, thickness=-1, lineType=cv2.LINE_8)


def _random_flips(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # The official code draws N(0,1) > 0 for each flip (its result is then discarded by a
    # bug, `mask.transpose(...)` without assignment); here the flips are really applied.
    if rng.normal() > 0:
        mask = mask[:, ::-1]
    if rng.normal() > 0:
        mask = mask[::-1, :]
    return np.ascontiguousarray(mask)


def free_form_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    *,
    min_strokes: int = 1,
    max_strokes: int = 3,
    min_vertex: int = 4,
    max_vertex: int = 11,
    mean_angle: float = 2 * math.pi / 5,
    angle_range: float = 2 * math.pi / 15,
    min_width: float = 12.0,
    max_width: float = 40.0,
    flip: bool = True,
    with_box: bool = False,
) -> np.ndarray:
    """DeepFill v2 brush-stroke mask, ``(h, w)`` bool, True = hole.

    Per stroke (``min_strokes..max_strokes``, default 1-3):

    * ``n`` in ``min_vertex..max_vertex`` (inclusive, default 4-11, as the official
      ``randint(4, 12)``) segments, i.e. ``n + 1`` points, starting at a uniform random pixel;
    * angle bounds ``a_min = mean_angle - U(0, angle_range)``,
      ``a_max = mean_angle + U(0, angle_range)`` (mean 2pi/5, range 2pi/15); segment ``i``
      turns by ``2pi - U(a_min, a_max)`` for even ``i`` and ``U(a_min, a_max)`` for odd
      ``i``, which makes the zig-zag of a human brush;
    * step lengths ``N(R, R/2)`` clipped to ``[0, 2R]`` with ``R = sqrt(h^2 + w^2) / 8``;
      points clipped to the image;
    * width ``U(min_width, max_width)`` (12-40) **scaled by min(h, w) / 256**: the official
      widths are in pixels of a 256x256 image, the scaling keeps the same relative stroke
      thickness (and hole ratio) at every resolution;
    * drawn with ``cv2.line`` plus a filled disk of diameter ``width`` at every point.

    Then a random left-right and up-down flip (``flip``), and with ``with_box`` the union
    with a random :func:`~inpaintkit.masks.boxes.box_mask` (as DeepFill v2 trains on the
    union of both). Differences from the official code: its flips are no-ops (bug), it
    swaps width and height for non-square images, and its widths are not scaled.
    """
    if h <= 0 or w <= 0:
        raise ValueError(f"free_form_mask: size must be positive, got {h}x{w}")
    if not 1 <= min_strokes <= max_strokes or not 1 <= min_vertex <= max_vertex:
        raise ValueError("free_form_mask: need 1 <= min_strokes <= max_strokes and "
                         "1 <= min_vertex <= max_vertex")
    mask = np.zeros((h, w), np.uint8)
    radius = math.sqrt(h * h + w * w) / 8
    s = _scale(h, w)
    for _ in range(int(rng.integers(min_strokes, max_strokes + 1))):
        n = int(rng.integers(min_vertex, max_vertex + 1))
        a_min = mean_angle - rng.uniform(0, angle_range)
        a_max = mean_angle + rng.uniform(0, angle_range)
        angles = [
            2 * math.pi - rng.uniform(a_min, a_max) if i % 2 == 0 else rng.uniform(a_min, a_max)
            for i in range(n)
        ]
        x, y = float(rng.integers(0, w)), float(rng.integers(0, h))
        points = [(int(x), int(y))]
        for a in angles:
            r = float(np.clip(rng.normal(radius, radius / 2), 0, 2 * radius))
            x = float(np.clip(x + r * math.cos(a), 0, w - 1))
            y = float(np.clip(y + r * math.sin(a), 0, h - 1))
            points.append((int(x), int(y)))
        width = rng.uniform(min_width, max_width) * s
        _draw_stroke(mask, points, int(round(width)))
    out = mask.astype(bool)
    if flip:
        out = _random_flips(out, rng)
    if with_box:
        out |= box_mask(h, w, rng)
    return out


def free_form_mask_paper(
    h: int,
    w: int,
    rng: np.random.Generator,
    *,
    max_strokes: int = 4,
    max_vertex: int = 12,
    max_length: float = 60.0,
    max_brush_width: float = 40.0,
    min_brush_width: float = 10.0,
    max_angle: float = math.pi,
) -> np.ndarray:
    """Free-form mask following Algorithm 1 of the DeepFill v2 paper, ``(h, w)`` bool.

    For each of ``U{1..max_strokes}`` strokes: start at a uniform random pixel; for each of
    ``U{1..max_vertex}`` segments draw ``angle = U(0, max_angle)`` (replaced by
    ``2pi - angle`` on even segments), ``length = U(0, max_length)``,
    ``brush_width = U(min_brush_width, max_brush_width)`` and draw a line of that width from
    the current point to ``(x + length * sin(angle), y + length * cos(angle))`` (clipped to
    the image), which becomes the next start. Lengths and widths are in pixels of a 256 px
    image and scaled by ``min(h, w) / 256``; ``max_angle`` is in radians. A disk at every
    joint keeps the stroke continuous.
    """
    if h <= 0 or w <= 0:
        raise ValueError(f"free_form_mask_paper: size must be positive, got {h}x{w}")
    if max_strokes < 1 or max_vertex < 1 or max_brush_width < min_brush_width:
        raise ValueError("free_form_mask_paper: need max_strokes >= 1, max_vertex >= 1 and "
                         "max_brush_width >= min_brush_width")
    s = _scale(h, w)
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, max_strokes + 1))):
        x, y = float(rng.integers(0, w)), float(rng.integers(0, h))
        for i in range(int(rng.integers(1, max_vertex + 1))):
            angle = rng.uniform(0, max_angle)
            if i % 2 == 0:
                angle = 2 * math.pi - angle
            length = rng.uniform(0, max_length) * s
            width = max(1, int(round(rng.uniform(min_brush_width, max_brush_width) * s)))
            nx = float(np.clip(x + length * math.sin(angle), 0, w - 1))
            ny = float(np.clip(y + length * math.cos(angle), 0, h - 1))
            _draw_stroke(mask, [(int(x), int(y)), (int(nx), int(ny))], width)
            x, y = nx, ny
    return mask.astype(bool)


__all__ = ["free_form_mask", "free_form_mask_paper"]
