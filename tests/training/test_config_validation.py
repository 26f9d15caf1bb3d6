"""Issue 30, cases 5, 7 and 8 (training): every config value is checked before any work
(exit 2, one line naming the option), and a resume whose latest checkpoint is truncated
names the file and falls back to the previous good checkpoint."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.errors import InpaintError
from inpaintkit.training import checkpoint as ckpt
from inpaintkit.training.config import TrainConfig, load_config

CONFIG = Path(__file__).parents[2] / "configs" / "deepfill_v2.yaml"


def _args(image_dir: Path, out_dir: Path, *extra: str) -> list[str]:
    items = [f"data={image_dir}", f"out_dir={out_dir}", "tiny=true", "size=64", "steps=2", "batch_size=2",
             "num_workers=0", "threads=1", "ckpt_every=1", "image_every=0", "log_every=1", "ema=0", "init=",
             "keep_last=3", "name=run", *extra]
    args = ["train", "-c", str(CONFIG)]
    for item in items:
        args += ["--set", item]
    return args


@pytest.mark.parametrize("bad, option", [
    ("batch_size=0", "batch_size"), ("lr_g=-0.001", "lr_g"), ("lr_d=-1e-4", "lr_d"), ("size=0", "size"),
    ("size=63", "size"), ("num_workers=-1", "num_workers"), ("steps=-5", "steps"), ("steps=0", "steps"),
    ("ema=1.5", "ema"), ("free_form_prob=2", "free_form_prob"), ("keep_last=0", "keep_last"),
    ("crop_mode=stretch", "crop_mode"), ("masks=random", "masks"), ("lr_schedule=step", "lr_schedule"),
    ("betas_g=[0.5, 1.5]", "betas_g"), ("batch_size=two", "batch_size"), ("amp=maybe", "amp"),
    ("warmup_steps=-1", "warmup_steps"), ("grad_clip=-1", "grad_clip"), ("seed=-3", "seed"),
])
def test_bad_value_is_exit_2_before_any_work(image_dir, tmp_path, bad, option):
    started = time.monotonic()
    res = CliRunner().invoke(app, _args(image_dir, tmp_path, bad))
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and option in lines[0], res.output
    assert "internal error" not in res.output
    assert not (tmp_path / "run").exists()
    assert time.monotonic() - started < 30


def test_every_shipped_config_passes():
    for path in sorted((Path(__file__).parents[2] / "configs").glob("**/*.yaml")):
        load_config(path)  # raises for a bad value


def test_defaults_pass_and_check_returns_the_config():
    from inpaintkit.training.config import check_config

    cfg = TrainConfig()
    assert check_config(cfg) is cfg
    with pytest.raises(InpaintError, match="steps"):
        check_config(TrainConfig(steps=-5))


# --- 8: resume with a truncated latest checkpoint -----------------------------------------

def test_resume_falls_back_from_a_truncated_latest_checkpoint(image_dir, tmp_path):
    runner = CliRunner()
    first = runner.invoke(app, _args(image_dir, tmp_path))
    assert first.exit_code == 0, first.output
    root = tmp_path / "run" / "checkpoints"
    latest = root / (root / "latest").read_text().strip()
    state = latest / "state.safetensors"
    state.write_bytes(state.read_bytes()[:5])  # truncated: "invalid header length"
    res = runner.invoke(app, [*_args(image_dir, tmp_path, "steps=3"), "--resume", "auto"])
    assert res.exit_code == 0, res.output
    assert f"cannot read checkpoint file {state}" in res.output
    assert "resuming from the previous checkpoint" in res.output and "step_00000001" in res.output
    meta, _ = ckpt.load_checkpoint(root / (root / "latest").read_text().strip())
    assert meta["step"] == 3


def test_resume_named_checkpoint_truncated_is_exit_2_naming_the_file(image_dir, tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, _args(image_dir, tmp_path)).exit_code == 0
    root = tmp_path / "run" / "checkpoints"
    latest = root / (root / "latest").read_text().strip()
    (latest / "state.safetensors").write_bytes(b"\x01")
    res = runner.invoke(app, [*_args(image_dir, tmp_path, "steps=3"), "--resume", str(latest)])
    assert res.exit_code == 2, res.output
    assert str(latest / "state.safetensors") in res.output and "internal error" not in res.output
