"""Free-form brush masks: deterministic given the generator, sane hole ratios, scale-free."""

from __future__ import annotations

import numpy as np
import pytest

from inpaintkit.masks import free_form_mask, free_form_mask_paper

GENERATORS = [free_form_mask, free_form_mask_paper]


@pytest.mark.parametrize("gen", GENERATORS)
def test_same_seed_same_mask(gen):
    a = gen(64, 96, np.random.default_rng(123))
    b = gen(64, 96, np.random.default_rng(123))
    assert a.dtype == bool and a.shape == (64, 96)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("gen", GENERATORS)
def test_different_seeds_differ(gen):
    masks = [gen(64, 64, np.random.default_rng(s)) for s in range(8)]
    distinct = {m.tobytes() for m in masks}
    assert len(distinct) == len(masks)


@pytest.mark.parametrize("gen", GENERATORS)
def test_hole_ratio_sanity(gen):
    ratios = np.array([gen(128, 128, np.random.default_rng(s)).mean() for s in range(100)])
    assert (ratios > 0).all()  # a stroke always leaves a hole
    assert 0.03 < ratios.mean() < 0.4
    assert ratios.max() < 0.8


def test_width_scaling_keeps_hole_ratio():
    small = np.mean([free_form_mask(128, 128, np.random.default_rng(s)).mean()
                     for s in range(60)])
    large = np.mean([free_form_mask(512, 512, np.random.default_rng(s)).mean()
                     for s in range(60)])
    assert abs(small - large) < 0.04


def test_parameters_matter():
    thin = np.mean([free_form_mask(128, 128, np.random.default_rng(s), min_width=2,
                                   max_width=4).mean() for s in range(30)])
    thick = np.mean([free_form_mask(128, 128, np.random.default_rng(s)).mean()
                     for s in range(30)])
    assert thin < thick / 3
    one = [free_form_mask(128, 128, np.random.default_rng(s), max_strokes=1, max_vertex=4,
                          min_vertex=4, flip=False).mean() for s in range(30)]
    assert np.mean(one) < thick


def test_with_box_adds_a_box_to_the_same_strokes():
    for s in range(10):
        plain = free_form_mask(96, 96, np.random.default_rng(s))
        boxed = free_form_mask(96, 96, np.random.default_rng(s), with_box=True)
        assert (boxed | plain).sum() == boxed.sum()  # superset
        assert boxed.sum() > plain.sum() or plain.all()


def test_non_square_and_tiny_sizes():
    for h, w in [(32, 200), (200, 32), (8, 8)]:
        m = free_form_mask(h, w, np.random.default_rng(0))
        assert m.shape == (h, w) and m.any()
        assert free_form_mask_paper(h, w, np.random.default_rng(0)).shape == (h, w)
    with pytest.raises(ValueError):
        free_form_mask(0, 10, np.random.default_rng(0))
    with pytest.raises(ValueError):
        free_form_mask(10, 10, np.random.default_rng(0), min_vertex=5, max_vertex=4)


def test_paper_parameters():
    short = np.mean([free_form_mask_paper(128, 128, np.random.default_rng(s), max_length=5,
                                          max_brush_width=12, min_brush_width=10).mean()
                     for s in range(30)])
    long = np.mean([free_form_mask_paper(128, 128, np.random.default_rng(s), max_length=120,
                                         max_brush_width=12, min_brush_width=10).mean()
                    for s in range(30)])
    assert short < long
