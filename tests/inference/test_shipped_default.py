"""The default model's weights shipped in the package (src/inpaintkit/weights/default)."""

from __future__ import annotations

import json

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.inference import Inpainter
from inpaintkit.inference.weights import DEFAULT_WEIGHTS, resolve_model
from inpaintkit.models.deepfill_v2 import DeepFillV2


def test_shipped_weights_are_fp16_and_load_as_the_default():
    config = json.loads((DEFAULT_WEIGHTS / "config.json").read_text())
    assert config["model"] == "deepfill_v2" and config["dtype"] == "float16"
    assert config["config"]["coarse"] == "smooth" and config["config"]["residual"] is True
    with safe_open(str(DEFAULT_WEIGHTS / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    loaded = resolve_model("default")
    assert loaded.source == "default" and isinstance(loaded.model, DeepFillV2)
    params = list(loaded.model.parameters())
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in params)
    # trained: the residual's zero-initialised output layer has moved
    assert loaded.model.refine_net.decoder[-1].weight.abs().sum() > 0


def test_default_fills_a_hole_plausibly():
    # A smooth scene: the default must stay close to the truth and keep known pixels.
    ys, xs = np.mgrid[0:96, 0:128]
    image = np.stack([xs * 2, ys * 2, 255 - xs], axis=-1).clip(0, 255).astype(np.uint8)
    hole = np.zeros((96, 128), bool)
    hole[30:60, 40:90] = True
    (out,) = Inpainter("default", device="cpu").inpaint(image, hole)
    assert np.array_equal(out[~hole], image[~hole])
    assert np.abs(out[hole].astype(int) - image[hole].astype(int)).mean() < 12


def test_demo_uses_the_shipped_weights(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "model: deepfill_v2 (default)" in r.stdout
    assert np.asarray(Image.open(tmp_path / "result.png")).shape == (512, 512, 3)
