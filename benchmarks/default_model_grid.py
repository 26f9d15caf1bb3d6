"""Picture grid of validation photos with large holes: input | each method | original.

    .venv/bin/python benchmarks/default_model_grid.py [--models telea smooth default] [--rows 6]
        [--buckets 40-50 50-60] [--out docs/default_model_grid.png]

Captions give each result's PSNR and hole realism (patch SWD, lower = more realistic).

Uses the evaluation protocol's pairing (``inpaintkit eval`` with the same ``--seed`` and
``--size`` scores exactly these cases): photos of ../shared/data/val, irregular masks of
../shared/data/masks/irregular. Rows are spread evenly over the chosen buckets' pairs, one
per photo; the results are composited (known pixels are the input's).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from inpaintkit.conventions import image_to_tensor, mask_to_tensor, tensor_to_image
from inpaintkit.evaluation import build_eval_set
from inpaintkit.inference import Inpainter
from inpaintkit.io import write_image
from inpaintkit.masks.buckets import parse_bucket
from inpaintkit.metrics.image_metrics import psnr
from inpaintkit.metrics.realism import PatchSWD

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LABEL_H = 22


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """The tile with a white caption strip above it."""
    strip = Image.new("RGB", (tile.shape[1], LABEL_H), "white")
    ImageDraw.Draw(strip).text((4, 5), text, fill="black")
    return np.concatenate([np.asarray(strip), tile], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["telea", "smooth", "default"])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--buckets", nargs="+", default=["40-50", "50-60"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "default_model_grid.png")
    args = parser.parse_args()

    data = build_eval_set(args.data / "val", args.data / "masks" / "irregular", args.size, seed=args.seed)
    wanted = {parse_bucket(b) for b in args.buckets}
    chosen, seen = [], set()
    candidates = [p for p in data.pairs if p.bucket in wanted]
    step = max(1, len(candidates) // args.rows)
    for pair in candidates[::step] + candidates:
        if pair.image not in seen and len(chosen) < args.rows:
            chosen.append(pair)
            seen.add(pair.image)

    methods = {name: Inpainter(name, device="cpu", strategy="full") for name in args.models}
    gap = np.full((args.size + LABEL_H, 6, 3), 255, np.uint8)
    rows = []
    for pair in chosen:
        truth, hole = data.images[pair.image], data.masks[pair.mask]
        image, mask = image_to_tensor(truth), mask_to_tensor(hole)
        damaged = torch.where(mask > 0.5, 1.0, image)  # the hole shown in white
        tiles = [_label(tensor_to_image(damaged[0]), f"input, hole {100 * pair.hole_ratio:.0f}%")]
        realism = PatchSWD(truth, hole)
        for name, inpainter in methods.items():
            out = inpainter.inpaint(truth, hole)[0]  # composited uint8
            db = float(psnr(image_to_tensor(out), image)[0])
            tiles.append(_label(out, f"{name} {db:.2f} dB, SWD {realism(out):.0f}"))
        tiles.append(_label(truth, "original"))
        row = tiles[0]
        for tile in tiles[1:]:
            row = np.concatenate([row, gap, tile], axis=1)
        rows.append(row)
    spacer = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
    grid = rows[0]
    for row in rows[1:]:
        grid = np.concatenate([grid, spacer, row], axis=0)
    print(write_image(args.out, grid))


if __name__ == "__main__":
    main()
