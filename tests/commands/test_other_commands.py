"""``inpaintkit export``, ``inpaintkit models`` and ``inpaintkit demo``."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.models import MODELS, create_model


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_export_a_checkpoint_to_onnx_and_fill_with_it(runner, tmp_path):
    from inpaintkit.inference import save_model

    pytest.importorskip("onnxruntime")
    ckpt = save_model(create_model("rn_inpaint", tiny=True), tmp_path / "rn")
    out = tmp_path / "rn.onnx"
    r = runner.invoke(app, ["export", "--model", str(ckpt), "--format", "onnx", "--out", str(out), "--size", "32"])
    assert r.exit_code == 0, r.output
    assert out.is_file() and "any H, W" in r.stdout and "max abs diff" in r.stdout
    photo = np.random.default_rng(0).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    mask = np.zeros((30, 41), dtype=np.uint8)
    mask[5:20, 5:20] = 255
    Image.fromarray(photo).save(tmp_path / "p.png")
    Image.fromarray(mask).save(tmp_path / "m.png")
    r = runner.invoke(app, ["fill", str(tmp_path / "p.png"), "--mask", str(tmp_path / "m.png"),
                            "-o", str(tmp_path / "o.png"), "--model", str(out)])
    assert r.exit_code == 0, r.output
    assert "onnx:rn.onnx" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--model", "telea", "--out", "t.onnx"], "not a network"),
    (["--model", "rn_inpaint", "--format", "tflite", "--out", "t.onnx"], "unknown export format"),
    (["--model", "rn_inpaint", "--out", "t.pt"], "should end in .onnx"),
    (["--model", "missing_model", "--out", "t.onnx"], "unknown model"),
])
def test_export_errors(runner, tmp_path, args, message):
    args = [str(tmp_path / a) if a.endswith((".onnx", ".pt")) else a for a in args]
    r = runner.invoke(app, ["export", *args])
    assert r.exit_code == 2 and message in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_models_lists_registry_and_classical(runner):
    r = runner.invoke(app, ["models", "--no-flops"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    for name in [*MODELS, "telea", "ns", "smooth"]:
        assert name in r.stdout
    params = sum(p.numel() for p in create_model("rn_inpaint").parameters())
    assert f"{params / 1e6:.2f} M" in r.stdout
    assert "default:" in r.stdout


def test_models_counts_gflops(runner, monkeypatch):
    import inpaintkit.models.summary as summary

    calls = []

    def fake(name, size=256, tiny=False):
        calls.append((name, size))
        return {"params": 1, "gflops": 12.345}

    monkeypatch.setattr(summary, "model_summary", fake)
    r = runner.invoke(app, ["models", "--size", "128"], env={"COLUMNS": "160"})
    assert r.exit_code == 0, r.output
    assert "12.3" in r.stdout and "128x128" in r.stdout
    assert sorted(calls) == sorted((name, 128) for name in MODELS if not MODELS[name].classical)


def test_demo_writes_a_side_by_side_png(runner, tmp_path, monkeypatch):
    from inpaintkit.inference import weights

    pytest.importorskip("skimage")
    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", tmp_path / "none")
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert r.exit_code == 0, r.output
    target = tmp_path / "demo" / "demo.png"
    assert str(target) in r.stdout and "patchmatch" in r.stdout and "PatchMatch" in r.stdout
    panel = np.asarray(Image.open(target))
    assert panel.shape == (512, 3 * 512 + 16, 3)
    result = np.asarray(Image.open(tmp_path / "demo" / "result.png"))
    hole = np.asarray(Image.open(tmp_path / "demo" / "mask.png")) > 127
    original = np.asarray(Image.open(tmp_path / "demo" / "input.png"))
    assert 0 < hole.mean() < 0.6
    assert np.array_equal(result[~hole], original[~hole])
    assert np.array_equal(panel[:, -512:], result)
