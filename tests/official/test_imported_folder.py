"""An imported folder works wherever a checkpoint does (issue 25): ``weights import`` on the
command line, then ``fill``, ``eval``, ``serve`` (the web API) and ``export --format onnx``
with it, and the CLI's refusals (exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.models import create_model
from inpaintkit.official import get_format

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A port-layout release (narrow, cnum 16) written by our exporter, imported by the CLI."""
    tmp = tmp_path_factory.mktemp("release")
    fmt = get_format("deepfill_v2_port")
    torch.manual_seed(0)
    model = create_model("deepfill_v2", cnum=16, refine_sees_mask=False, attention="official").eval()
    torch.save({"G": {k[2:]: v for k, v in fmt.export(model).items()}, "n_iter": 3}, tmp / "states_pt.pth")
    out = tmp / "shelf" / "df2_port"
    result = CliRunner().invoke(app, ["weights", "import", str(tmp / "states_pt.pth"), "--format",
                                      "deepfill_v2_port", "--dataset", "places2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "deepfill_v2" in result.output
    return tmp, out


def _photo(tmp: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    image, mask = tmp / "photo.png", tmp / "mask.png"
    Image.fromarray(rng.integers(0, 256, (72, 88, 3), dtype=np.uint8)).save(image)
    hole = np.zeros((72, 88), np.uint8)
    hole[20:50, 30:60] = 255
    Image.fromarray(hole).save(mask)
    return image, mask


def test_import_records_provenance(imported: tuple[Path, Path]) -> None:
    _, out = imported
    info = json.loads((out / "config.json").read_text())
    assert info["provenance"]["format"] == "deepfill_v2_port" and info["provenance"]["dataset"] == "places2"
    assert info["config"]["attention"] == "official" and info["config"]["refine_sees_mask"] is False


def test_fill_with_the_imported_folder(imported: tuple[Path, Path]) -> None:
    tmp, out = imported
    image, mask = _photo(tmp)
    result = CliRunner().invoke(app, ["fill", str(image), "--mask", str(mask), "--model", str(out),
                                      "-o", str(tmp / "filled.png")])
    assert result.exit_code == 0, result.output
    filled = np.asarray(Image.open(tmp / "filled.png"))
    original = np.asarray(Image.open(image))
    hole = np.asarray(Image.open(mask)) > 127
    assert np.array_equal(filled[~hole], original[~hole]) and not np.array_equal(filled[hole], original[hole])


@pytest.mark.skipif(not (SHARED / "val").is_dir(), reason="needs ../shared/data")
def test_eval_with_the_imported_folder(imported: tuple[Path, Path]) -> None:
    tmp, out = imported
    result = CliRunner().invoke(app, ["eval", "-m", str(out), "-m", "telea", "--limit", "1", "--size", "64",
                                      "--images", str(SHARED / "val"), "--masks", str(SHARED / "masks" / "irregular"),
                                      "--json", str(tmp / "eval.json")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp / "eval.json").read_text())["summary"]
    assert summary[str(out)]["all"]["count"] == 6 and summary[str(out)]["all"]["psnr"] > 5


def test_serve_with_the_imported_folder(imported: tuple[Path, Path]) -> None:
    from fastapi.testclient import TestClient

    from inpaintkit.web.app import create_app

    tmp, out = imported
    image, mask = _photo(tmp)
    with TestClient(create_app(str(out))) as client:
        response = client.post("/api/inpaint", files={"image": ("p.png", image.read_bytes(), "image/png"),
                                                      "mask": ("m.png", mask.read_bytes(), "image/png")})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"


@pytest.mark.slow
def test_export_onnx_with_the_imported_folder(imported: tuple[Path, Path]) -> None:
    tmp, out = imported
    result = CliRunner().invoke(app, ["export", "--model", str(out), "--format", "onnx", "--size", "64",
                                      "--out", str(tmp / "df2.onnx")])
    assert result.exit_code == 0, result.output
    assert (tmp / "df2.onnx").stat().st_size > 1e5


def test_cli_refuses_another_format_and_writes_nothing(imported: tuple[Path, Path]) -> None:
    tmp, _ = imported
    out = tmp / "never"
    result = CliRunner().invoke(app, ["weights", "import", str(tmp / "states_pt.pth"), "--format", "rn",
                                      "--out", str(out)])
    assert result.exit_code == 2 and result.output.count("error:") == 1
    assert not out.exists()
    result = CliRunner().invoke(app, ["weights", "import", str(tmp / "states_pt.pth"), "--format", "nope",
                                      "--out", str(out)])
    assert result.exit_code == 2 and "unknown weights format 'nope'" in result.output
