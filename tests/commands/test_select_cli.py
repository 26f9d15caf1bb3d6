"""``inpaintkit masks select`` and ``fill --box``: the written mask against the drawn object,
the fill changed inside the selection only, bad input as one ``error:`` line and exit 2 with
nothing written."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app

H, W = 90, 120
OBJECT = (slice(30, 60), slice(40, 85))  # rows, columns of the red object
BOX = "35,25,90,65"  # x0,y0,x1,y1 around it


@pytest.fixture()
def photo(tmp_path):
    rng = np.random.default_rng(0)
    image = np.clip(np.array([60.0, 150, 70]) + rng.normal(0, 10, (H, W, 3)), 0, 255)
    image[OBJECT] = np.clip(np.array([220.0, 40, 40]) + rng.normal(0, 8, (30, 45, 3)), 0, 255)
    path = tmp_path / "photo.png"
    Image.fromarray(image.astype(np.uint8)).save(path)
    return path


def _truth() -> np.ndarray:
    t = np.zeros((H, W), bool)
    t[OBJECT] = True
    return t


def _run(*args):
    return CliRunner().invoke(app, [*map(str, args)])


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error:"), lines[0]
    return lines[0]


def test_masks_select_writes_the_object(photo, tmp_path):
    out = tmp_path / "mask.png"
    result = _run("masks", "select", photo, "--box", BOX, "--dilate", "0", "-o", out)
    assert result.exit_code == 0, result.output
    mask = np.asarray(Image.open(out).convert("L"))
    assert mask.shape == (H, W) and set(np.unique(mask)) <= {0, 255}
    selected = mask > 127
    truth = _truth()
    assert (selected & truth).sum() / (selected | truth).sum() > 0.95


def test_masks_select_dilates_by_default(photo, tmp_path):
    raw, grown = tmp_path / "raw.png", tmp_path / "grown.png"
    assert _run("masks", "select", photo, "--box", BOX, "--dilate", "0", "-o", raw).exit_code == 0
    assert _run("masks", "select", photo, "--box", BOX, "-o", grown).exit_code == 0
    a, b = (np.asarray(Image.open(p).convert("L")) > 127 for p in (raw, grown))
    assert (a <= b).all()
    ring = b.sum() - a.sum()  # about the perimeter times the default 4 px
    assert 0.6 * 4 * 150 < ring < 1.3 * 4 * 150 + 4 * 16


def test_masks_select_default_dilation_is_the_library_default():
    from inpaintkit.commands.masks import masks_select
    from inpaintkit.masks.select import DEFAULT_DILATE

    assert inspect.signature(masks_select).parameters["dilate"].default == DEFAULT_DILATE


def test_masks_select_with_clicks(photo, tmp_path):
    out = tmp_path / "mask.png"
    result = _run("masks", "select", photo, "--point", "60,45", "--point", "5,5,-", "--dilate", "0", "-o", out)
    assert result.exit_code == 0, result.output
    selected = np.asarray(Image.open(out).convert("L")) > 127
    truth = _truth()
    assert (selected & truth).sum() / (selected | truth).sum() > 0.9


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--box", "35,25,130,65"], "outside the 120x90 image"),
        (["--box", "35,25,35,65"], "zero area"),
        (["--box", "1,2,3"], "x0,y0,x1,y1"),
        (["--box", "35,25,90,65", "--point", "200,10"], "point 200,10 is outside"),
        (["--point", "20,10,?"], "+ (object) or - (background)"),
        ([], "needs --box"),
    ],
)
def test_masks_select_bad_input(photo, tmp_path, args, words):
    out = tmp_path / "mask.png"
    result = _run("masks", "select", photo, *args, "-o", out)
    assert result.exit_code == 2
    assert words in _error_line(result)
    assert not out.exists()


def test_fill_box_selects_then_fills(photo, tmp_path):
    out = tmp_path / "filled.png"
    result = _run("fill", photo, "--box", BOX, "--model", "telea", "-o", out)
    assert result.exit_code == 0, result.output
    before = np.asarray(Image.open(photo).convert("RGB")).astype(int)
    after = np.asarray(Image.open(out).convert("RGB")).astype(int)
    changed = (before != after).any(axis=-1)
    truth = _truth()
    assert changed[truth].mean() > 0.95  # the object is gone ...
    redness = after[..., 0] - after[..., 1]
    assert redness[truth].mean() < 60  # ... replaced by the green surround, not a red ghost
    x0, y0, x1, y1 = map(int, BOX.split(","))
    outside = np.ones((H, W), bool)
    outside[y0 - 6:y1 + 6, x0 - 6:x1 + 6] = False
    assert not changed[outside].any()  # far from the box: bit-identical


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--box", "35,25,35,65"], "zero area"),
        (["--box", "35,25,90,65", "--mask", "MASK"], "not both"),
        (["--point", "500,5"], "outside"),
    ],
)
def test_fill_box_bad_input(photo, tmp_path, extra, words):
    mask = tmp_path / "m.png"
    Image.fromarray(np.zeros((H, W), np.uint8)).save(mask)
    out = tmp_path / "filled.png"
    result = _run("fill", photo, *[str(mask) if e == "MASK" else e for e in extra], "--model", "telea", "-o", out)
    assert result.exit_code == 2
    assert words in _error_line(result)
    assert not out.exists()


def test_fill_box_refused_in_batch_mode(photo, tmp_path):
    result = _run("fill", "--input", photo.parent, "--masks", photo.parent, "--output", tmp_path / "o",
                  "--box", BOX, "--model", "telea")
    assert result.exit_code == 2
    assert "batch" in _error_line(result)
