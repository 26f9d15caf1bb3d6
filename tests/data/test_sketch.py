"""The Canny sketch extractor against known geometry and against scikit-image's Canny."""

import numpy as np
import pytest
import torch

from inpaintkit.data.sketch import extract_sketch, sketch_from_uint8


def _tensor(grey: np.ndarray) -> torch.Tensor:
    """(H,W) grey in [0,1] -> (1,3,H,W) in [-1,1]."""
    t = torch.from_numpy(grey.astype(np.float32))
    return (t * 2 - 1).expand(3, -1, -1)[None].contiguous()


def test_a_vertical_step_edge_gives_one_1px_line_on_the_edge_and_nothing_elsewhere():
    grey = np.full((40, 48), 0.2)
    grey[:, 24:] = 0.8  # the edge lies between columns 23 and 24
    s = extract_sketch(_tensor(grey))[0, 0].numpy()
    assert set(np.unique(s)) <= {0.0, 1.0}
    cols = np.nonzero(s.any(axis=0))[0]
    assert cols.tolist() in ([23], [24])  # one column, on the edge
    assert s[:, cols[0]].all()  # unbroken from top to bottom
    assert s.sum() == 40


def test_flat_areas_and_faint_noise_give_no_stroke():
    rng = np.random.default_rng(0)
    flat = np.full((64, 64), 0.5) + rng.normal(0, 0.01, (64, 64))
    assert extract_sketch(_tensor(flat)).sum() == 0
    ramp = np.tile(np.linspace(0.2, 0.8, 64), (64, 1))  # a smooth gradient is no edge either
    assert extract_sketch(_tensor(ramp)).sum() == 0


def test_a_disk_gives_a_thin_closed_contour_at_its_radius():
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(yy - 31.5, xx - 31.5)
    s = extract_sketch(_tensor((r < 18).astype(float) * 0.6 + 0.2))[0, 0].numpy() > 0
    assert np.all(np.abs(r[s] - 18) <= 1.5)  # on the circle
    assert s.sum() > 0.85 * 2 * np.pi * 18  # and all around it
    blocks = s[:-1, :-1] & s[1:, :-1] & s[:-1, 1:] & s[1:, 1:]
    assert not blocks.any()  # never 2 px thick in both directions: a pen line


def test_agrees_with_scikit_image_canny_on_a_photo_like_image():
    feature = pytest.importorskip("skimage.feature")
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:96, 0:96]
    grey = 0.3 + 0.4 * ((xx + 0.5 * yy) > 60) + 0.2 * (np.hypot(yy - 30, xx - 30) < 14)
    grey = np.clip(grey + rng.normal(0, 0.01, grey.shape), 0, 1)
    ours = extract_sketch(_tensor(grey), sigma=1.5, low=0.03, high=0.07)[0, 0].numpy() > 0
    # skimage thresholds its unnormalised Sobel magnitude: 8x the per-pixel derivative we use
    ref = feature.canny(grey, sigma=1.5, low_threshold=0.03 * 8, high_threshold=0.07 * 8)

    def near(a, b):  # share of a's pixels with a pixel of b within 1 px
        return np.mean([b[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2].any() for y, x in np.argwhere(a)])

    assert near(ours, ref) > 0.9 and near(ref, ours) > 0.9


def test_uint8_helper_is_white_strokes():
    img = np.zeros((32, 32, 3), np.uint8)
    img[:, 16:] = 200
    s = sketch_from_uint8(img)
    assert s.dtype == np.uint8 and set(np.unique(s)) == {0, 255}
    assert np.nonzero(s.any(axis=0))[0].tolist() in ([15], [16])
