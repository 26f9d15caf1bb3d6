"""Checkerboard index of the learned models (issue 26: pic_net's grey checkerboard).

The energy of the 2x2 checker component ``x00 - x01 - x10 + x11`` (the (pi, pi) frequency,
what transposed convolutions leave behind) of the grey raw network output over the hole,
divided by the same energy of the original photo there: 1 = as much 2-px structure as the
photo itself, far above 1 = a checkerboard painted on top, near 0 = a blur. First N val photos
(centre crop, 256 px) x the 20-30 / 30-40 / 40-50 % buckets (one irregular mask each).

    .venv/bin/python benchmarks/checkerboard.py pic_net deepfill_v2 rn_inpaint pconv_unet --photos 12
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inpaintkit.inference import resolve_model
from inpaintkit.io import read_image, read_mask

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def checker_energy(grey: np.ndarray, hole: np.ndarray) -> float:
    """Mean squared 2x2 checker response over the 2x2 blocks wholly inside the hole."""
    c = grey[:-1, :-1] - grey[:-1, 1:] - grey[1:, :-1] + grey[1:, 1:]
    inside = hole[:-1, :-1] & hole[1:, 1:] & hole[:-1, 1:] & hole[1:, :-1]
    return float((c[inside] ** 2).mean())


def _photo(path: Path, size: int) -> np.ndarray:
    img = read_image(path)
    h, w = img.shape[:2]
    s = min(h, w)
    crop = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.BICUBIC))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    photos = sorted((DATA / "val").iterdir())[: args.photos]
    print("| model | checker energy / photo's, median | mean | pairs |")
    print("|---|---|---|---|")
    for name in args.models:
        model = resolve_model(name).model
        ratios = []
        for i, path in enumerate(photos):
            img = _photo(path, args.size)
            for bucket in (2, 3, 4):
                m = read_mask(DATA / "masks" / "irregular" / f"{bucket * 2000 + i:05d}.png")
                small = Image.fromarray(m.astype(np.uint8) * 255).resize((args.size,) * 2, Image.NEAREST)
                hole = np.asarray(small) > 127
                x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
                with torch.no_grad():
                    raw = model.inpaint(x, torch.from_numpy(hole)[None, None].float(),
                                        generator=torch.Generator().manual_seed(0))
                out = (raw[0].permute(1, 2, 0).numpy() + 1) * 127.5
                ratios.append(checker_energy(out.mean(-1), hole)
                              / max(checker_energy(img.astype(np.float64).mean(-1), hole), 1e-6))
        print(f"| {name} | {np.median(ratios):.2f} | {np.mean(ratios):.2f} | {len(ratios)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
