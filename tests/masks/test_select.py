"""``masks.select``: the proposal against shapes drawn here (the reference is the drawing), the
dilation against a Euclidean distance transform (scipy), the seeds, and the prompt checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from inpaintkit.errors import InpaintError
from inpaintkit.masks.select import (
    DEFAULT_DILATE,
    check_prompt,
    grow,
    parse_box,
    parse_point,
    select_object,
)


def _background(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Greenish noise with a gradient: a textured surround, nothing like the objects' colours."""
    rng = np.random.default_rng(seed)
    base = np.stack([40 + 60 * np.linspace(0, 1, w)[None, :].repeat(h, 0),
                     np.full((h, w), 140.0), np.full((h, w), 70.0)], axis=-1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def _star(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    """A five-pointed star-like blob: radius modulated by angle (concave, not an ellipse)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    angle = np.arctan2(yy - cy, xx - cx)
    return np.hypot(yy - cy, xx - cx) < r * (0.7 + 0.3 * np.cos(5 * angle))


def _paint(image: np.ndarray, shape: np.ndarray, colour: tuple[int, int, int], seed: int = 1) -> np.ndarray:
    out = image.copy()
    noise = np.random.default_rng(seed).normal(0, 8, (int(shape.sum()), 3))
    out[shape] = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
    return out


def _box_of(shape: np.ndarray, margin: float = 0.05) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(shape)
    h, w = shape.shape
    my, mx = round(margin * (np.ptp(ys) + 1)), round(margin * (np.ptp(xs) + 1))
    return max(0, xs.min() - mx), max(0, ys.min() - my), min(w, xs.max() + 1 + mx), min(h, ys.max() + 1 + my)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture()
def star_scene() -> tuple[np.ndarray, np.ndarray]:
    h, w = 120, 160
    shape = _star(h, w, 60, 75, 40)
    return _paint(_background(h, w), shape, (200, 40, 160)), shape


def test_box_selects_a_concave_shape(star_scene):
    image, shape = star_scene
    raw = select_object(image, _box_of(shape), dilate=0)
    assert raw.shape == shape.shape and raw.dtype == bool
    assert _iou(raw, shape) > 0.95
    assert not raw[:, 140:].any()  # nothing far outside the box


def test_default_dilation_covers_the_rim(star_scene):
    image, shape = star_scene
    hole = select_object(image, _box_of(shape))
    assert (shape & ~hole).sum() <= 0.002 * shape.sum()
    # grown by DEFAULT_DILATE px, no more: every selected pixel is that close to the object
    distance = ndimage.distance_transform_edt(~shape)
    assert distance[hole].max() <= DEFAULT_DILATE + 2


@pytest.mark.parametrize("px", [1, 3, 6])
def test_grow_is_a_disc_dilation(px):
    rng = np.random.default_rng(px)
    mask = rng.random((40, 50)) > 0.97
    grown = grow(mask, px)
    distance = ndimage.distance_transform_edt(~mask)  # Euclidean distance to the nearest True pixel
    assert grown[distance <= px - 0.5].all()  # everything inside the disc ...
    assert not grown[distance > px + 0.5].any()  # ... and nothing beyond it
    assert np.array_equal(grow(mask, 0), mask)


def test_working_size_path_keeps_the_boundary():
    """A crop over max_work_pixels runs shrunk, then is snapped at full size: still tight."""
    h, w = 400, 520
    shape = _star(h, w, 200, 250, 150)
    image = _paint(_background(h, w, seed=3), shape, (210, 200, 40))
    raw = select_object(image, _box_of(shape), dilate=0, max_work_pixels=6000)  # about 1/20 of the crop
    assert _iou(raw, shape) > 0.97
    boundary_error = np.logical_xor(raw, shape)
    distance = ndimage.distance_transform_edt(~(shape ^ ndimage.binary_erosion(shape)))
    assert distance[boundary_error].max() <= 3  # wrong pixels only next to the true outline


def test_negative_point_removes_the_second_object():
    h, w = 100, 160
    left, right = np.zeros((h, w), bool), np.zeros((h, w), bool)
    left[25:75, 20:75] = True
    right[25:75, 85:140] = True
    image = _paint(_paint(_background(h, w), left, (220, 60, 60)), right, (60, 60, 230), seed=2)
    box = (12, 18, 148, 82)
    both = select_object(image, box, dilate=0)
    assert _iou(both, left | right) > 0.9
    only_left = select_object(image, box, [(112, 50, False)], dilate=0)
    assert _iou(only_left, left) > 0.9


def test_clicks_alone_select_the_clicked_region():
    h, w = 100, 160
    shape = _star(h, w, 50, 55, 35)
    other = np.zeros((h, w), bool)
    other[30:70, 120:150] = True  # same colour, away from the click: not selected
    image = _paint(_paint(_background(h, w), shape, (200, 40, 160)), other, (200, 40, 160), seed=4)
    raw = select_object(image, None, [(55, 50, True)], dilate=0)
    assert _iou(raw, shape) > 0.9
    assert not raw[other].any()


def test_whole_image_box_and_tiny_box_do_not_fail(star_scene):
    image, shape = star_scene
    h, w = shape.shape
    assert _iou(select_object(image, (0, 0, w, h), dilate=0), shape) > 0.8
    tiny = select_object(image, (10, 10, 11, 12), dilate=0)  # too few pixels to model: the box itself
    assert tiny.sum() == 2 and tiny[10:12, 10].all()


@pytest.mark.parametrize(
    ("box", "points", "words"),
    [
        ((0, 0, 161, 10), [], "outside the 160x120 image"),
        ((-1, 0, 10, 10), [], "outside"),
        ((10, 10, 10, 30), [], "zero area"),
        ((10, 30, 20, 20), [], "zero area"),
        ((0, 0, 10, 10), [(160, 5, True)], "point 160,5 is outside"),
        (None, [(5, 5, False)], "needs a box or at least one positive point"),
        (None, [], "needs a box"),
    ],
)
def test_bad_prompts_are_one_line_errors(box, points, words):
    with pytest.raises(InpaintError, match=words) as info:
        check_prompt((120, 160), box, points)
    assert "\n" not in str(info.value)
    with pytest.raises(InpaintError, match=words):
        select_object(np.zeros((120, 160, 3), np.uint8), box, points)


def test_parsing():
    assert parse_box("1,2,30,40") == (1, 2, 30, 40)
    assert parse_box(" 1, 2, 30, 40 ") == (1, 2, 30, 40)
    assert parse_point("5,6") == (5, 6, True)
    assert parse_point("5,6,-") == (5, 6, False)
    assert parse_point("5,6,+") == (5, 6, True)
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5", ""):
        with pytest.raises(InpaintError, match="box"):
            parse_box(bad)
    for bad in ("5", "5,x", "5,6,?", "5,6,7,8"):
        with pytest.raises(InpaintError, match="point"):
            parse_point(bad)
