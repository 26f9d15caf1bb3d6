"""Accuracy vs realism of every method, per hole-ratio bucket, from one ``inpaintkit eval`` run.

    inpaintkit eval -m telea -m ns -m smooth -m patchmatch -m default --json runs/eval.json
    .venv/bin/python benchmarks/default_model_plot.py runs/eval.json [more.json ...] [--out docs/default_model_plot.png]

Several files (runs of the same protocol: same images, masks, size and seed, checked) are
merged, so a method added later needs only its own run.

One panel per bucket (PSNR on x, hole realism = patch SWD on y, lower = more realistic, so
the best corner is bottom right), one marker per method. Blau & Michaeli's perception-
distortion trade-off shows as the spread from `smooth` (accurate, blurred) to `patchmatch`
(realistic, less accurate). Also prints the table (PSNR / SSIM / L1 % / realism) as
markdown, and seconds per image. Needs matplotlib (``pip install 'inpaintkit[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

MARKERS = "osD^vP*Xhp"
PROTOCOL = ("images_dir", "masks_dir", "size", "images", "masks_per_bucket", "seed")


def table(results: dict, models: list[str]) -> str:
    """The per-bucket summary as a markdown table, a column per model."""
    lines = ["| hole ratio | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for bucket in results["summary"][models[0]]:
        cells = []
        for m in models:
            s = results["summary"][m][bucket]
            real = s.get("realism")
            real = "-" if real is None or (isinstance(real, float) and math.isnan(real)) else f"{real:.0f}"
            cells.append(f"{s['psnr']:.2f} / {s['ssim']:.4f} / {s['l1']:.2f} / {real}")
        lines.append(f"| {bucket} | " + " | ".join(cells) + " |")
    pairs = len(results["pairs"])
    lines.append("| s / image | " + " | ".join(f"{results['seconds'][m] / pairs:.3f}" for m in models) + " |")
    return "\n".join(lines)


def plot(results: dict, models: list[str], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    buckets = [b for b in results["summary"][models[0]] if b != "all"]
    cols = 3
    rows = math.ceil(len(buckets) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, bucket in zip(axes.flat, buckets, strict=False):
        for i, m in enumerate(models):
            s = results["summary"][m][bucket]
            ax.scatter(s["psnr"], s["realism"], marker=MARKERS[i % len(MARKERS)], s=60, label=m)
        ax.set_title(f"holes {bucket}")
        ax.set_xlabel("PSNR (dB), higher is better")
        ax.set_ylabel("hole patch SWD, lower is better")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(buckets):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    n = results["config"]["images"]
    fig.suptitle(f"Accuracy vs realism, {n} val photos x 1 mask per bucket, "
                 f"{results['config']['size']} px (best: bottom right)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)


def merge(runs: list[dict]) -> dict:
    """One results dict from eval runs of the same protocol (ValueError if they differ)."""
    first = runs[0]
    merged = {**first, "models": list(first["models"]), "summary": dict(first["summary"]),
              "seconds": dict(first["seconds"])}
    for other in runs[1:]:
        same = all(other["config"].get(k) == first["config"].get(k) for k in PROTOCOL)
        if not same or other["pairs"] != first["pairs"]:
            raise ValueError("the eval runs differ in protocol (images, masks, size or seed)")
        for m in other["models"]:
            if m not in merged["models"]:
                merged["models"].append(m)
            merged["summary"][m] = other["summary"][m]
            merged["seconds"][m] = other["seconds"][m]
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="JSON written by inpaintkit eval --json")
    parser.add_argument("--models", nargs="*", help="subset and order (default: all in the file)")
    parser.add_argument("--out", type=Path, default=Path("docs/default_model_plot.png"))
    args = parser.parse_args()
    results = merge([json.loads(p.read_text()) for p in args.results])
    models = args.models or results["models"]
    print(table(results, models))
    plot(results, models, args.out)
    print(f"\nplot: {args.out}")


if __name__ == "__main__":
    main()
