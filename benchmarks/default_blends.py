"""Classical blends between accuracy and realism, measured per bucket (README "Default model").

    .venv/bin/python benchmarks/default_blends.py [--images 30] [--buckets 1 2 3 4 5] [--radii 2]

On the val protocol's pairs (the first ``--images`` photos, 256 px), PSNR and hole realism
(patch SWD) of Telea, smooth and PatchMatch, and of two families between them:

* ``lowK``: smooth's low frequencies + PatchMatch's high frequencies, split by a Gaussian
  of sigma K px: ``G_K * smooth + (pm - G_K * pm)``;
* ``rampD``: Telea at the hole border, PatchMatch deeper in, weight ``clip((d - 0.5) / D)``
  of the distance d (px) to the nearest known pixel.

* ``pmR+lowK`` for each ``--radii R``: PatchMatch with patches of radius R (``pmR``)
  with the same low-frequency correction, ``pmR + G_K * (smooth - pmR)``; ``pm2+low8`` is
  ``patchmatch_lf``, the ``default`` (chosen on ``--images 20 --radii 1 2 3 5``).

Also ``oracleK``: PatchMatch plus the *true* low frequencies of its error,
``pm + G_K * (truth - pm)``, the room a learned low-frequency correction has (not a method).
Each fill is computed once per pair; PatchMatch dominates the time (~0.6-1.5 s per pair).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from inpaintkit.evaluation import build_eval_set
from inpaintkit.masks.buckets import BUCKET_NAMES
from inpaintkit.metrics.realism import PatchSWD
from inpaintkit.models.classical import classical_fill

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _low(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def candidates(truth: np.ndarray, hole: np.ndarray, radii: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """Every fill of one pair, float32 (H,W,3) (known pixels are replaced later)."""
    f = {m: classical_fill(truth, hole, m).astype(np.float32) for m in ("telea", "smooth", "patchmatch")}
    for r in radii:
        pm_r = classical_fill(truth, hole, "patchmatch", radius=r).astype(np.float32)
        f[f"pm{r}"] = pm_r
        for k in (8, 16):
            f[f"pm{r}+low{k}"] = pm_r + _low(f["smooth"] - pm_r, k)
    pm, x = f["patchmatch"], truth.astype(np.float32)
    for k in (2, 4, 8):
        f[f"low{k}"] = _low(f["smooth"], k) + pm - _low(pm, k)
    depth = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 3)[..., None]
    for d in (2, 4):
        w = np.clip((depth - 0.5) / d, 0.0, 1.0)
        f[f"ramp{d}"] = w * pm + (1.0 - w) * f["telea"]
    for k in (4, 8):
        f[f"oracle{k}"] = pm + _low(x - pm, k)
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--buckets", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--radii", type=int, nargs="*", default=[], help="PatchMatch radii to add")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    data = build_eval_set(args.data / "val", args.data / "masks" / "irregular", 256, 1, args.images, 0)
    scores: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for pair in data.pairs:
        if pair.bucket not in args.buckets:
            continue
        truth, hole = data.images[pair.image], data.masks[pair.mask]
        realism = PatchSWD(truth, hole)
        for name, fill in candidates(truth, hole, tuple(args.radii)).items():
            out = np.where(hole[..., None], np.clip(fill + 0.5, 0, 255), truth).astype(np.uint8)
            mse = np.mean((out.astype(np.float64) - truth) ** 2)
            scores.setdefault(name, {}).setdefault(pair.bucket, []).append(
                (10 * np.log10(255.0**2 / mse), realism(out)))
    names = list(scores)
    print(f"{args.images} photos, PSNR / realism per bucket\n")
    print("| hole ratio | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for b in args.buckets:
        cells = [f"{np.mean([s[0] for s in scores[n][b]]):.2f} / {np.nanmean([s[1] for s in scores[n][b]]):.0f}"
                 for n in names]
        print(f"| {BUCKET_NAMES[b]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
