"""scripts/device_train.sh --smoke: the prepared accelerator run's path (pack, train with the
device config, release fp16 weights + log into $OUT) on the CPU, small and short."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "train"


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data/train")
def test_device_train_smoke_releases_a_sketch_model(tmp_path: Path) -> None:
    env = {**os.environ, "OUT": str(tmp_path)}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "device_train.sh"), "--smoke"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "smoke: ok" in done.stdout
    release = tmp_path / "device_deepfill_v2_sketch"
    info = json.loads((release / "config.json").read_text())
    assert info["config"]["in_extra"] == 1 and info["dtype"] == "float16"
    # a fine-tune of the shipped weights: its own 10 steps are the last stage, the totals count
    # what the shipped weights cost before it
    assert info["stages"][-1]["steps"] == 10 and info["train_config"] == "configs/device/deepfill_v2_sketch.yaml"
    assert len(info["stages"]) >= 2 and info["steps"] == sum(s["steps"] for s in info["stages"])
    assert (release / "model.safetensors").stat().st_size > 1e6  # the real (cnum 32) model, not a stub
    assert "train" in (tmp_path / "train.log").read_text()
