"""``inpaintkit eval`` with the optional metrics: LPIPS / FID from tiny random weight files
written here, sample diversity of a tiny pluralistic checkpoint, and the one-line errors for
bad weights files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.metrics import LPIPS, FIDInceptionV3


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
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

    torch.manual_seed(0)
    inception = FIDInceptionV3(width=1 / 16)
    for mod in inception.modules():  # calibrate batch norm so features are not all zero
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None
    inception.train()
    with torch.no_grad():
        inception(torch.rand(8, 3, 64, 64) * 2 - 1)
    fid = root / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in inception.state_dict().items()}, str(fid))
    lpips = LPIPS("alex", (8, 12, 16, 8, 8))
    with torch.no_grad():
        for k in range(5):
            head = getattr(lpips, f"lin{k}").model[1].weight
            head.copy_(head.abs())
    lpips_path = root / "lpips.pth"
    torch.save(lpips.state_dict(), lpips_path)
    garbage = root / "garbage.pth"
    garbage.write_bytes(b"not a weights file\n" * 10)
    pic = save_model(create_model("pic_net", tiny=True), root / "pic")
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
    assert list(rows[0])[3:] == ["psnr", "ssim", "l1", "lpips", "fid", "diversity"]
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


def test_eval_without_extras_keeps_the_three_columns(setup, tmp_path):
    out_csv = tmp_path / "r.csv"
    r = CliRunner().invoke(app, [*_base(setup), "--model", "telea", "--csv", str(out_csv)])
    assert r.exit_code == 0, r.output
    assert "LPIPS" not in r.stdout and "FID" not in r.stdout
    assert out_csv.read_text().splitlines()[0] == "model,bucket,count,psnr,ssim,l1"


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
