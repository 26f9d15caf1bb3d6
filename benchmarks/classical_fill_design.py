"""Why the default model's coarse stage is ``smooth``: classical fills on *training* crops.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/classical_fill_design.py [--images 150]
        [--masks 2] [--size 256] [--seed 0]

Design data only (no validation photo, no irregular test mask): the first ``--images``
BSDS photos of ../shared/data/train (shorter side resized to ``--size``, centre crop, as
the evaluation protocol does) with ``--masks`` generated training masks each (free-form +
boxes), grouped by hole ratio into the six buckets. Prints PSNR / SSIM / L1 per bucket for
Telea, Navier-Stokes, their mean and ``smooth`` at several blur widths, and each method's
PSNR gain over Telea.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from inpaintkit.conventions import image_to_tensor
from inpaintkit.evaluation import prepare_image
from inpaintkit.io import read_image
from inpaintkit.masks.buckets import BUCKET_NAMES, bucket_of
from inpaintkit.masks.generator import MixedMaskGenerator
from inpaintkit.metrics.image_metrics import compute_metrics
from inpaintkit.models.classical import classical_fill, smooth_fill

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _mean_of_opencv(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    telea = cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA).astype(np.float32)
    ns = cv2.inpaint(image, hole, 3, cv2.INPAINT_NS).astype(np.float32)
    return np.clip(0.5 * (telea + ns) + 0.5, 0, 255).astype(np.uint8)


def methods() -> dict[str, object]:
    out: dict[str, object] = {
        "telea": partial(classical_fill, method="telea"),
        "ns": partial(classical_fill, method="ns"),
        "mean(telea,ns)": _mean_of_opencv,
    }
    for sigma in (4.0, 8.0, 12.0):
        out[f"smooth s={sigma:g}"] = partial(smooth_fill, sigma=sigma)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--images", type=int, default=150)
    parser.add_argument("--masks", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    files = sorted((args.data / "train").glob("bsds_*"))[: args.images]
    if not files:
        raise SystemExit(f"no bsds_* photos in {args.data / 'train'}")
    gen = MixedMaskGenerator(size=args.size)
    rng = np.random.default_rng(args.seed)
    fills = methods()
    # scores[method][bucket] = list of (psnr, ssim, l1)
    scores: dict[str, dict[str, list[tuple[float, float, float]]]] = {m: {} for m in fills}
    start = time.perf_counter()
    for path in files:
        image = prepare_image(read_image(path), args.size)
        for _ in range(args.masks):
            hole = (gen.sample(rng) > 0.5).astype(np.uint8) * 255
            index = bucket_of(float((hole > 0).mean()))
            if index is None:
                continue
            target = image_to_tensor(image)
            for name, fill in fills.items():
                m = compute_metrics(image_to_tensor(fill(image, hole)), target, max_db=100.0)
                scores[name].setdefault(BUCKET_NAMES[index], []).append(
                    (float(m["psnr"][0]), float(m["ssim"][0]), float(m["l1"][0])))
    elapsed = time.perf_counter() - start

    buckets = [b for b in BUCKET_NAMES if b in scores["telea"]]
    table = Table(title=f"classical fills, {len(files)} BSDS train crops x {args.masks} generated masks "
                        f"({args.size} px): PSNR / SSIM / L1 %  [PSNR gain over telea]")
    table.add_column("method")
    for b in buckets:
        table.add_column(f"{b} (n={len(scores['telea'][b])})", justify="right")
    for name, per in scores.items():
        cells = []
        for b in buckets:
            p, s, l1 = np.mean(np.array(per[b]), axis=0)
            gain = p - np.mean([x[0] for x in scores["telea"][b]])
            cells.append(f"{p:.2f} / {s:.4f} / {l1:.2f} [{gain:+.2f}]")
        table.add_row(name, *cells)
    console = Console(width=200)
    console.print(table)
    console.print(f"total {elapsed:.1f} s")


if __name__ == "__main__":
    main()
