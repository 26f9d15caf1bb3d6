"""MixedMaskGenerator: the training-mask mix."""

from __future__ import annotations

import numpy as np
import pytest

from inpaintkit.masks import MixedMaskGenerator


def _is_rectangle(m: np.ndarray) -> bool:
    ys, xs = np.nonzero(m)
    return m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()


def test_shapes_determinism_and_ratio_bounds():
    gen = MixedMaskGenerator((48, 80), min_hole_ratio=0.02, max_hole_ratio=0.6)
    a = gen.sample(np.random.default_rng(5))
    assert a.shape == (48, 80) and a.dtype == bool
    np.testing.assert_array_equal(a, gen.sample(np.random.default_rng(5)))
    assert gen(30, 40, np.random.default_rng(0)).shape == (30, 40)
    ratios = [gen.sample(np.random.default_rng(s)).mean() for s in range(100)]
    assert np.mean([0.02 <= r <= 0.6 for r in ratios]) > 0.97


def test_mix_proportions():
    boxes = MixedMaskGenerator(64, p_free_form=0.0, p_union=0.0)
    assert all(_is_rectangle(boxes.sample(np.random.default_rng(s))) for s in range(30))
    strokes = MixedMaskGenerator(64, p_free_form=1.0, p_union=0.0)
    rect = [_is_rectangle(strokes.sample(np.random.default_rng(s))) for s in range(30)]
    assert sum(rect) < 5
    mixed = MixedMaskGenerator(64, p_free_form=0.7, p_union=0.0)
    share = np.mean([_is_rectangle(mixed.sample(np.random.default_rng(s))) for s in range(200)])
    assert 0.15 < share < 0.45  # about 30 % boxes


def test_invalid_arguments():
    with pytest.raises(ValueError):
        MixedMaskGenerator(64, p_free_form=1.5)
    with pytest.raises(ValueError):
        MixedMaskGenerator(0)
