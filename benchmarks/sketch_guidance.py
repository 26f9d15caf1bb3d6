"""How much a sketch helps a guided DeepFill v2: the val protocol with and without strokes.

    .venv/bin/python benchmarks/sketch_guidance.py --model PATH_OR_NAME [--limit N]
        [--figure docs/sketch_guidance.png]

For every pair of the eval protocol (``inpaintkit eval``'s images, irregular masks and
buckets, 256 px, one mask per image and bucket), the model fills the hole twice through the
Inpainter, as ``inpaintkit fill`` does: without a sketch, and with the Canny strokes of the
*original* (:func:`inpaintkit.data.sketch.sketch_from_uint8`, the extractor the model was
trained with) given inside the hole only (the model masks it too; outside, the user would
see the photo itself). Scores on the composited uint8 result over the whole image: PSNR,
SSIM, L1 (% of 255) and realism (patch SWD x1e3, lower is better), per hole bucket, as a
markdown table (cells: without -> with). The strokes come from the truth, so this is the
upper end of what a user's sketch can give: the edges are exactly where they belong.
The figure shows a few pairs: input (hole in magenta), sketch, result without, result
with, original.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inpaintkit.data.sketch import sketch_from_uint8
from inpaintkit.evaluation import build_eval_set
from inpaintkit.inference import Inpainter
from inpaintkit.masks.buckets import BUCKET_NAMES
from inpaintkit.metrics.image_metrics import compute_metrics
from inpaintkit.metrics.realism import PatchSWD

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
METRICS = ("psnr", "ssim", "l1", "realism")
FORMATS = {"psnr": "{:.2f}", "ssim": "{:.4f}", "l1": "{:.2f}", "realism": "{:.0f}"}


def _scores(result: np.ndarray, truth: np.ndarray, swd: PatchSWD) -> dict[str, float]:
    pred, target = (torch.from_numpy(a).permute(2, 0, 1)[None] for a in (result, truth))
    out = {k: float(v[0]) for k, v in compute_metrics(pred, target).items()}
    out["realism"] = float(swd(result))
    return out


def _figure_row(truth, hole, strokes, plain, guided) -> np.ndarray:
    shown = truth.copy()
    shown[hole] = (255, 0, 255)
    ink = np.where(strokes[..., None], 0, 255).astype(np.uint8).repeat(3, axis=2)
    gap = np.full((truth.shape[0], 4, 3), 255, np.uint8)
    cells = [shown, ink, plain, guided, truth]
    return np.concatenate([c for cell in cells for c in (cell, gap)][:-1], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a registry name or a checkpoint folder")
    parser.add_argument("--limit", type=int, default=None, help="the first N val images (default: all)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--figure", type=Path, default=Path("docs/sketch_guidance.png"))
    parser.add_argument("--rows", type=int, default=4, help="pairs shown in the figure")
    args = parser.parse_args()
    inp = Inpainter(args.model, device="cpu", strategy="full")
    if not inp.model.sketch_channels:
        parser.error(f"{args.model} has no sketch channel (train one with configs/cpu/deepfill_v2_sketch.yaml)")
    data = build_eval_set(args.data / "val", args.data / "masks" / "irregular", 256, 1, args.limit, 0)
    rows: dict[int, dict[str, list[tuple[float, float]]]] = {}
    figure, sketches = [], {}
    for pair in data.pairs:
        truth, hole = data.images[pair.image], data.masks[pair.mask]
        if pair.image not in sketches:
            sketches[pair.image] = sketch_from_uint8(truth) > 127
        strokes = sketches[pair.image] & hole  # inside the hole only
        plain = inp.inpaint(truth, hole, seed=0)[0]
        guided = inp.inpaint(truth, hole, seed=0, sketch=strokes)[0]
        swd = PatchSWD(truth, hole)
        a, b = _scores(plain, truth, swd), _scores(guided, truth, swd)
        for m in METRICS:
            rows.setdefault(pair.bucket, {}).setdefault(m, []).append((a[m], b[m]))
        if len(figure) < args.rows and pair.bucket == 3 and strokes.sum() > 50:  # 30-40 %: room to draw
            figure.append(_figure_row(truth, hole, strokes, plain, guided))
    print(f"{args.model}: {len(data.images)} val photos x 6 buckets, 256 px; sketch = Canny of the "
          f"original inside the hole; cells: without -> with\n")
    print("| hole ratio | " + " | ".join(f"{m} ({'lower' if m in ('l1', 'realism') else 'higher'} better)"
                                       for m in METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    for b in range(len(BUCKET_NAMES)):
        cells = []
        for m in METRICS:
            v = np.array(rows.get(b, {}).get(m, [(np.nan, np.nan)]), dtype=np.float64)
            without, with_ = np.nanmean(v[:, 0]), np.nanmean(v[:, 1])  # realism may be NaN (tiny holes)
            cells.append(f"{FORMATS[m].format(without)} -> {FORMATS[m].format(with_)}")
        print(f"| {BUCKET_NAMES[b]} | " + " | ".join(cells) + " |")
    if figure:
        pad = np.full((4, figure[0].shape[1], 3), 255, np.uint8)
        sheet = np.concatenate([r for row in figure for r in (row, pad)][:-1])
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet).save(args.figure, optimize=True)
        print(f"\nwrote {args.figure} (columns: input, sketch, without, with, original)")


if __name__ == "__main__":
    main()
