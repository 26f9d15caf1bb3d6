"""Box selection on composites with known object masks: our ``select_object`` beside plain GrabCut.

    .venv/bin/python benchmarks/bench_select.py [--cases 100] [--seed 0] [--dilate 4] [--enlarge 1]
                                                [--json out.json]
    .venv/bin/python benchmarks/bench_select.py --example docs/select_example.png

No hand labelling: each case pastes a cut-out of a photo (or texture) of ``shared/data/train``
onto a photo of ``shared/data/val``, at a random place and size; the cut-out's outline is a
smoothed-noise blob (a Gaussian-blurred noise field plus a radial falloff, thresholded; one
component, holes filled), so it is irregular and object-like, not an ellipse. The pasted mask
is the ground truth. The prompt is the object's tight box grown by 5 % of its width / height
on each side (clipped to the image), as a user's drag would give.

Columns, per method:

* IoU of the raw selection (``dilate=0``) with the object: mean, 10th percentile, minimum,
  and the number of cases under 0.5;
* missed: the share of object pixels outside the *dilated* mask (the default dilation for
  ours, the same dilation for GrabCut), mean and worst; these are what leave ghost outlines
  after a fill;
* time per megapixel of the photo (process time, single thread), median.

The cases are drawn from ``--seed``: the same seed gives the same composites on every run.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class Case:
    image: np.ndarray  # (H, W, 3) uint8 RGB, the composite
    truth: np.ndarray  # (H, W) bool, the pasted object
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), tight + 5 % margin
    name: str


def blob(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """An irregular (h, w) bool blob touching all four sides of its box: smoothed noise plus a
    radial falloff, thresholded at zero; the largest component, holes filled."""
    noise = rng.standard_normal((h, w)).astype(np.float32)
    sigma = max(1.0, min(h, w) * rng.uniform(0.04, 0.1))
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma)
    smooth /= max(float(smooth.std()), 1e-6)
    yy, xx = np.mgrid[-1:1:complex(0, h), -1:1:complex(0, w)]
    r = np.sqrt(xx**2 + yy**2)
    field = (0.75 - r) * rng.uniform(1.0, 2.5) + smooth
    shape = (field > 0).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(shape, connectivity=4)
    if count <= 1:
        return blob(h, w, rng)
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    shape = (labels == keep).astype(np.uint8)
    # holes: what the border flood fill of the background does not reach
    pad = np.pad(1 - shape, 1, constant_values=1)
    flood = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(pad, flood, (0, 0), 2)
    shape = pad[1:-1, 1:-1] != 2
    ys, xs = np.nonzero(shape)
    return shape[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _read(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def make_case(photo: Path, source: Path, rng: np.random.Generator) -> Case:
    """Paste a blob-shaped cut-out of ``source`` onto ``photo`` (module docstring)."""
    image = _read(photo).copy()
    h, w = image.shape[:2]
    side = min(h, w)
    bh = int(side * rng.uniform(0.2, 0.75))
    bw = int(np.clip(bh * np.exp(rng.uniform(-0.5, 0.5)), 0.15 * side, 0.9 * w))
    shape = blob(bh, bw, rng)
    bh, bw = shape.shape
    texture = _read(source)
    zoom = rng.uniform(0.6, 1.4)
    need = max(bh / texture.shape[0], bw / texture.shape[1])
    zoom = max(zoom, need * 1.01)
    texture = cv2.resize(texture, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA if zoom < 1 else
                         cv2.INTER_LINEAR)
    ty = int(rng.integers(0, texture.shape[0] - bh + 1))
    tx = int(rng.integers(0, texture.shape[1] - bw + 1))
    patch = texture[ty:ty + bh, tx:tx + bw]
    y = int(rng.integers(0, h - bh + 1))
    x = int(rng.integers(0, w - bw + 1))
    region = image[y:y + bh, x:x + bw]
    region[shape] = patch[shape]
    truth = np.zeros((h, w), bool)
    truth[y:y + bh, x:x + bw] = shape
    my, mx = round(0.05 * bh), round(0.05 * bw)
    box = (max(0, x - mx), max(0, y - my), min(w, x + bw + mx), min(h, y + bh + my))
    return Case(image, truth, box, f"{photo.stem}+{source.stem}")


def enlarge(case: Case, factor: float) -> Case:
    """The case ``factor`` times larger (bilinear photo, nearest mask, scaled box): the cost and
    the working-size path of large photos, with the same objects."""
    image = cv2.resize(case.image, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
    truth = cv2.resize(case.truth.astype(np.uint8), image.shape[1::-1], interpolation=cv2.INTER_NEAREST) > 0
    h, w = truth.shape
    x0, y0, x1, y1 = case.box
    box = (int(x0 * factor), int(y0 * factor), min(w, round(x1 * factor)), min(h, round(y1 * factor)))
    return Case(image, truth, box, case.name)


def make_cases(count: int, seed: int) -> list[Case]:
    photos = sorted((DATA / "val").glob("*.jpg"))
    sources = sorted((DATA / "train").glob("*.jpg"))
    if not photos or not sources:
        raise SystemExit(f"no photos under {DATA}/val or {DATA}/train")
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        photo = photos[i % len(photos)]
        source = sources[int(rng.integers(len(sources)))]
        cases.append(make_case(photo, source, rng))
    return cases


def plain_grabcut(image: np.ndarray, box: tuple[int, int, int, int], iterations: int = 5) -> np.ndarray:
    """OpenCV GrabCut from the box, ``iterations`` rounds, on the whole image: the baseline."""
    x0, y0, x1, y1 = box
    mask = np.zeros(image.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(image, cv2.COLOR_RGB2BGR), mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd,
                    iterations, cv2.GC_INIT_WITH_RECT)
    except cv2.error:  # a box GrabCut cannot model (too few pixels of one side): nothing selected
        return np.zeros(image.shape[:2], bool)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def score(masks: list[np.ndarray], dilated: list[np.ndarray], cases: list[Case],
          seconds: list[float]) -> dict[str, float]:
    ious, missed = [], []
    for m, d, c in zip(masks, dilated, cases, strict=True):
        inter = np.logical_and(m, c.truth).sum()
        union = np.logical_or(m, c.truth).sum()
        ious.append(inter / union if union else 1.0)
        missed.append(np.logical_and(c.truth, ~d).sum() / c.truth.sum())
    per_mpx = [s / (c.truth.size / 1e6) for s, c in zip(seconds, cases, strict=True)]
    ious_a, missed_a = np.array(ious), np.array(missed)
    return {
        "iou_mean": float(ious_a.mean()), "iou_p10": float(np.percentile(ious_a, 10)),
        "iou_min": float(ious_a.min()), "under_0.5": int((ious_a < 0.5).sum()),
        "missed_mean": float(missed_a.mean()), "missed_max": float(missed_a.max()),
        "s_per_mpx": float(np.median(per_mpx)), "ious": ious_a.tolist(),
    }


def run(method, cases: list[Case], dilate: int) -> dict[str, float]:
    masks, dilated, seconds = [], [], []
    for c in cases:
        start = time.process_time()
        m = method(c.image, c.box)
        seconds.append(time.process_time() - start)
        masks.append(m)
        dilated.append(grow(m, dilate))
    return score(masks, dilated, cases, seconds)


#: The README picture: a val photo and the box a user would drag around its object.
EXAMPLE = ("bsds_106024", (183, 33, 303, 306))


def example(out: Path, model: str = "default") -> None:
    """photo | box | proposed mask (default dilation) | filled with ``model``, side by side."""
    from inpaintkit.inference import Inpainter
    from inpaintkit.io import write_image
    from inpaintkit.masks.select import select_object

    name, box = EXAMPLE
    photo = _read(DATA / "val" / f"{name}.jpg")
    hole = select_object(photo, box)
    filled = Inpainter(model, device="cpu").inpaint(photo, hole)[0]
    boxed = photo.copy()
    x0, y0, x1, y1 = box
    cv2.rectangle(boxed, (x0, y0), (x1 - 1, y1 - 1), (255, 40, 40), 2)
    shown = photo.copy()
    shown[hole] = (0.45 * shown[hole] + 0.55 * np.array([255, 45, 85])).astype(np.uint8)
    gap = np.full((photo.shape[0], 6, 3), 255, np.uint8)
    row = np.concatenate([photo, gap, boxed, gap, shown, gap, filled], axis=1)
    row = cv2.resize(row, None, fx=0.55, fy=0.55, interpolation=cv2.INTER_AREA)
    write_image(out, row)
    print(f"wrote {out}: {name}, box {box}, {100 * hole.mean():.1f} % of the photo selected, filled with {model}")


def main() -> None:
    from inpaintkit.masks.select import DEFAULT_DILATE, select_object

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dilate", type=int, default=DEFAULT_DILATE, help="dilation for the 'missed' column")
    parser.add_argument("--enlarge", type=float, default=1.0,
                        help="scale every composite (3: about 1.4 Mpx photos, the working-size path)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers (per case IoU too)")
    parser.add_argument("--example", type=Path, default=None,
                        help="write the README picture (photo | box | mask | filled) here and stop")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if args.example:
        example(args.example)
        return
    cases = make_cases(args.cases, args.seed)
    if args.enlarge != 1.0:
        cases = [enlarge(c, args.enlarge) for c in cases]
    methods = {
        "GrabCut, 5 iterations (plain)": plain_grabcut,
        "select_object (ours)": lambda im, box: select_object(im, box, dilate=0),
    }
    results = {name: run(fn, cases, args.dilate) for name, fn in methods.items()}
    mpx = np.mean([c.truth.size for c in cases]) / 1e6
    print(f"{len(cases)} composites of {mpx:.2f} Mpx (seed {args.seed}), box = tight + 5 %, "
          f"missed after {args.dilate} px dilation")
    print("| method | mean IoU | p10 IoU | min IoU | cases < 0.5 | missed mean | missed max | s / Mpx |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['iou_mean']:.3f} | {r['iou_p10']:.3f} | {r['iou_min']:.3f} | {r['under_0.5']} | "
              f"{100 * r['missed_mean']:.2f} % | {100 * r['missed_max']:.2f} % | {r['s_per_mpx']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps({"cases": [c.name for c in cases], "results": results}, indent=1))


if __name__ == "__main__":
    main()
