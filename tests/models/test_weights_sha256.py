"""Issue 30, case 4: weights corrupted into finite values are refused at load.

``save_model`` records the sha256 of model.safetensors in config.json and
``load_checkpoint`` checks it (exit 2 naming the file); checkpoints written before the
key existed still load; every shipped weights folder carries its digest and passes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.errors import InpaintError
from inpaintkit.models import create_model
from inpaintkit.models import serialization as S

SHIPPED = Path(S.__file__).resolve().parents[1] / "weights"


def _zero_64k(path: Path) -> None:
    """Zero 64 KB in the middle of the tensor data: finite values, the header intact."""
    data = bytearray(path.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    start = header + (len(data) - header) // 3
    data[start:start + 65536] = bytes(min(65536, len(data) - start))
    path.write_bytes(bytes(data))


@pytest.fixture()
def saved(tmp_path):
    model = create_model("deepfill_v2", tiny=True)
    return S.save_model(model, tmp_path / "ckpt"), model


def test_save_records_the_digest_of_the_weights(saved):
    folder, _ = saved
    info = json.loads((folder / "config.json").read_text())
    # independent reference: hashlib over the whole file at once
    assert info["sha256"] == {"model.safetensors": hashlib.sha256((folder / "model.safetensors").read_bytes())
                              .hexdigest()}
    _, meta = S.load_checkpoint(folder)
    assert "sha256" not in meta  # metadata handed on (re-saved elsewhere) never carries stale digests


def test_finite_corruption_is_refused_naming_the_file(saved):
    folder, _ = saved
    weights = folder / "model.safetensors"
    _zero_64k(weights)
    with pytest.raises(InpaintError, match=r"model\.safetensors: sha256 .* differs .*corrupted") as exc:
        S.load_checkpoint(folder)
    assert str(weights) in str(exc.value) and "\n" not in str(exc.value)


def test_fill_with_corrupted_weights_exits_2(saved, tmp_path):
    import numpy as np
    from PIL import Image

    folder, _ = saved
    _zero_64k(folder / "model.safetensors")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "p.png")
    m = np.zeros((64, 64), np.uint8)
    m[20:40, 20:40] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    res = CliRunner().invoke(app, ["fill", str(tmp_path / "p.png"), "--mask", str(tmp_path / "m.png"),
                                   "-o", str(tmp_path / "o.png"), "--model", str(folder)])
    assert res.exit_code == 2, res.output
    assert "model.safetensors" in res.output and "sha256" in res.output
    assert not (tmp_path / "o.png").exists()


def test_checkpoint_without_digest_still_loads(saved):
    folder, model = saved
    info = json.loads((folder / "config.json").read_text())
    del info["sha256"]
    (folder / "config.json").write_text(json.dumps(info))
    loaded, _ = S.load_checkpoint(folder)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)


def test_malformed_digest_entry_is_refused(saved):
    folder, _ = saved
    info = json.loads((folder / "config.json").read_text())
    info["sha256"] = "abc"
    (folder / "config.json").write_text(json.dumps(info))
    with pytest.raises(InpaintError, match="sha256"):
        S.load_checkpoint(folder)


@pytest.mark.parametrize("config", sorted(SHIPPED.glob("**/config.json")), ids=lambda p: p.parent.name)
def test_shipped_weights_carry_a_matching_digest(config):
    info = json.loads(config.read_text())
    weights = config.parent / "model.safetensors"
    assert info["sha256"]["model.safetensors"] == hashlib.sha256(weights.read_bytes()).hexdigest()
