"""Instance vs batch normalization in fast stylization (issue 17; Ulyanov et al. 2016).

    python benchmarks/stylize_in_vs_bn.py --models MODEL_IN MODEL_BN [--vgg FILE]

For each model (folders written by ``inpaintkit stylize train``): the style and content
losses of its outputs, mean over the ../shared/data/val photos resized (shorter side) and
centre-cropped to 256 px, with the loss network the models were trained with (random
features, or ``--vgg``; unweighted: content = mean squared relu2_2 difference, style = sum
over relu1_1..relu5_1 of the squared Frobenius Gram distance to the style image, read at
the same ``style_size`` as training, here the shorter side 256). Prints a markdown table
and saves a grid (one photo per row; columns: content, BN result, IN result) to
docs/stylize_grid.png with Pillow.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from inpaintkit.conventions import image_to_tensor
from inpaintkit.inference.stylize import load_stylizer, stylize_array
from inpaintkit.io import list_image_files, read_image
from inpaintkit.losses.style_transfer import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    content_loss,
    gram_style_loss,
    loss_network,
    style_grams,
)

ROOT = Path(__file__).resolve().parents[1]


def center_square(image: np.ndarray, side: int) -> np.ndarray:
    img = Image.fromarray(image)
    s = side / min(img.size)
    img = img.resize((max(side, round(img.width * s)), max(side, round(img.height * s))), Image.BICUBIC)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return np.array(img.crop((left, top, left + side, top + side)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs=2, required=True, metavar=("MODEL_IN", "MODEL_BN"))
    ap.add_argument("--vgg", default=None, help="the VGG file the models were trained with")
    ap.add_argument("--style", default=None, help="style image (default: from the models' metadata)")
    ap.add_argument("--val", default=str(ROOT.parent / "shared/data/val"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--limit", type=int, default=0, help="first N photos only (0: all)")
    ap.add_argument("--rows", type=int, default=4, help="photos in the grid")
    ap.add_argument("--grid", default=str(ROOT / "docs/stylize_grid.png"))
    args = ap.parse_args()

    models = {}
    for label, path in zip(("IN", "BN"), args.models, strict=True):
        models[label] = load_stylizer(path)
    meta = models["IN"][1]
    style_path = Path(args.style or ROOT.parent / "shared/data/styles" / meta["style_image"])
    net = loss_network(args.vgg, (CONTENT_LAYER, *STYLE_LAYERS))
    simg = Image.fromarray(read_image(style_path))
    s = args.size / min(simg.size)
    style = image_to_tensor(np.array(simg.resize((round(simg.width * s), round(simg.height * s)), Image.BICUBIC)))
    with torch.no_grad():
        target = style_grams(net(style), STYLE_LAYERS)
    files = list_image_files(args.val, recursive=False)
    files = files[: args.limit] if args.limit else files
    sums = {k: {"content": 0.0, "style": 0.0} for k in models}
    grid_rows = []
    for i, path in enumerate(files):
        photo = center_square(read_image(path), args.size)
        x = image_to_tensor(photo)
        row = [photo]
        with torch.no_grad():
            fx = net(x)[CONTENT_LAYER]
            for label in ("BN", "IN"):
                out = stylize_array(models[label][0], photo)
                fy = net(image_to_tensor(out))
                sums[label]["content"] += content_loss(fy[CONTENT_LAYER], fx).item()
                sums[label]["style"] += gram_style_loss(fy, target).item()
                row.append(out)
        if i < args.rows:
            grid_rows.append(np.concatenate(row, axis=1))
    n = len(files)
    print(f"{n} val photos at {args.size} px, loss network: {args.vgg or 'random features'}, "
          f"style: {meta.get('style_painting', style_path.name)}\n")
    print("| norm | style loss | content loss | steps | CPU-minutes |\n|---|---|---|---|---|")
    for label, name in (("IN", "instance"), ("BN", "batch")):
        m = models[label][1]
        print(f"| {name} | {sums[label]['style'] / n:.4g} | {sums[label]['content'] / n:.4g} | "
              f"{m.get('steps')} | {m.get('cpu_minutes')} |")
    Image.fromarray(np.concatenate(grid_rows, axis=0)).save(args.grid)
    print(f"\ngrid (columns: content, BN, IN): {args.grid}")
    print(json.dumps({k: {q: v / n for q, v in d.items()} for k, d in sums.items()}))


if __name__ == "__main__":
    main()
