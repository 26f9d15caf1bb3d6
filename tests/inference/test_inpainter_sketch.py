"""The Inpainter's sketch: it travels with the mask through every strategy and lands on
the right pixels; models without a sketch channel and misfit sketches are refused."""

import numpy as np
import pytest
import torch

from inpaintkit.errors import InpaintError
from inpaintkit.inference import Inpainter
from sketch_models import SketchEcho, strong_sketch_deepfill


def scene(h, w, holes):
    rng = np.random.default_rng(0)
    image = rng.integers(60, 200, (h, w, 3), dtype=np.uint8)
    hole = np.zeros((h, w), bool)
    for y0, y1, x0, x1 in holes:
        hole[y0:y1, x0:x1] = True
    yy, xx = np.mgrid[0:h, 0:w]
    sketch = ((xx - yy) % 9 == 0).astype(np.uint8) * 255  # diagonal lines everywhere
    return image, hole, sketch


def expected(image, hole, sketch):
    """SketchEcho composited: white on strokes, black elsewhere in the hole, input outside."""
    out = image.copy()
    out[hole] = np.where((sketch[hole] > 127)[:, None], 255, 0)
    return out


def test_full_strategy_pads_the_sketch_with_the_mask():
    image, hole, sketch = scene(43, 58, [(5, 30, 10, 50)])  # not multiples of 8: padding
    inp = Inpainter(SketchEcho(), device="cpu", strategy="full")
    assert np.array_equal(inp.inpaint(image, hole, sketch=sketch)[0], expected(image, hole, sketch))
    as_tensor = torch.from_numpy(sketch > 0).float()[None, None]  # (1,1,H,W), 1 = stroke
    assert np.array_equal(inp.inpaint(image, hole, sketch=as_tensor)[0], expected(image, hole, sketch))


def test_crop_windows_cut_the_sketch_at_their_own_place():
    image, hole, sketch = scene(200, 240, [(20, 34, 30, 44), (150, 162, 190, 206)])
    inp = Inpainter(SketchEcho(), device="cpu", strategy="crop", native_size=64, crop_margin=8)
    out = inp.inpaint(image, hole, sketch=sketch)[0]
    assert inp.last_strategy == "crop" and "2 windows" in " ".join(inp.notes)
    assert np.array_equal(out, expected(image, hole, sketch))


def test_resize_keeps_thin_strokes():
    image, hole, _ = scene(256, 256, [(32, 224, 32, 224)])
    sketch = np.zeros((256, 256), np.uint8)
    sketch[:, 128] = 255  # one pixel wide, shrunk 4x: must not vanish
    out = Inpainter(SketchEcho(), device="cpu", strategy="resize", native_size=64).inpaint(
        image, hole, sketch=sketch)[0]
    assert out[60:200, 126:131].max() > 200 and out[60:200, 60:110].max() < 40


def test_models_without_sketch_and_misfit_sketches_are_refused():
    image, hole, sketch = scene(32, 32, [(8, 24, 8, 24)])
    with pytest.raises(InpaintError, match="takes no sketch"):
        Inpainter("telea", device="cpu").inpaint(image, hole, sketch=sketch)
    inp = Inpainter(SketchEcho(), device="cpu")
    with pytest.raises(InpaintError, match="sketch is 31x32 but the image is 32x32"):
        inp.inpaint(image, hole, sketch=sketch[:, :31])
    with pytest.raises(InpaintError, match="one \\(H,W\\) channel"):
        inp.inpaint(image, hole, sketch=np.zeros((32, 32, 3), np.uint8))


def test_a_sketch_deepfill_changes_its_result_only_for_strokes_inside_the_hole(tmp_path):
    inp = Inpainter(str(strong_sketch_deepfill(tmp_path / "m")), device="cpu")
    image, hole, _ = scene(64, 64, [(16, 48, 16, 48)])
    plain = inp.inpaint(image, hole)[0]
    outside = np.zeros((64, 64), np.uint8)
    outside[:, 4] = 255  # a stroke left of the hole: nothing to guide
    assert np.array_equal(inp.inpaint(image, hole, sketch=outside)[0], plain)
    inside = np.zeros((64, 64), np.uint8)
    inside[:, 32] = 255
    guided = inp.inpaint(image, hole, sketch=inside)[0]
    changed = np.nonzero((guided != plain).any(axis=2))
    assert changed[0].size and hole[changed].all()  # only inside the hole
    assert set(np.unique(changed[1])) <= set(range(28, 37))  # along the stroke


def two_tone(h: int = 96, w: int = 128, boundary: int = 40):
    """Issue 29's test image: dark left (60), bright right (190); a tall hole over columns
    24..103 (centre 64), so the boundary at column 40 lies inside it, 24 px off its centre;
    a straight stroke on the boundary, drawn over the whole height (outside the hole too)."""
    image = np.full((h, w, 3), 60, np.uint8)
    image[:, boundary:] = 190
    hole = np.zeros((h, w), bool)
    hole[8:h - 8, 24:104] = True
    sketch = np.zeros((h, w), np.uint8)
    sketch[:, boundary] = 255
    return image, hole, sketch


def step_at(result: np.ndarray, column: int, rows: slice = slice(8, 88)) -> float:
    """Mean grey difference across ``column`` (3 px either side), over the hole's rows."""
    grey = result.astype(np.float64).mean(axis=2)
    return float(np.mean(grey[rows, column + 3] - grey[rows, column - 3]))


def test_the_default_fill_puts_the_two_tone_step_on_the_stroke():
    image, hole, sketch = two_tone()
    inp = Inpainter("default", device="cpu")
    assert inp.model.sketch_channels == 1
    plain = inp.inpaint(image, hole)[0]
    guided = inp.inpaint(image, hole, sketch=sketch)[0]
    assert any("outside the hole are ignored" in n for n in inp.notes)
    tones = 190 - 60
    assert step_at(guided, 40) >= 0.5 * tones
    assert step_at(guided, 40) >= 3 * step_at(plain, 40)
    # mid-height, the unguided fill's steepest step lies nearer the hole's centre (64) than the
    # boundary (40) (near the hole's top and bottom it continues the known edge)
    grey = plain.astype(np.float64).mean(axis=2)[40:56].mean(axis=0)
    steepest = int(np.argmax(np.diff(grey[24:104]))) + 24
    assert abs(steepest - 64) < abs(steepest - 40)
    assert np.array_equal(guided[~hole], image[~hole])


def test_the_default_ignores_strokes_outside_the_hole_and_says_so():
    image, hole, _ = two_tone()
    inp = Inpainter("default", device="cpu")
    plain = inp.inpaint(image, hole)[0]
    outside = np.zeros(hole.shape, np.uint8)
    outside[:, 4] = 255  # left of the hole
    assert np.array_equal(inp.inpaint(image, hole, sketch=outside)[0], plain)
    assert inp.notes == ["sketch: strokes outside the hole are ignored (only the hole is filled)"]
