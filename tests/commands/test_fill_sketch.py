"""``inpaintkit fill --sketch``: the strokes reach a guided model; a sketch of another size,
an unreadable one or a model without a sketch channel is one error line, exit 2, and no
output."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app
from sketch_models import strong_sketch_deepfill

H, W = 64, 80


@pytest.fixture(scope="module")
def guided(tmp_path_factory):
    return strong_sketch_deepfill(tmp_path_factory.mktemp("guided") / "model")


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    image, mask, sketch = tmp_path / "photo.png", tmp_path / "mask.png", tmp_path / "sketch.png"
    Image.fromarray(rng.integers(60, 200, (H, W, 3), dtype=np.uint8)).save(image)
    m = np.zeros((H, W), np.uint8)
    m[16:48, 16:64] = 255
    Image.fromarray(m).save(mask)
    s = np.zeros((H, W), np.uint8)
    s[:, 40] = 255  # white stroke on black, across the hole
    Image.fromarray(s).save(sketch)
    return image, mask, sketch


def fill(*args):
    return CliRunner().invoke(app, ["fill", *map(str, args)])


def test_the_sketch_guides_the_fill(guided, files, tmp_path):
    image, mask, sketch = files
    plain, with_sketch = tmp_path / "plain.png", tmp_path / "guided.png"
    assert fill(image, "--mask", mask, "-o", plain, "--model", guided).exit_code == 0
    r = fill(image, "--mask", mask, "--sketch", sketch, "-o", with_sketch, "--model", guided)
    assert r.exit_code == 0, r.output
    a, b = np.asarray(Image.open(plain)), np.asarray(Image.open(with_sketch))
    cols = np.nonzero((a != b).any(axis=(0, 2)))[0]
    assert cols.size and cols.min() >= 36 and cols.max() <= 45  # a band along column 40


@pytest.mark.parametrize("case", ["size", "unreadable", "model"])
def test_bad_sketches_are_one_line_errors_and_write_nothing(guided, files, tmp_path, case):
    image, mask, sketch = files
    model = guided
    if case == "size":
        Image.fromarray(np.zeros((H, W - 1), np.uint8)).save(sketch)
    elif case == "unreadable":
        sketch.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    else:
        model = "telea"
    out = tmp_path / "sub" / "out.png"
    r = fill(image, "--mask", mask, "--sketch", sketch, "-o", out, "--model", model)
    assert r.exit_code == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert {"size": "sketch is 79x64", "unreadable": "sketch", "model": "takes no sketch"}[case] in lines[0]
    assert not out.parent.exists()


def test_the_default_model_takes_the_sketch(tmp_path):
    """No --model: the default (patchmatch_lf) follows a stroke on a two-tone boundary that
    lies inside the hole, off its centre; a sketch drawn at twice the size is fitted like the
    mask with --resize-mask."""
    h, w = 96, 128
    image, mask, sketch = tmp_path / "two.png", tmp_path / "m.png", tmp_path / "s.png"
    pixels = np.full((h, w, 3), 60, np.uint8)
    pixels[:, 40:] = 190
    Image.fromarray(pixels).save(image)
    m = np.zeros((h, w), np.uint8)
    m[8:88, 24:104] = 255
    Image.fromarray(m).save(mask)
    s = np.zeros((2 * h, 2 * w), np.uint8)
    s[:, 80] = 255
    Image.fromarray(s).save(sketch)
    plain, guided = tmp_path / "plain.png", tmp_path / "guided.png"
    assert fill(image, "--mask", mask, "-o", plain).exit_code == 0
    r = fill(image, "--mask", mask, "--sketch", sketch, "-o", guided, "--resize-mask")
    assert r.exit_code == 0, r.output

    def step(path):
        grey = np.asarray(Image.open(path).convert("RGB")).astype(np.float64).mean(axis=2)
        return float(np.mean(grey[8:88, 43] - grey[8:88, 37]))

    assert step(guided) >= 65 and step(guided) >= 3 * step(plain)
