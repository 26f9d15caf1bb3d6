"""Checkerboard index of the learned models (issue 26: pic_net's grey checkerboard).

The energy of the 2x2 checker component ``x00 - x01 - x10 + x11`` (the (pi, pi) frequency,
what transposed convolutions leave behind) of the grey raw network output over the hole,
divided by the same energy of the original photo there: 1 = as much 2-px structure as the
photo itself, far above 1 = a checkerboard painted on top, near 0 = a blur. First N val photos
(centre crop, 256 px) x the 20-30 / 30-40 / 40-50 % buckets (one irregular mask each).

``--lattice`` adds coarser grid-locked patterns (period 4, 8, 16 px: what nearest-neighbour
up-sampling and strided U-Nets leave): the high-pass residual (grey minus its p x p box mean)
is averaged over the hole pixels of each of the p x p lattice phases (y mod p, x mod p), and
the energy of those p^2 phase means is what repeats on the pixel grid. Two numbers per period:
that energy over the photo's (how strong the pattern is beside the photo's own texture), and
the *lock index*, that energy over what phase means of the same residual would have if it had
no fixed phase (its variance x p^2 / hole pixels): about 1 for a photo, far above 1 for a fill
whose fine structure sits on a fixed grid, however faint.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
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


def lattice_energy(grey: np.ndarray, hole: np.ndarray, period: int) -> tuple[float, float]:
    """(energy, lock index) of the grid-locked period-``period`` component of ``grey`` over the hole."""
    residual = grey - cv2.blur(grey, (period, period), borderType=cv2.BORDER_REFLECT)
    ys, xs = np.nonzero(hole)
    values = residual[ys, xs]
    phase = (ys % period) * period + xs % period
    sums = np.bincount(phase, weights=values, minlength=period * period)
    counts = np.bincount(phase, minlength=period * period)
    means = sums[counts > 0] / counts[counts > 0]
    energy = float((means ** 2).mean())
    unlocked = float(values.var()) * period * period / len(values)
    return energy, energy / max(unlocked, 1e-12)


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
    parser.add_argument("--lattice", action="store_true",
                        help="also the period-4/8/16 grid-locked pattern: energy / photo's and lock index")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    photos = sorted((DATA / "val").iterdir())[: args.photos]
    periods = (4, 8, 16) if args.lattice else ()
    extra = "".join(f" period {p}: energy / photo's, lock index (photo's) |" for p in periods)
    print(f"| model | checker energy / photo's, median | mean |{extra} pairs |")
    print("|---|---|---|" + "---|" * len(periods) + "---|")
    for name in args.models:
        model = resolve_model(name).model
        ratios = []
        lattice: dict[int, list[tuple[float, float, float]]] = {p: [] for p in periods}
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
                grey_out, grey_img = out.mean(-1), img.astype(np.float64).mean(-1)
                ratios.append(checker_energy(grey_out, hole)
                              / max(checker_energy(grey_img, hole), 1e-6))
                for p in periods:
                    (energy, lock), (photo_energy, photo_lock) = (lattice_energy(grey_out, hole, p),
                                                                  lattice_energy(grey_img, hole, p))
                    lattice[p].append((energy / max(photo_energy, 1e-6), lock, photo_lock))
        medians = {p: np.median(np.asarray(lattice[p]), axis=0) for p in periods}
        cells = "".join(f" {medians[p][0]:.2f}, {medians[p][1]:.1f} ({medians[p][2]:.1f}) |" for p in periods)
        print(f"| {name} | {np.median(ratios):.2f} | {np.mean(ratios):.2f} |{cells} {len(ratios)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
