"""Where the Inpainter runs its model: padding to the model's multiple, and the crop
windows of the ``crop`` strategy (see :mod:`inpaintkit.inference.inpainter`).

Windows: the hole is dilated by the crop margin and its connected components
(``cv2.connectedComponentsWithStats``) are groups; groups whose margin-grown boxes still
overlap are merged. Each group gets a window of its hole box plus a context margin of
``max(margin, box side / 2)`` per side, shifted (not shrunk) at image borders; ``own`` marks
the hole pixels that the window pastes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Window:
    y0: int
    y1: int
    x0: int
    x1: int
    own: np.ndarray  # (y1-y0, x1-x0) bool: the hole pixels this window pastes


def merge_boxes(boxes: np.ndarray, margin: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge boxes (n, 4: y0, y1, x0, x1) whose margin-grown versions overlap, repeatedly
    (a merged box may reach new ones). Returns (group index of each box, group boxes).

    Overlap is found by painting the grown boxes and labelling the connected regions, so
    thousands of specks cost a few image-sized passes, not a quadratic number of pairs.
    """
    group_of = np.arange(len(boxes))
    current = boxes.copy()
    while len(current) > 1:
        canvas = np.zeros((h, w), dtype=np.uint8)
        for y0, y1, x0, x1 in current.tolist():
            canvas[max(y0 - margin, 0) : y1 + margin, max(x0 - margin, 0) : x1 + margin] = 1
        _, regions = cv2.connectedComponents(canvas, connectivity=4)
        ids, inverse = np.unique(regions[current[:, 0], current[:, 2]], return_inverse=True)
        if len(ids) == len(current):
            break
        merged = np.stack([np.full(len(ids), h), np.zeros(len(ids), np.int64),
                           np.full(len(ids), w), np.zeros(len(ids), np.int64)], axis=1).astype(np.int64)
        np.minimum.at(merged[:, 0], inverse, current[:, 0])
        np.maximum.at(merged[:, 1], inverse, current[:, 1])
        np.minimum.at(merged[:, 2], inverse, current[:, 2])
        np.maximum.at(merged[:, 3], inverse, current[:, 3])
        group_of = inverse[group_of]
        current = merged
    return group_of, current


def window_around(box: tuple[int, int, int, int], margin: int, h: int, w: int) -> tuple[int, int, int, int]:
    """Box (y0,y1,x0,x1) grown by ``margin``; shifted back inside the image, not shrunk."""
    y0, y1, x0, x1 = box

    def axis(a0: int, a1: int, size: int) -> tuple[int, int]:
        length = min(a1 - a0 + 2 * margin, size)
        start = min(max(a0 - margin, 0), size - length)
        return start, start + length

    wy0, wy1 = axis(y0, y1, h)
    wx0, wx1 = axis(x0, x1, w)
    return wy0, wy1, wx0, wx1


def pad_to(array: np.ndarray, multiple: int) -> np.ndarray:
    """Pad H and W up to ``multiple`` at the bottom/right by symmetric reflection."""
    h, w = array.shape[:2]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return array
    widths = [(0, ph), (0, pw)] + [(0, 0)] * (array.ndim - 2)
    # "symmetric" (edge pixel repeated) works for any pad width, even wider than the image.
    return np.pad(array, widths, mode="symmetric")


def plan_windows(hole: np.ndarray, margin: int) -> list[Window]:
    """The crop windows for ``hole`` (H,W) bool: hole pixels grouped by dilation with
    ``margin`` (see the Inpainter's ``crop`` strategy), one window per group."""
    h, w = hole.shape
    hole_u8 = hole.astype(np.uint8)
    if margin:
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * margin + 1, 2 * margin + 1))
        grouped = cv2.dilate(hole_u8, kernel)
    else:
        grouped = hole_u8
    count, labels, _, _ = cv2.connectedComponentsWithStats(grouped, connectivity=8)
    # Bounding boxes (y0, y1, x0, x1) of the *hole* pixels of each component.
    ys, xs = np.nonzero(hole)
    lab = labels[ys, xs]
    boxes = np.stack([np.full(count, h), np.zeros(count, np.int64),
                      np.full(count, w), np.zeros(count, np.int64)], axis=1).astype(np.int64)
    np.minimum.at(boxes[:, 0], lab, ys)
    np.maximum.at(boxes[:, 1], lab, ys + 1)
    np.minimum.at(boxes[:, 2], lab, xs)
    np.maximum.at(boxes[:, 3], lab, xs + 1)
    components = np.array([i for i in range(1, count) if boxes[i, 1] > 0], dtype=np.int64)
    group_of, group_boxes = merge_boxes(boxes[components], margin, h, w)
    lookup = np.full(count, -1, dtype=np.int64)  # component label -> group
    lookup[components] = group_of
    windows = []
    for g, (y0, y1, x0, x1) in enumerate(group_boxes.tolist()):
        side = max(y1 - y0, x1 - x0)
        wy0, wy1, wx0, wx1 = window_around((y0, y1, x0, x1), max(margin, side // 2), h, w)
        own = (lookup[labels[wy0:wy1, wx0:wx1]] == g) & hole[wy0:wy1, wx0:wx1]
        windows.append(Window(wy0, wy1, wx0, wx1, own))
    return windows
