"""Random and centre box masks."""

from __future__ import annotations

import numpy as np
import pytest

from inpaintkit.masks import box_mask, center_box_mask


def _bbox(m: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(m)
    return ys.min(), ys.max() + 1, xs.min(), xs.max() + 1


def test_box_is_a_filled_rectangle_within_the_size_range():
    for s in range(50):
        m = box_mask(100, 200, np.random.default_rng(s), min_frac=0.2, max_frac=0.4)
        y0, y1, x0, x1 = _bbox(m)
        assert m[y0:y1, x0:x1].all() and m.sum() == (y1 - y0) * (x1 - x0)
        assert 20 <= y1 - y0 <= 40 and 40 <= x1 - x0 <= 80


def test_box_margin_and_determinism():
    for s in range(50):
        m = box_mask(100, 100, np.random.default_rng(s), min_frac=0.3, max_frac=0.3,
                     margin_frac=0.1)
        y0, y1, x0, x1 = _bbox(m)
        assert y0 >= 10 and x0 >= 10 and y1 <= 90 and x1 <= 90
    a = box_mask(64, 64, np.random.default_rng(7))
    np.testing.assert_array_equal(a, box_mask(64, 64, np.random.default_rng(7)))
    assert len({box_mask(64, 64, np.random.default_rng(s)).tobytes() for s in range(10)}) > 5


def test_center_box():
    m = center_box_mask(64, 128)
    assert m.sum() == 32 * 64
    assert _bbox(m) == (16, 48, 32, 96)
    assert center_box_mask(10, 10, frac=1.0).all()
    with pytest.raises(ValueError):
        center_box_mask(10, 10, frac=0)
    with pytest.raises(ValueError):
        box_mask(10, 10, np.random.default_rng(0), min_frac=0.6, max_frac=0.5)
