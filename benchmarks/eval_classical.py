"""The classical fills (Telea, Navier-Stokes, smooth; radius 3) on the six-bucket irregular-mask protocol.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/eval_classical.py [--images 100] [--size 256]
        [--masks-per-bucket 1] [--seed 0] [--json out.json] [--csv out.csv]

Reads ../shared/data/val and ../shared/data/masks/irregular (relative to the repository
root) and prints the per-bucket PSNR / SSIM / L1 / realism table and the run time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from inpaintkit.evaluation import evaluate, results_table, write_csv, write_json
from inpaintkit.models import create_model
from inpaintkit.models.classical import CLASSICAL_METHODS, ClassicalModel

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def classical_models(radius: int = 3) -> dict[str, ClassicalModel]:
    return {m: create_model(m, radius=radius) for m in CLASSICAL_METHODS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--images", type=int, default=None, help="limit (default: all)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--masks-per-bucket", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--radius", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--csv", type=Path)
    args = parser.parse_args()

    start = time.perf_counter()
    results = evaluate(classical_models(args.radius), args.data / "val",
                       args.data / "masks" / "irregular", size=args.size,
                       masks_per_bucket=args.masks_per_bucket, images=args.images,
                       seed=args.seed, batch_size=16)
    elapsed = time.perf_counter() - start
    console = Console()
    console.print(results_table(results))
    cfg = results.config
    console.print(
        f"{len(results.pairs)} pairs; total {elapsed:.1f} s (data {cfg['data_seconds']:.1f} s; "
        + ", ".join(f"{k} inpaint {v:.1f} s" for k, v in results.seconds.items())
        + f"); bucket/numbering mismatches: {len(cfg['bucket_mismatches'])}"
    )
    if args.json:
        console.print(f"wrote {write_json(results, args.json)}")
    if args.csv:
        console.print(f"wrote {write_csv(results, args.csv)}")


if __name__ == "__main__":
    main()
