"""The walls of the sketch-guided fill (models/structure.py) against closed-form references:
the membrane fill of a strip is the straight line between its two known columns (and each
side's own colour once a stroke cuts it); the barrier blur of an impulse has about sigma^2
variance and puts nothing behind a wall."""

from __future__ import annotations

import numpy as np
import pytest

from inpaintkit.models.structure import EPS, barrier_blur, barrier_fill, structured_fill


def strip(h: int = 12, w: int = 41, left: float = 20.0, right: float = 220.0):
    """A hole over columns 1..w-2 (all rows: the top and bottom are the image's frame, where
    the membrane has no flux), known columns 0 and w-1."""
    image = np.zeros((h, w, 3), np.float32)
    image[:, 0], image[:, -1] = left, right
    hole = np.zeros((h, w), bool)
    hole[:, 1:-1] = True
    return image, hole


def test_membrane_fill_of_a_strip_is_the_straight_line():
    image, hole = strip()
    out = barrier_fill(image, hole, np.zeros_like(hole))
    line = np.linspace(20.0, 220.0, hole.shape[1])  # Laplace in 1-D: linear between the ends
    np.testing.assert_allclose(out[..., 0], np.broadcast_to(line, hole.shape), rtol=1e-4, atol=1e-3 * 220)
    assert np.array_equal(out[~hole], image[~hole])


def test_a_stroke_across_the_strip_gives_each_side_its_own_colour():
    image, hole = strip()
    barrier = np.zeros_like(hole)
    barrier[:, 15] = True  # off the centre (20): an unguided fill would put its middle at 20
    out = barrier_fill(image, hole, barrier)[..., 0]
    # Through the wall, a link of weight EPS against ~15 of weight 1: the leak is O(EPS * 15).
    leak = 200.0 * 30 * EPS
    assert np.abs(out[:, 1:15] - 20.0).max() < leak
    assert np.abs(out[:, 16:-1] - 220.0).max() < leak
    assert 20.0 < out[0, 15] < 220.0  # the stroke pixel itself: between the two


def test_barrier_blur_spreads_an_impulse_by_sigma():
    sigma, n = 6.0, 121
    x = np.zeros((n, n, 1), np.float32)
    x[n // 2, n // 2] = 1.0
    out = barrier_blur(x, sigma, np.zeros((n, n), bool))[..., 0]
    assert out.sum() == pytest.approx(1.0, rel=1e-3)
    pos = np.arange(n) - n // 2
    var_x = float((out.sum(axis=0) * pos**2).sum())
    var_y = float((out.sum(axis=1) * pos**2).sum())
    # The three passes of the domain transform approximate a Gaussian of variance sigma^2.
    assert var_x == pytest.approx(sigma**2, rel=0.15) and var_y == pytest.approx(sigma**2, rel=0.15)


def test_barrier_blur_puts_nothing_behind_a_wall():
    n = 40
    x = np.zeros((n, n, 2), np.float32)
    x[:, :20] = 5.0  # left half 5, right half 0
    wall = np.zeros((n, n), bool)
    wall[:, 20] = True
    out = barrier_blur(x, 8.0, wall)
    assert np.abs(out[:, 21:]).max() == 0.0 and np.allclose(out[:, :20], 5.0, rtol=1e-5)
    plain = barrier_blur(x, 8.0, np.zeros_like(wall))
    assert plain[:, 21:].max() > 1.0  # without the wall the step is smeared across


def test_structured_fill_keeps_known_pixels_and_ignores_strokes_outside_the_hole():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    hole = np.zeros((24, 32), bool)
    hole[6:18, 8:24] = True
    texture = np.full((24, 32, 3), 100.0, np.float32)
    outside = np.zeros_like(hole)
    outside[:, 2] = True
    a = structured_fill(image, hole, outside, texture, 8.0)
    b = structured_fill(image, hole, np.zeros_like(hole), texture, 8.0)
    assert np.array_equal(a, b) and np.array_equal(a[~hole], image[~hole])
