"""Issue 18, cases 1 and 5 (inference): weights holding NaN are refused when loaded, a
prediction holding NaN is refused before compositing, and a checkpoint config asking for
an absurd model is refused before anything is allocated."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.errors import InpaintError, ModelFailed, TooLarge
from inpaintkit.inference import Inpainter
from inpaintkit.inference.weights import load_model
from inpaintkit.models import create_model
from inpaintkit.models.base import GeneratorProtocol
from inpaintkit.models.serialization import save_model
from inpaintkit.models.size import count_parameters


@pytest.fixture()
def nan_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create_model("pconv_unet", tiny=True)
    with torch.no_grad():
        next(model.parameters())[0].fill_(float("nan"))
    return save_model(model, tmp_path / "nan_ckpt")


def _pair(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 8:20] = 255
    Image.fromarray(image).save(tmp_path / "img.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return tmp_path / "img.png", tmp_path / "mask.png"


def test_nan_weights_are_refused_at_load(nan_checkpoint):
    with pytest.raises(InpaintError, match="NaN or Inf"):
        load_model(nan_checkpoint)


def test_fill_with_nan_weights_exits_2_and_writes_nothing(nan_checkpoint, tmp_path):
    image, mask = _pair(tmp_path)
    out = tmp_path / "out.png"
    result = CliRunner().invoke(app, ["fill", str(image), "--mask", str(mask), "-o", str(out),
                                      "--model", str(nan_checkpoint)])
    assert result.exit_code == 2, result.output
    assert "NaN or Inf" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


class _NaNModel(GeneratorProtocol):
    """Finite weights, NaN output (an fp16 overflow, a broken export...)."""

    multiple = 1

    def inpaint(self, image, mask, generator=None, **_):
        out = torch.zeros_like(image)
        out[:, :, 0, 0] = float("nan")
        return out


def test_nan_prediction_is_refused_before_compositing():
    image = np.full((16, 16, 3), 200, np.uint8)
    hole = np.zeros((16, 16), bool)
    hole[4:8, 4:8] = True
    with pytest.raises(ModelFailed, match="3 NaN/Inf values"):
        Inpainter(_NaNModel(), device="cpu").inpaint(image, hole)


def test_absurd_checkpoint_config_is_refused_before_allocation(tmp_path):
    folder = save_model(create_model("deepfill_v2", tiny=True), tmp_path / "big")
    info = json.loads((folder / "config.json").read_text())
    info["config"]["cnum"] = 10_000_000
    (folder / "config.json").write_text(json.dumps(info))
    started = time.process_time()
    with pytest.raises(TooLarge, match=r"parameters .* over the limit"):
        load_model(folder)
    assert time.process_time() - started < 10


def test_parameter_count_on_meta_matches_the_real_model():
    for name in ("pconv_unet", "deepfill_v2"):
        model = create_model(name, tiny=True)
        want = sum(p.numel() for p in model.parameters())
        assert count_parameters(name, model.config) == want
