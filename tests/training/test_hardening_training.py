"""Issue 18, cases 2, 5 and 6 (training): no diverged "last good" checkpoint, no pruned
good checkpoint, a quick exit 2 for an absurd model, exit 130 after an interrupt, and temp
leftovers of killed writers removed by the next save."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.training import checkpoint as ckpt
from inpaintkit.training import loop
from inpaintkit.training.config import load_config

CONFIG = Path(__file__).parents[2] / "configs" / "deepfill_v2.yaml"


def overrides(image_dir: Path, out_dir: Path, steps: int, *extra: str) -> list[str]:
    return [f"data={image_dir}", f"out_dir={out_dir}", "tiny=true", "size=64", f"steps={steps}",
            "batch_size=2", "num_workers=0", "threads=1", "ckpt_every=1", "image_every=0",
            "log_every=1", "ema=0", "init=", "keep_last=1", "name=run", *extra]


def _max_abs(folder: Path) -> float:
    weights = load_file(folder / "model.safetensors")
    return max(float(v.abs().max()) for v in weights.values() if v.is_floating_point())


def test_exploding_final_update_is_not_saved_and_the_good_checkpoint_survives(image_dir, tmp_path):
    good = loop.train(load_config(CONFIG, overrides(image_dir, tmp_path, 2)))
    assert good.name == "step_00000002" and _max_abs(good) < 100
    # lr 1e30: the update of step 3 gives finite weights of ~1e30 whose next loss is NaN.
    # Step 3 is the run's last step, so nothing after it would notice.
    with pytest.raises(loop.TrainingDiverged, match="step 3"):
        loop.train(load_config(CONFIG, overrides(image_dir, tmp_path, 3, "lr_g=1e30", "lr_d=1e30")), resume="auto")
    root = good.parent
    assert (root / "latest").read_text().strip() == "step_00000002"
    assert sorted(p.name for p in root.glob("step_*")) == ["step_00000002"]
    assert _max_abs(good) < 100
    # and the kept checkpoint resumes (with a sane learning rate)
    assert loop.train(load_config(CONFIG, overrides(image_dir, tmp_path, 3)), resume="auto").name == "step_00000003"


def test_prune_keeps_the_checkpoint_just_written(tmp_path):
    # A run resumed from step 2 while older attempts left steps 5 and 6 behind: keep_last=2
    # must keep the new step 3 (the one `latest` names), not only the highest numbers.
    torch.manual_seed(0)
    from inpaintkit.models import create_model

    g = create_model("pconv_unet", tiny=True)
    root = tmp_path / "checkpoints"
    for step in (5, 6):
        ckpt.save_checkpoint(root, step, generator=g, release=g, modules={}, optimizers={}, extra_state={},
                             keep_last=5)
    written = ckpt.save_checkpoint(root, 3, generator=g, release=g, modules={}, optimizers={}, extra_state={},
                                   keep_last=2)
    assert written.is_dir() and ckpt.find_checkpoint(root) == written
    assert sorted(p.name for p in root.glob("step_*")) == ["step_00000003", "step_00000006"]


def test_leftovers_of_killed_writers_are_removed_at_the_next_save(tmp_path, dead_pid):
    from inpaintkit.models import create_model

    g = create_model("pconv_unet", tiny=True)
    root = tmp_path / "checkpoints"
    ckpt.save_checkpoint(root, 1, generator=g, release=g, modules={}, optimizers={}, extra_state={})
    dead, alive = dead_pid, os.getppid()
    stale = [root / f".tmp_step_00000002_{dead}", root / f".step_00000002.tmp-{dead}-abc",
             root / f".latest.{dead}"]
    live = [root / f".tmp_step_00000009_{alive}", root / f".step_00000009.tmp-{alive}-abc"]
    for path in stale[:2] + live:
        path.mkdir()
        (path / "model.safetensors").write_bytes(b"partial")
    stale[2].write_text("step_00000002\n")
    # a kill between the two renames of save_model: the checkpoint exists only aside
    aside = root / f".step_00000004.old-{dead}-xyz"
    aside.mkdir()
    (aside / "config.json").write_text("{}")
    ckpt.save_checkpoint(root, 2, generator=g, release=g, modules={}, optimizers={}, extra_state={}, keep_last=5)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in live), "a running writer's temporaries are left alone"
    assert not aside.exists() and (root / "step_00000004" / "config.json").is_file()


def test_absurd_model_is_refused_quickly_with_exit_2(image_dir, tmp_path):
    args = ["train", "-c", str(CONFIG)]
    for item in overrides(image_dir, tmp_path, 2, "model_args.cnum=10000000"):
        args += ["--set", item]
    started = time.process_time()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert time.process_time() - started < 10
    assert "parameters" in result.output and "over the limit" in result.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_interrupted_training_exits_130_after_its_checkpoint(image_dir, tmp_path, monkeypatch):
    real_step = loop._train_step
    calls = []

    def step_then_interrupt(*args, **kwargs):
        result = real_step(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would, during step 1
        return result

    monkeypatch.setattr(loop, "_train_step", step_then_interrupt)
    args = ["train", "-c", str(CONFIG)]
    for item in overrides(image_dir, tmp_path, 5):
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 130, result.output
    assert len(calls) == 1
    root = tmp_path / "run" / "checkpoints"
    assert (root / "latest").read_text().strip() == "step_00000001"
    assert "resume" in result.output
