"""The statistic that motivates region normalization (Yu et al., AAAI 2020, Sec. 3):
full-spatial instance norm on a masked input shifts the mean and variance of the *known*
region's features, because the hole pixels (zeros) enter the statistics; RN-B normalizes
the known region by its own statistics.

    .venv/bin/python benchmarks/rn_feature_shift.py [--model rn_inpaint | CHECKPOINT] [--images 50]

For each val photo (256 px centre crop) and each hole-ratio bucket (one irregular mask),
``f = enc1(pad([image, mask]))`` are the first normalized layer's input features. The
reference is the clean photo (no hole) normalized by instance norm; at the known pixels
we compare, per channel,

    IN   on the masked input: (f - mean_all(f)) / std_all(f)
    RN-B on the masked input: (f - mean_known(f)) / std_known(f)

with the reference's known-pixel values: mean shift ``|mean_known(z) - mean_known(z_ref)|``
and variance shift ``|log(var_known(z) / var_known(z_ref))|``, averaged over channels and
photos. Both norms see the same first-layer filters (those of the model given: the
shipped/trained weights when available), so only the normalization differs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from inpaintkit.conventions import image_to_tensor, mask_to_tensor, masked_input
from inpaintkit.masks import BUCKET_NAMES

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def _norm_stats(f: torch.Tensor, region: torch.Tensor, over: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean/var over the known ``region`` of f normalized by the statistics of
    ``over`` (both (H, W) bool). f: (C, H, W). Returns (C,), (C,)."""
    ref = f[:, over]
    z = (f[:, region] - ref.mean(1, keepdim=True)) / (ref.var(1, unbiased=False, keepdim=True) + 1e-5).sqrt()
    return z.mean(1), z.var(1, unbiased=False)


@torch.no_grad()
def feature_shift(first_layer: torch.nn.Module, image: np.ndarray, hole: np.ndarray) -> dict[str, tuple[float, float]]:
    """Mean and variance shift of IN and RN-B at the known pixels of one (image, hole)."""
    x = image_to_tensor(image)
    m = mask_to_tensor(hole)
    clean = first_layer(torch.cat([x, torch.zeros_like(m)], 1))[0]  # (C, H, W)
    masked = first_layer(torch.cat([masked_input(x, m), m], 1))[0]
    known = torch.from_numpy(~hole)
    everywhere = torch.ones_like(known)
    ref_mean, ref_var = _norm_stats(clean, known, everywhere)
    out = {}
    for name, over in (("instance", everywhere), ("rn_b", known)):
        mean, var = _norm_stats(masked, known, over)
        out[name] = (float((mean - ref_mean).abs().mean()), float((var / ref_var).log().abs().mean()))
    return out


def main() -> None:
    from inpaintkit.evaluation.protocol import build_eval_set
    from inpaintkit.inference import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="rn_inpaint", help="rn_inpaint (shipped weights) or a checkpoint")
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    model = load_model(args.model)
    layer = torch.nn.Sequential(model.enc_pad, model.enc1)
    data = build_eval_set(args.data / "val", args.data / "masks" / "irregular", size=256, images=args.images)
    rows: dict[str, list[dict]] = {b: [] for b in BUCKET_NAMES}
    for pair in data.pairs:
        shift = feature_shift(layer, data.images[pair.image], data.masks[pair.mask])
        rows[BUCKET_NAMES[pair.bucket]].append(shift)
    table = Table(title=f"known-region feature shift of the first normalized layer ({args.model})")
    for col in ("hole ratio", "pairs", "IN mean shift", "RN-B mean shift", "IN var shift", "RN-B var shift"):
        table.add_column(col, justify="right")
    for bucket, items in rows.items():
        if not items:
            continue
        avg = {k: np.mean([it[k] for it in items], axis=0) for k in ("instance", "rn_b")}
        table.add_row(bucket, str(len(items)), f"{avg['instance'][0]:.3f}", f"{avg['rn_b'][0]:.3f}",
                      f"{avg['instance'][1]:.3f}", f"{avg['rn_b'][1]:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
