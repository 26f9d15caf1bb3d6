"""Does data loading stall training? Step time with the real data pipeline vs without.

    .venv/bin/python benchmarks/bench_data_stall.py [-c configs/cpu/deepfill_v2.yaml]
        [--steps 40] [--warmup 5] [--set key=value ...]

Two runs of the same config (same model, batch, crop size, threads and data workers), each
``--warmup`` + ``--steps`` training steps of ``training/loop.py``'s step:

* **with data**: batches from the run's own loader (the worker processes decode, crop,
  flip, draw masks and, for a classical coarse input, compute the fill);
* **without data**: one batch of that loader, drawn before the clock starts, fed again
  at every step (compute only; the workers are stopped).

Prints seconds per step for both, their ratio (1.00 = data costs nothing) and the share of
the first run's wall time spent blocked in ``next(batches)``, the figure the training log
reports as ``data_wait``. The ratio can exceed the blocked share: workers also take CPU
time from the compute threads when both share the cores.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

from inpaintkit.training import distributed as distr
from inpaintkit.training.config import load_config
from inpaintkit.training.loop import _train_step
from inpaintkit.training.setup import setup_run

ROOT = Path(__file__).resolve().parents[1]


def _time(run, steps: int, warmup: int) -> tuple[float, float]:
    """(seconds per step, share of the time blocked on the batch iterator)."""
    run.generator.train()
    if run.discriminator is not None:
        run.discriminator.train()
    blocked, start = 0.0, None
    for i in range(warmup + steps):
        if i == warmup:
            blocked, start = 0.0, time.perf_counter()
        t = time.perf_counter()
        batch = next(run.batches)
        blocked += time.perf_counter() - t
        _train_step(run, batch, 1.0)
    wall = time.perf_counter() - start
    return wall / steps, blocked / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, default=ROOT / "configs" / "cpu" / "deepfill_v2.yaml")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for mode in ("with data", "without data"):
            cfg = load_config(args.config, [*args.overrides, f"out_dir={out}/{mode.replace(' ', '_')}"])
            info = distr.setup(cfg.device)
            run = setup_run(cfg, None, info)
            if mode == "without data":
                batch = next(run.batches)
                loader, run.batches = run.batches, itertools.repeat(batch)
                del loader  # stops the workers
            results[mode] = _time(run, args.steps, args.warmup)
            distr.cleanup(info)
    (with_s, blocked), (without_s, _) = results["with data"], results["without data"]
    print(f"{args.config.name}: batch {cfg.batch_size}, {cfg.size} px, {cfg.threads} threads, "
          f"{cfg.num_workers} data workers, {args.steps} steps after {args.warmup}\n")
    print("| pipeline | s / step | blocked on data |")
    print("|---|---:|---:|")
    print(f"| with data | {with_s:.3f} | {100 * blocked:.1f} % |")
    print(f"| without data | {without_s:.3f} | - |")
    print(f"\nwith / without: {with_s / without_s:.3f}x")


if __name__ == "__main__":
    main()
