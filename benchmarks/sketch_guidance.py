"""How much a sketch helps a guided model: the val protocol with and without strokes.

    .venv/bin/python benchmarks/sketch_guidance.py --model PATH_OR_NAME [--limit N]
        [--figure docs/sketch_guidance.png] [--hurried] [--speed]

The model: a DeepFill v2 with a sketch channel, or ``default`` (``patchmatch_lf``: strokes
are walls of its structure fill, ``models/structure.py``).

For every pair of the eval protocol (``inpaintkit eval``'s images, irregular masks and
buckets, 256 px, one mask per image and bucket), the model fills the hole twice through the
Inpainter, as ``inpaintkit fill`` does: without a sketch, and with the Canny strokes of the
*original* (:func:`inpaintkit.data.sketch.sketch_from_uint8`, the extractor the model was
trained with) given inside the hole only (the model masks it too; outside, the user would
see the photo itself). Scores on the composited uint8 result over the whole image: PSNR,
SSIM, L1 (% of 255) and realism (patch SWD x1e3, lower is better), per hole bucket, as a
markdown table (cells: without -> with). The strokes come from the truth, so this is the
upper end of what a user's sketch can give: the edges are exactly where they belong.
``--hurried`` also scores what a hurried user draws: only the strokes of 15 px or more
(8-connected), each shifted by its own random offset of up to 2 px in x and y (seeded by
the pair), clipped to the hole. ``--speed``: seconds per fill of one 512 x 512 photo (a
30-40 % mask) without and with its true strokes (median of 3 runs, CPU time of this
process: set OMP_NUM_THREADS=1).
The figure shows a few pairs: input (hole grey), mask (white) + strokes (cyan), result
without, result with, original.
"""

from __future__ import annotations

import argparse
import time
import zlib
from pathlib import Path

import cv2
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


def hurried(strokes: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    """The strokes a hurried user draws (module docstring): long ones only, each jittered."""
    rng = np.random.default_rng(seed)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(strokes.astype(np.uint8), connectivity=8)
    out = np.zeros_like(strokes)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] >= 15:
            dy, dx = rng.integers(-2, 3, size=2)
            out |= np.roll(labels == i, (int(dy), int(dx)), axis=(0, 1))
    return out & hole


def _figure_row(truth, hole, strokes, plain, guided) -> np.ndarray:
    shown = truth.copy()
    shown[hole] = 128
    ink = np.where(hole[..., None], 255, 0).astype(np.uint8).repeat(3, axis=2)
    ink[strokes] = (0, 229, 255)  # the page's pen colour
    gap = np.full((truth.shape[0], 4, 3), 255, np.uint8)
    cells = [shown, ink, plain, guided, truth]
    return np.concatenate([c for cell in cells for c in (cell, gap)][:-1], axis=1)


def _table(rows: dict, kind: str) -> None:
    print(f"\nsketch: {kind}; cells: without -> with\n")
    print("| hole ratio | " + " | ".join(f"{m} ({'lower' if m in ('l1', 'realism') else 'higher'} better)"
                                       for m in METRICS) + " | PSNR gain (dB) |")
    print("|---|" + "---|" * (len(METRICS) + 1))
    for b in range(len(BUCKET_NAMES)):
        cells = []
        for m in METRICS:
            v = np.array(rows.get(b, {}).get(m, [(np.nan, np.nan)]), dtype=np.float64)
            without, with_ = np.nanmean(v[:, 0]), np.nanmean(v[:, 1])  # realism may be NaN (tiny holes)
            cells.append(f"{FORMATS[m].format(without)} -> {FORMATS[m].format(with_)}")
            if m == "psnr":
                gain = with_ - without
        print(f"| {BUCKET_NAMES[b]} | " + " | ".join(cells) + f" | {gain:+.2f} |")


def _speed(inp: Inpainter, data) -> None:
    """Seconds per fill at 512 x 512 (module docstring), without and with the true strokes."""
    pair = next(p for p in data.pairs if p.bucket == 4)  # 30-40 %
    truth = cv2.resize(data.images[pair.image], (512, 512), interpolation=cv2.INTER_CUBIC)
    hole = cv2.resize(data.masks[pair.mask].astype(np.uint8), (512, 512), interpolation=cv2.INTER_NEAREST) > 0
    strokes = (sketch_from_uint8(truth) > 127) & hole
    times = {}
    for name, sketch in (("without", None), ("with", strokes)):
        runs = []
        for _ in range(3):
            start = time.process_time()  # CPU time: wall time is noise on shared cores
            inp.inpaint(truth, hole, seed=0, sketch=sketch)
            runs.append(time.process_time() - start)
        times[name] = float(np.median(runs))
    print(f"\nCPU seconds per fill at 512 x 512 ({hole.mean():.0%} hole, {int(strokes.sum())} stroke px): "
          f"without {times['without']:.2f} s, with {times['with']:.2f} s, ratio {times['with'] / times['without']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a registry name, default, or a checkpoint folder")
    parser.add_argument("--limit", type=int, default=None, help="the first N val images (default: all)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--figure", type=Path, default=Path("docs/sketch_guidance.png"))
    parser.add_argument("--rows", type=int, default=4, help="pairs shown in the figure")
    parser.add_argument("--hurried", action="store_true", help="also score thinned, jittered strokes")
    parser.add_argument("--speed", action="store_true", help="also time one 512 px fill without / with")
    args = parser.parse_args()
    inp = Inpainter(args.model, device="cpu", strategy="full")
    if not inp.model.sketch_channels:
        parser.error(f"{args.model} has no sketch channel (train one with configs/cpu/deepfill_v2_sketch.yaml)")
    data = build_eval_set(args.data / "val", args.data / "masks" / "irregular", 256, 1, args.limit, 0)
    kinds = ("true edges", "hurried") if args.hurried else ("true edges",)
    rows: dict[str, dict[int, dict[str, list[tuple[float, float]]]]] = {k: {} for k in kinds}
    figure, sketches = [], {}
    for pair in data.pairs:
        truth, hole = data.images[pair.image], data.masks[pair.mask]
        if pair.image not in sketches:
            sketches[pair.image] = sketch_from_uint8(truth) > 127
        strokes = sketches[pair.image] & hole  # inside the hole only
        plain = inp.inpaint(truth, hole, seed=0)[0]
        swd = PatchSWD(truth, hole)
        a = _scores(plain, truth, swd)
        for kind in kinds:
            drawn = strokes if kind == "true edges" else hurried(strokes, hole, zlib.crc32(pair.mask.encode()))
            guided = inp.inpaint(truth, hole, seed=0, sketch=drawn)[0]
            b = _scores(guided, truth, swd)
            for m in METRICS:
                rows[kind].setdefault(pair.bucket, {}).setdefault(m, []).append((a[m], b[m]))
            if kind == "true edges" and len(figure) < args.rows and pair.bucket == 3 and strokes.sum() > 50:
                figure.append(_figure_row(truth, hole, strokes, plain, guided))  # 30-40 %: room to draw
    print(f"{args.model}: {len(data.images)} val photos x 6 buckets, 256 px; true edges = Canny of the "
          f"original inside the hole")
    for kind in kinds:
        _table(rows[kind], kind)
    if args.speed:
        _speed(inp, data)
    if figure:
        pad = np.full((4, figure[0].shape[1], 3), 255, np.uint8)
        sheet = np.concatenate([r for row in figure for r in (row, pad)][:-1])
        args.figure.parent.mkdir(parents=True, exist_ok=True)
        jpeg = args.figure.suffix.lower() in (".jpg", ".jpeg")  # a photo grid: JPEG keeps it small
        Image.fromarray(sheet).save(args.figure, optimize=True, **({"quality": 80} if jpeg else {}))
        print(f"\nwrote {args.figure} (columns: input, mask + strokes, without, with, original)")


if __name__ == "__main__":
    main()
