"""The training sketches: a few val photos beside the Canny strokes the objective feeds
DeepFill v2 (:mod:`inpaintkit.data.sketch`), and the cost of extracting them per batch.

    .venv/bin/python benchmarks/sketch_extraction.py [--out docs/sketch_extraction.png]

Rows: photos of ``shared/data/val`` prepared as the eval protocol does (shorter side
resized, centre crop), at the training size (128) and at 256; strokes drawn black on white.
The timing line is one batch of 8 at 128 px, as in ``configs/cpu/deepfill_v2_sketch.yaml``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inpaintkit.data.sketch import HIGH, LOW, SIGMA, extract_sketch, sketch_from_uint8
from inpaintkit.evaluation.protocol import prepare_image
from inpaintkit.io import list_image_files, read_image

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NAMES = ("bsds_101085", "bsds_147091", "bsds_210088", "bsds_296059")


def _batch_cost(size: int = 128, batch: int = 8, repeats: int = 5) -> float:
    """Median CPU seconds (process time: the machine may be shared) of one extract_sketch
    call on a (batch,3,size,size) batch of photos."""
    files = list_image_files(DATA / "val")[:batch]
    x = torch.stack([torch.from_numpy(prepare_image(read_image(f), size)).permute(2, 0, 1)
                     for f in files]).float() / 127.5 - 1.0
    extract_sketch(x)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        extract_sketch(x)
        times.append(time.process_time() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/sketch_extraction.png"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in NAMES:
        photo = read_image(next(p for p in list_image_files(DATA / "val") if p.stem == name))
        cells = []
        for size in (128, 256):
            img = prepare_image(photo, size)
            ink = 255 - sketch_from_uint8(img)  # black strokes on white paper
            k = 256 // size  # nearest-neighbour enlargement: the 1-px strokes stay visible
            big, ink_big = (a.repeat(k, axis=0).repeat(k, axis=1) for a in (img, ink))
            cells += [big, np.repeat(ink_big[..., None], 3, axis=2)]
        gap = np.full((256, 6, 3), 255, np.uint8)
        rows.append(np.concatenate([c for cell in cells for c in (cell, gap)][:-1], axis=1))
    sheet = np.concatenate([r for row in rows for r in (row, np.full((6, row.shape[1], 3), 255, np.uint8))][:-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out, optimize=True)
    cost = _batch_cost()
    print(f"wrote {args.out} (columns: photo 128 px shown x2, its sketch, photo 256 px, its sketch; "
          f"sigma {SIGMA}, low {LOW}, high {HIGH})")
    print(f"extract_sketch on a batch of 8 at 128 px, 1 thread: {cost * 1e3:.1f} ms CPU (median of 5)")


if __name__ == "__main__":
    main()
