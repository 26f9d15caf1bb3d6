"""The prepared accelerator run (issue 26): one command trains, the weights come back.

Three modes, all through the project's own ``inpaintkit train`` (nothing GPU-specific here
but the config, ``configs/device/deepfill_v2_sketch.yaml``):

* ``--pack`` (here, where ``../shared/data`` is): writes ``.device_data/train`` (ignored by
  git), the training photos with their short side scaled to the run's crop size, JPEG q85,
  textures dropped last-first until it fits ``--max-mib`` (default: what the device's 64 MiB
  transfer cap leaves beside the repository's tracked files, less 4 MiB; at most 40).
* default (on the lent GPU, after ``--pack``; ``run(command="bash scripts/device_train.sh",
  carry=[".device_data"])``): trains with a guard timeout, then releases the run's EMA
  generator in fp16 into ``$OUT/<run name>/`` (config.json + model.safetensors, with the
  steps, GPU, time and config in its metadata), plus ``$OUT/train.log``.
* ``--smoke`` (CPU, in ``make test``): the same path on 8 photos, the real model and config at 64 px,
  10 steps, into a temporary ``$OUT``; checks that the released folder loads and takes a
  sketch.

Back here: evaluate ``$OUT/<run name>`` with ``inpaintkit eval`` against the shipped weights
on the same pairs and release what wins (docs/DEVELOPING.md, "A lent accelerator").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "device" / "deepfill_v2_sketch.yaml"
PACKED = ROOT / ".device_data" / "train"
SHARED_TRAIN = ROOT.parent / "shared" / "data" / "train"


def pack(src: Path, dst: Path, short_side: int, max_mib: float, limit: int | None = None) -> tuple[int, float]:
    """Scale every photo of ``src`` to ``short_side`` (never up), JPEG q85, into ``dst``;
    textures (``dtd_*``) are dropped from the end until the total fits ``max_mib``."""
    from PIL import Image

    files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    photos = [p for p in files if not p.name.startswith("dtd_")] + [p for p in files if p.name.startswith("dtd_")]
    photos = photos[:limit] if limit else photos
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    total, written = 0, []
    for path in photos:
        with Image.open(path) as im:
            im = im.convert("RGB")
            scale = short_side / min(im.size)
            if scale < 1:
                im = im.resize((max(short_side, round(im.width * scale)), max(short_side, round(im.height * scale))),
                               Image.LANCZOS)
            out = dst / (path.stem + ".jpg")
            im.save(out, quality=85)
        total += out.stat().st_size
        written.append(out)
    while total > max_mib * 2**20 and written:
        last = written.pop()
        total -= last.stat().st_size
        last.unlink()
    return len(written), total / 2**20


def tracked_mib() -> float:
    """Size of the repository's tracked files (they travel to the device with the pack)."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return sum((ROOT / n).stat().st_size for n in names.decode().split("\0") if n and (ROOT / n).is_file()) / 2**20


def _python() -> list[str]:
    return [sys.executable, "-m", "inpaintkit"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def train_and_release(config: Path, data: Path, out: Path, sets: list[str], guard_s: float, compute: str) -> Path:
    """``inpaintkit train`` (SIGTERM at ``guard_s``: it checkpoints and stops), then the
    latest checkpoint's EMA generator in fp16 into ``out/<run name>``."""
    runs = Path(tempfile.mkdtemp(prefix="device_runs_"))
    cmd = [*_python(), "train", "-c", str(config), "--set", f"data={data}", "--set", f"out_dir={runs}", *sum(
        (["--set", s] for s in sets), [])]
    log_path = out / "train.log"
    start = time.time()
    with open(log_path, "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=ROOT)
        try:
            proc.wait(timeout=guard_s)
        except subprocess.TimeoutExpired:
            proc.terminate()  # the loop checkpoints on SIGTERM
            proc.wait(timeout=120)
    wall = time.time() - start
    checkpoints = sorted(runs.glob("*/checkpoints/step_*"))
    if not checkpoints:
        tail = log_path.read_text()[-2000:]
        raise SystemExit(f"training wrote no checkpoint (exit {proc.returncode}); log tail:\n{tail}")
    last = checkpoints[-1]
    name = last.parent.parent.name
    release = out / name
    subprocess.run([sys.executable, str(ROOT / "scripts" / "release_weights.py"), str(last), str(release),
                    "--config-file", str(config.relative_to(ROOT)), "--compute", compute,
                    "--data", f"{data.name}: {len(list(data.iterdir()))} photos (packed from shared/data/train)"],
                   check=True, env=_env(), cwd=ROOT)
    info = json.loads((release / "config.json").read_text())
    print(f"released {release}: {info.get('steps')} steps, {wall / 60:.1f} min wall, exit {proc.returncode}")
    shutil.rmtree(runs, ignore_errors=True)
    return release


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--pack", action="store_true", help="pack ../shared/data/train into .device_data (here)")
    mode.add_argument("--smoke", action="store_true", help="the same path on the CPU, small and short")
    parser.add_argument("--max-mib", type=float, default=None,
                        help="size cap of the pack (default: what the 64 MiB transfer leaves beside the "
                             "repository's tracked files, less 4 MiB, at most 40)")
    parser.add_argument("--minutes", type=float, default=8.5, help="guard: SIGTERM after this wall time")
    args = parser.parse_args(argv)

    if args.pack:
        max_mib = args.max_mib if args.max_mib is not None else min(40.0, 60.0 - tracked_mib())
        n, mib = pack(SHARED_TRAIN, PACKED, 256, max_mib)
        print(f"packed {n} photos, {mib:.1f} MiB into {PACKED.relative_to(ROOT)}")
        return 0
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            data = tmp / "train"
            n, _ = pack(SHARED_TRAIN, data, 64, 5.0, limit=8)
            out = Path(os.environ.get("OUT") or tmp / "out")
            out.mkdir(parents=True, exist_ok=True)
            # The real config (shipped weights expanded to the sketch channel), small and short.
            sets = ["size=64", "batch_size=2", "steps=10",
                    "budget_cpu_minutes=0", "num_workers=0", "threads=1", "device=cpu", "amp=false",
                    "warmup_steps=2", "log_every=5", "ckpt_minutes=0", "ckpt_every=10"]
            release = train_and_release(CONFIG, data, out, sets, guard_s=600, compute="smoke test, CPU")
            check = ("import torch; from inpaintkit.inference import load_model; "
                     f"m = load_model({str(release)!r}); assert m.sketch_channels == 1, m.sketch_channels; "
                     "x = torch.zeros(1, 3, 64, 64); k = torch.zeros(1, 1, 64, 64); k[..., 16:48, 16:48] = 1; "
                     "y = m.inpaint(x, k, sketch=k); assert torch.isfinite(y).all(); "
                     "print('smoke: ok', tuple(y.shape))")
            subprocess.run([sys.executable, "-c", check], check=True, env=_env(), cwd=ROOT)
        return 0
    out = Path(os.environ.get("OUT", ROOT / "outputs" / "device"))
    out.mkdir(parents=True, exist_ok=True)
    if not PACKED.is_dir():
        raise SystemExit("no .device_data/train: run `scripts/device_train.sh --pack` here first, "
                         "and carry .device_data")
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU (CPU)"
    print(f"torch {torch.__version__}, {gpu}")
    train_and_release(CONFIG, PACKED, out, [], guard_s=args.minutes * 60, compute=f"1 x {gpu}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
