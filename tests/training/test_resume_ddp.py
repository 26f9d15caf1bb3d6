"""Crash/resume exactness and DDP replica sync, each in real subprocesses."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "configs" / "deepfill_v2.yaml"
# Each test starts real training subprocesses: 5-20 s of CPU and 25-100 s of wall time.
pytestmark = pytest.mark.slow


def _args(image_dir, out_dir, name, steps):
    return ["--config", str(CONFIG), "--set", f"data={image_dir}", "--set", f"out_dir={out_dir}",
            "--set", f"name={name}", "--set", "tiny=true", "--set", "size=64",
            "--set", f"steps={steps}", "--set", "batch_size=2", "--set", "num_workers=0",
            "--set", "threads=1", "--set", "ckpt_every=4", "--set", "image_every=0",
            "--set", "ema=0.9"]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _generator_weights(ckpt: Path) -> dict:
    t = load_file(str(ckpt / "state.safetensors"))
    return {k: v for k, v in t.items() if k.startswith(("generator.", "ema.", "optim_"))}


def test_sigkill_then_resume_matches_uninterrupted(image_dir, tmp_path):
    steps = 24
    cmd = [sys.executable, "-m", "inpaintkit", "train"]
    ref = subprocess.run(cmd + _args(image_dir, tmp_path, "ref", steps), env=_env(),
                         capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr[-2000:]

    proc = subprocess.Popen(cmd + _args(image_dir, tmp_path, "crash", steps), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = tmp_path / "crash" / "checkpoints" / "latest"
    deadline = time.time() + 300
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = latest.read_text().strip()
    assert killed_at != f"step_{steps:08d}", "run finished before it could be killed"

    res = subprocess.run(cmd + _args(image_dir, tmp_path, "crash", steps) + ["--resume", "auto"],
                         env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    a = _generator_weights(tmp_path / "ref" / "checkpoints" / f"step_{steps:08d}")
    b = _generator_weights(tmp_path / "crash" / "checkpoints" / f"step_{steps:08d}")
    assert a.keys() == b.keys()
    diff = [k for k in a if not (a[k] == b[k]).all()]
    assert not diff, f"resumed run differs in {diff[:5]} (killed at {killed_at})"


def test_ddp_two_cpu_processes_stay_in_sync(image_dir, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
           "-m", "inpaintkit", "train"] + _args(image_dir, tmp_path, "ddp", 6)
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    state = json.loads((tmp_path / "ddp" / "checkpoints" / "step_00000006" / "state.json").read_text())
    sums = state["replica_checksums"]
    assert state["world_size"] == 2 and len(sums) == 2
    assert sums[0] == sums[1]


def test_sigterm_checkpoints_and_exits_cleanly(image_dir, tmp_path):
    args = _args(image_dir, tmp_path, "term", 100000) + ["--set", "ckpt_every=0", "--set", "log_every=1"]
    proc = subprocess.Popen([sys.executable, "-m", "inpaintkit", "train"] + args, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # wait until a few steps are done
        lines.append(line)
        if line.startswith("step 3/"):
            break
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=300)
    # 128 + 15: stopped by SIGTERM after writing its checkpoint (inpaintkit train --help).
    assert proc.returncode == 143, "".join(lines) + rest
    latest = (tmp_path / "term" / "checkpoints" / "latest").read_text().strip()
    step = int(latest.split("_")[1])
    assert 3 <= step < 100000
    assert "stopped by signal" in rest
