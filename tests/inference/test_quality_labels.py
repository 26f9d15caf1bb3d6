"""Usable / experimental labels from the measured quality floor (issue 26): the listing
(available_models, ``inpaintkit models --json``, GET /api/models), the load note and the
CLI warning, for shipped weights whose config.json carries a ``quality`` verdict."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inpaintkit import quality
from inpaintkit.cli import app
from inpaintkit.inference import weights as W
from inpaintkit.models import create_model
from inpaintkit.models.serialization import save_model

BELOW = {"usable": False, "psnr_gap_db": -1.5, "realism_ratio": 1.23}
ABOVE = {"usable": True, "psnr_gap_db": 0.4, "realism_ratio": 0.8}


@pytest.fixture()
def shelf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package weights folder with a tiny pconv_unet below the floor and a tiny
    deepfill_v2 above it."""
    root = tmp_path / "weights"
    save_model(create_model("pconv_unet", tiny=True), root / "pconv_unet", metadata={"quality": BELOW})
    save_model(create_model("deepfill_v2", tiny=True), root / "deepfill_v2", metadata={"quality": ABOVE})
    monkeypatch.setattr(W, "WEIGHTS_ROOT", root)
    monkeypatch.setattr(quality, "WEIGHTS_ROOT", root)
    return root


def test_listing_carries_status_and_gap(shelf: Path) -> None:
    by_name = {c.name: c for c in W.available_models()}
    assert by_name["pconv_unet"].status == "experimental"
    assert "PSNR -1.50 dB vs the floor" in by_name["pconv_unet"].gap and "1.23x Telea's" in by_name["pconv_unet"].gap
    assert by_name["deepfill_v2"].status == "usable"
    assert by_name["rn_inpaint"].status == "untrained"  # nothing shipped in this shelf
    assert by_name["telea"].status == "classical"


def test_an_experimental_model_warns_on_load_and_in_fill(shelf: Path, tmp_path: Path) -> None:
    notes = W.resolve_model("pconv_unet").notes
    assert any("EXPERIMENTAL" in n and "-1.50 dB" in n for n in notes)
    assert not any("EXPERIMENTAL" in n for n in W.resolve_model("deepfill_v2").notes)
    image, mask = tmp_path / "in.png", tmp_path / "m.png"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(image)
    hole = np.zeros((64, 64), np.uint8)
    hole[20:40, 20:40] = 255
    Image.fromarray(hole).save(mask)
    result = CliRunner().invoke(app, ["fill", str(image), "--mask", str(mask), "-o", str(tmp_path / "o.png"),
                                      "--model", "pconv_unet"])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if "EXPERIMENTAL" in line]
    assert len(warned) == 1 and "below the quality floor" in warned[0]


def test_models_json_and_the_api_say_it(shelf: Path) -> None:
    result = CliRunner().invoke(app, ["models", "--json", "--no-flops"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["pconv_unet"]["status"] == "experimental" and rows["deepfill_v2"]["status"] == "usable"
    assert rows["mean"]["status"] == "classical"

    from fastapi.testclient import TestClient

    from inpaintkit.web.app import create_app

    with TestClient(create_app("telea")) as client:
        models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert models["pconv_unet"]["status"] == "experimental" and "-1.50 dB" in models["pconv_unet"]["gap"]
    assert models["deepfill_v2"]["status"] == "usable"


def test_models_table_states_each_verdict_with_its_margin(shelf: Path) -> None:
    result = CliRunner().invoke(app, ["models", "--no-flops"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(ln.startswith("pconv_unet: experimental, PSNR -1.50 dB") for ln in lines), result.output
    assert any(ln.startswith("deepfill_v2: usable, PSNR +0.40 dB") and "0.80x Telea's" in ln for ln in lines)
    assert not any(ln.startswith("rn_inpaint:") for ln in lines)  # untrained: no margin to state
