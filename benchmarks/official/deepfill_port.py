"""Check of format ``deepfill_v2_port``: the PyTorch port's DeepFill v2 generators
(nipponjo/deepfillv2-pytorch, ``model/networks.py`` and ``model/networks_tf.py``) with
random weights against ``deepfill_v2`` built from their ``.pth`` by
``inpaintkit.official.deepfill_port``.

    .venv/bin/python benchmarks/official/deepfill_port.py --official /path/to/deepfillv2-pytorch [--sizes 256 512]

The official ``model`` package is imported from the checkout at run time (it needs torch
and numpy only; no stand-ins). Per layout ("port": networks.py, "port_tf": networks_tf.py)
and size: ``Generator(cnum_in=5, cnum=48)``, seeded; its init (kaiming fan-out, zero
biases) shrinks the gated activations layer after layer to an almost constant output, so
every conv weight is redrawn ~ N(0, (g / sqrt(fan_in))^2) (g = 1.8, the RGB layers 3.0) and
every bias ~ N(0, 0.05^2). Saved as ``torch.save({'G': ..., 'D': ..., 'n_iter': 0})``
(the port's ``save_states`` layout, D a random stand-in that the import ignores) -> ``read``
-> ``convert`` -> ``create_model`` + strict load. Both run on one photo (``val/``, centre
crop, bicubic resize) and one irregular mask (20-30 % bucket, nearest resize), the official
side with the port's ``test.py`` processing (``ToTensor`` /255, ``*2-1``, mask ``> 0.5``,
``[image*(1-m), 1, m]``, ``generator(x, mask)``, ``image*(1-m) + stage2*m``,
``uint8((x+1)*127.5)``), ours through ``image_to_tensor`` / ``inpaint`` /
``tensor_to_image`` with the known pixels copied (the Inpainter's path).

``raw_max_abs``: max |stage-2 output official - ours| (both in [-1, 1], before compositing);
``uint8_max_abs``: of the composited uint8 images (the port truncates, we round: up to 1
level from that alone; the note gives the value with the official result rounded too).
The note also gives the raw difference of a model with the same weights but our default
layers (cosine attention, torch padding): what the compatibility settings fix.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import inpaintkit.official.deepfill_port  # noqa: F401  (registers FORMATS["deepfill_v2_port"])
from inpaintkit.conventions import image_to_tensor, mask_to_tensor, tensor_to_image
from inpaintkit.models import create_model
from inpaintkit.models.deepfill_v2 import DeepFillV2
from inpaintkit.official import FORMATS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: official.common as script or module
from official.common import official_import, val_inputs  # noqa: E402

SEED = 25
LAYOUT_MODULES = {"port": "model.networks", "port_tf": "model.networks_tf"}


def _load_official(checkout: Path) -> dict[str, Any]:
    """layout -> the official Generator class."""
    if not (checkout / "model" / "networks_tf.py").is_file():
        raise SystemExit(f"{checkout} is not a nipponjo/deepfillv2-pytorch checkout (no model/networks_tf.py)")
    import importlib

    with official_import(checkout, ("model", *LAYOUT_MODULES.values())):
        return {layout: importlib.import_module(name).Generator for layout, name in LAYOUT_MODULES.items()}



def _build_official(generator_cls: Any) -> torch.nn.Module:
    torch.manual_seed(SEED)
    model = generator_cls(cnum_in=5, cnum=48).eval()
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
            else:
                gain = 3.0 if p.shape[0] == 3 else 1.8  # the RGB output layers are plain convs
                p.copy_(torch.randn(p.shape, generator=g) * gain / p[0].numel() ** 0.5)
    return model


def _official_run(model: torch.nn.Module, image: np.ndarray, hole: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The port's test.py: returns (stage-2 raw, composited float, composited uint8)."""
    img = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0 * 2 - 1.0
    mask = (torch.from_numpy(hole.astype(np.float32))[None, None] > 0.5).float()
    masked = img * (1.0 - mask)
    ones = torch.ones_like(masked)[:, 0:1]
    with torch.inference_mode():
        _, stage2 = model(torch.cat([masked, ones, ones * mask], dim=1), mask)
    done = img * (1.0 - mask) + stage2 * mask
    return stage2, done, ((done[0].permute(1, 2, 0) + 1) * 127.5).to(torch.uint8)


def _one(generator_cls: Any, layout: str, size: int, tmp: Path) -> dict[str, Any]:
    official = _build_official(generator_cls)
    path = tmp / f"states_{layout}_{size}.pth"
    disc = {"conv1.conv_sn.weight": torch.randn(64, 4, 5, 5), "conv1.conv_sn.weight_u": torch.randn(64, 1)}
    torch.save({"G": official.state_dict(), "D": disc, "n_iter": 0}, path)
    fmt = FORMATS["deepfill_v2_port"]
    overrides, state, _ = fmt.convert(fmt.read(path))
    ours = create_model(fmt.model, **overrides).eval()
    ours.load_state_dict(state, strict=True)
    plain = DeepFillV2(replace(ours.config, attention="cosine", attention_fuse=True,
                               attention_resize="floor", padding="torch")).eval()
    plain.load_state_dict(state, strict=True)

    image, hole, what = val_inputs(size)
    stage2, done, off_u8 = _official_run(official, image, hole)
    with torch.inference_mode():
        mine = ours.inpaint(image_to_tensor(image), mask_to_tensor(hole))
        mine_plain = plain.inpaint(image_to_tensor(image), mask_to_tensor(hole))
    raw = (stage2 - mine).abs().max().item()
    raw_plain = (stage2 - mine_plain).abs().max().item()
    our_u8 = np.where(hole[..., None], tensor_to_image(mine), image).astype(int)
    u8 = int(np.abs(off_u8.numpy().astype(int) - our_u8).max())
    off_round = torch.round((done[0].permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).numpy().astype(int)
    u8_round = int(np.abs(off_round - our_u8).max())
    note = (
        f"{what}; hole {100 * hole.mean():.0f} %; official stage 2 in [{stage2.min().item():.2f}, "
        f"{stage2.max().item():.2f}], std {stage2.std().item():.3f}; uint8 with the official result "
        f"rounded: {u8_round}; same weights with our default layers: raw {raw_plain:.2e}"
    )
    return {"format": f"deepfill_v2_port ({layout})", "size": size, "raw_max_abs": raw, "uint8_max_abs": u8,
            "note": note}


def run(checkout: Path, sizes: tuple[int, ...] = (256, 512)) -> list[dict]:
    """Rows ``format, size, raw_max_abs, uint8_max_abs, note``: one per layout per size."""
    classes = _load_official(Path(checkout))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            for layout, generator_cls in classes.items():
                rows.append(_one(generator_cls, layout, size, Path(tmp)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="nipponjo/deepfillv2-pytorch checkout")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for row in run(args.official, tuple(args.sizes)):
        raw, u8 = row["raw_max_abs"], row["uint8_max_abs"]
        print(f"{row['format']} {row['size']:4d}  raw {raw:.2e}  uint8 {u8}  {row['note']}")


if __name__ == "__main__":
    main()
