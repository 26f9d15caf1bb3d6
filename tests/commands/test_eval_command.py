"""``inpaintkit eval``: the realism column, the optional metrics (LPIPS / FID from the tiny
random weight files of tests/conftest.py, sample diversity of a tiny pluralistic
checkpoint), the scores of ``fill``'s output, and the one-line errors for bad weights files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from inpaintkit.cli import app


@pytest.fixture(scope="module")
def setup(tmp_path_factory, metric_weight_files) -> dict[str, Path]:
    """3 images, masks in two buckets (plus one too large), tiny weights, a tiny PIC-Net."""
    from inpaintkit.inference import save_model
    from inpaintkit.models import create_model

    root = tmp_path_factory.mktemp("eval_cli")
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(images / f"im{i}.png"), rng.integers(0, 256, (48 + 8 * i, 64, 3), np.uint8))
    for name, frac in (("a", 0.05), ("b", 0.35), ("c", 0.55), ("d", 0.9)):
        m = np.zeros((64, 64), np.uint8)
        side = round(64 * math.sqrt(frac))
        m[:side, :side] = 255
        cv2.imwrite(str(masks / f"{name}.png"), m)

    garbage = root / "garbage.pth"
    garbage.write_bytes(b"not a weights file\n" * 10)
    pic = save_model(create_model("pic_net", tiny=True), root / "pic")
    fid, lpips_path = metric_weight_files
    return {"images": images, "masks": masks, "fid": fid, "lpips": lpips_path,
            "garbage": garbage, "pic": Path(pic), "root": root}


def _base(s: dict[str, Path]) -> list[str]:
    return ["eval", "--images", str(s["images"]), "--masks", str(s["masks"]), "--size", "64"]


def test_eval_with_all_extras(setup, tmp_path):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    r = CliRunner().invoke(app, [
        *_base(setup), "--model", "telea", "--model", str(setup["pic"]),
        "--fid-weights", str(setup["fid"]), "--lpips-weights", str(setup["lpips"]),
        "--diversity", "2", "--json", str(out_json), "--csv", str(out_csv)],
        env={"COLUMNS": "250"})  # wide enough for all headers
    assert r.exit_code == 0, r.output
    for word in ("LPIPS", "FID", "diversity", "biased"):
        assert word in r.stdout
    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0])[3:] == ["psnr", "ssim", "l1", "realism", "lpips", "fid", "diversity"]
    all_rows = [row for row in rows if row["bucket"] == "all"]
    assert len(all_rows) == 2
    telea, pic = all_rows
    assert telea["diversity"] == ""  # classical: deterministic, no column value
    assert float(pic["diversity"]) > 0
    for row in all_rows:
        assert math.isfinite(float(row["lpips"])) and math.isfinite(float(row["fid"]))
    data = json.loads(out_json.read_text())
    assert data["config"]["fid_weights"] == str(setup["fid"])
    assert data["config"]["diversity_metric"] == "lpips"


def test_eval_without_extras_has_the_four_columns(setup, tmp_path):
    out_csv = tmp_path / "r.csv"
    r = CliRunner().invoke(app, [*_base(setup), "--model", "telea", "--csv", str(out_csv)],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "LPIPS" not in r.stdout and "FID" not in r.stdout and "realism" in r.stdout
    assert out_csv.read_text().splitlines()[0] == "model,bucket,count,psnr,ssim,l1,realism"


def test_eval_scores_what_fill_writes(setup, tmp_path):
    """The per-pair PSNR of ``eval`` is the PSNR of the file ``fill`` writes for that pair."""
    from inpaintkit.evaluation import build_eval_set
    from inpaintkit.io import read_image, write_image

    out_json = tmp_path / "r.json"
    r = CliRunner().invoke(app, [*_base(setup), "--model", "ns", "--json", str(out_json)])
    assert r.exit_code == 0, r.output
    data = json.loads(out_json.read_text())
    pairs = build_eval_set(setup["images"], setup["masks"], size=64)
    pair = pairs.pairs[-1]
    write_image(tmp_path / "in.png", pairs.images[pair.image])
    write_image(tmp_path / "mask.png", pairs.masks[pair.mask])
    r = CliRunner().invoke(app, ["fill", str(tmp_path / "in.png"), "--mask", str(tmp_path / "mask.png"),
                                 "-o", str(tmp_path / "out.png"), "--model", "ns"])
    assert r.exit_code == 0, r.output
    filled = read_image(tmp_path / "out.png").astype(float)
    mse = ((filled - pairs.images[pair.image]) ** 2).mean()
    assert data["scores"]["ns"]["psnr"][-1] == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)


@pytest.mark.parametrize("option, which, message", [
    ("--fid-weights", "missing", "not found"),
    ("--lpips-weights", "missing", "not found"),
    ("--fid-weights", "garbage", "cannot read"),
    ("--fid-weights", "lpips", "Inception"),  # a valid file of the wrong network
    ("--lpips-weights", "fid", "LPIPS"),
])
def test_bad_weights_file_is_a_one_line_error(setup, option, which, message):
    path = setup["root"] / "missing.pth" if which == "missing" else setup[which]
    # the model is a missing name too: the weights are checked before any model is loaded
    r = CliRunner().invoke(app, [*_base(setup), "--model", "no_such_model", option, str(path)])
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert option in lines[0] and path.name in lines[0] and message in lines[0]


def test_diversity_of_one_is_rejected(setup):
    r = CliRunner().invoke(app, [*_base(setup), "--model", "telea", "--diversity", "1"])
    assert r.exit_code == 2 and "--diversity" in r.stderr
