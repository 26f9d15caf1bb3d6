"""Pluralistic completion: sample diversity and best-of-K PSNR, per hole-ratio bucket.

    .venv/bin/python benchmarks/pic_diversity.py -m pic_net -m runs/cpu_pic_cvae/checkpoints/step_N
        [--images 50] [--samples 10]

For every val pair (the eval protocol's pairing, 256 px), each model draws K completions
(``Inpainter.inpaint(samples=K, seed=0)``, composited) and reports, per bucket:

* diversity: mean pairwise L1 inside the hole, % of 255 (:func:`~inpaintkit.metrics.diversity.sample_diversity`;
  the PIC paper's measure is LPIPS, which needs pretrained weights);
* best-of-K PSNR: the PSNR of the sample closest to the original (what the PIC paper reports
  for pluralistic methods, since one ground truth cannot score the others);
* mean PSNR over the K samples;
* with ``--rank``: PSNR and hole realism (patch SWD x1e3, lower is better) of the sample
  the model's shipped discriminator ranks first (PIC's test-time selection,
  :func:`~inpaintkit.models.pic_discriminator.rank_samples`), next to the mean over the K
  samples: does the discriminator pick better samples than chance?
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from inpaintkit.conventions import image_to_tensor, mask_to_tensor
from inpaintkit.evaluation import build_eval_set
from inpaintkit.inference import Inpainter
from inpaintkit.masks.buckets import BUCKET_NAMES
from inpaintkit.metrics.diversity import sample_diversity
from inpaintkit.metrics.realism import PatchSWD
from inpaintkit.models.pic_discriminator import rank_samples
from inpaintkit.models.serialization import load_discriminator

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", action="append", required=True)
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rank", type=Path, default=None, metavar="FOLDER",
                        help="a checkpoint folder with a discriminator/ (e.g. src/inpaintkit/"
                             "weights/pic_net): rank every model's samples with it")
    args = parser.parse_args()
    disc = load_discriminator(args.rank) if args.rank else None
    if args.rank and disc is None:
        parser.error(f"{args.rank} has no discriminator/ folder")
    ranked: dict[str, dict[int, list[tuple[float, float, float, float]]]] = {}
    data = build_eval_set(args.data / "val", args.data / "masks" / "irregular", 256, 1, args.images, 0)
    rows: dict[str, dict[int, list[tuple[float, float, float]]]] = {}
    for name in args.model:
        inp = Inpainter(name, device="cpu", strategy="full")
        for pair in data.pairs:
            truth, hole = data.images[pair.image], data.masks[pair.mask]
            outs = inp.inpaint(truth, hole, samples=args.samples, seed=0)
            psnrs = [_psnr(o, truth) for o in outs]
            stack = torch.cat([image_to_tensor(o) for o in outs])[None]  # (1,K,3,H,W)
            div = float(sample_diversity(stack, mask_to_tensor(hole))[0])
            rows.setdefault(name, {}).setdefault(pair.bucket, []).append((div, max(psnrs), float(np.mean(psnrs))))
            if disc is not None:
                top = int(rank_samples(stack, disc, mask_to_tensor(hole))[0, 0])
                swd = PatchSWD(truth, hole)  # the original's patches, once per pair
                real = [swd(o) for o in outs]
                ranked.setdefault(name, {}).setdefault(pair.bucket, []).append(
                    (psnrs[top], float(np.mean(psnrs)), real[top], float(np.mean(real))))
    print(f"{args.images} photos x 6 buckets, K = {args.samples}; cells: diversity (hole L1 %) / "
          f"best-of-K PSNR / mean PSNR\n")
    print("| hole ratio | " + " | ".join(args.model) + " |")
    print("|---|" + "---|" * len(args.model))
    for b in range(len(BUCKET_NAMES)):
        cells = []
        for name in args.model:
            v = np.array(rows[name].get(b, [(np.nan,) * 3]))
            cells.append(f"{v[:, 0].mean():.2f} / {v[:, 1].mean():.2f} / {v[:, 2].mean():.2f}")
        print(f"| {BUCKET_NAMES[b]} | " + " | ".join(cells) + " |")
    if disc is None:
        return
    print(f"\nRanked by the discriminator of {args.rank}; cells: PSNR of its top-1 / mean PSNR, "
          f"realism of its top-1 / mean realism\n")
    print("| hole ratio | " + " | ".join(args.model) + " |")
    print("|---|" + "---|" * len(args.model))
    for b in range(len(BUCKET_NAMES)):
        cells = []
        for name in args.model:
            v = np.array(ranked[name].get(b, [(np.nan,) * 4]))
            cells.append(f"{v[:, 0].mean():.2f} / {v[:, 1].mean():.2f}, {v[:, 2].mean():.0f} / {v[:, 3].mean():.0f}")
        print(f"| {BUCKET_NAMES[b]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
