"""Check of format ``rn``: the official Region Normalization network (geekyutao/RN) with
random weights against ``rn_inpaint`` built from its file by ``inpaintkit.official.rn``.

    .venv/bin/python benchmarks/official/rn.py --official /path/to/RN [--sizes 256 512]

The official ``networks.py`` / ``rn.py`` / ``models.py`` / ``module_util.py`` are imported
from the checkout at run time. They import torchvision (``from torchvision.transforms
import *``, ``import torchvision.models``) without using it for the networks; torchvision
does not import here, so an empty stand-in module is put in ``sys.modules`` during that
import only (and the previous entries restored).

Per size (batch size 1, as the official test): the official ``InpaintingModel``, seeded,
initialised as ``main.py`` does (``initialize_weights(model, scale=0.1)``: kaiming x 0.1,
biases ~ N(1e-4, 1)); RN-B's gammas/betas (zero at init) set to N(0, 0.1) so that the
summed-bias setting matters. ``torch.save(model.state_dict())`` (main.py's layout) ->
``read`` -> ``convert`` -> ``create_model`` + strict load. Both run on one photo
(``val/``, centre-cropped and resized) and one irregular mask (20-30 % bucket), the official
side with its own pre/post-processing (``to_tensor`` /255, ``generator(gt, mask)``,
``pred * mask + gt * (1 - mask)``, ``(x * 255).astype(uint8)`` as ``eval.py``), ours
through ``image_to_tensor`` / ``inpaint`` / ``tensor_to_image`` with the known pixels copied
(the Inpainter's path). ``raw_max_abs``: max |official - (ours + 1) / 2| of the networks'
outputs in [0, 1]; ``uint8_max_abs``: of the composited uint8 images (official truncates,
we round: up to 1 level from that alone; the note gives the value with the official
output rounded too).

Two weight variants per size: ``init`` (the official init as is) and ``rnl-split``
(each RN-L detector conv scaled, layer after layer, so that 30 % of its response map is
above the 0.8 threshold on the photo at 128 px: RN-L really normalizes two regions; with
the plain init no response reaches 0.8 and RN-L is a plain norm). In both, the output
conv's weights x 10 and biases x 0.1 (the init's N(0, 1) biases saturate tanh to a
near-constant image otherwise).. The note reports the
pixels of all RN-L region maps on which the two implementations disagree (a response
within float rounding of the threshold flips).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

import inpaintkit.official.rn  # noqa: F401  (registers FORMATS["rn"])
from inpaintkit.conventions import image_to_tensor, mask_to_tensor, tensor_to_image
from inpaintkit.models import create_discriminator, create_model
from inpaintkit.official import FORMATS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: official.common as script or module
from official.common import official_import, val_inputs  # noqa: E402

SEED = 25
_OFFICIAL_MODULES = ("models", "networks", "rn", "module_util")


def _torchvision_stand_ins() -> dict[str, types.ModuleType]:
    """An empty ``torchvision`` for the official imports (they import it but the networks do
    not use it; the real one does not import with this torch)."""
    stub = types.ModuleType("torchvision")
    stub.models = types.ModuleType("torchvision.models")  # type: ignore[attr-defined]
    stub.transforms = types.ModuleType("torchvision.transforms")  # type: ignore[attr-defined]
    stub.transforms.__all__ = []  # type: ignore[attr-defined]
    return {"torchvision": stub, "torchvision.models": stub.models, "torchvision.transforms": stub.transforms}


def _load_official(checkout: Path) -> tuple[Any, Any]:
    """(InpaintingModel class, initialize_weights) from the checkout."""
    if not (checkout / "networks.py").is_file() or not (checkout / "rn.py").is_file():
        raise SystemExit(f"{checkout} is not a geekyutao/RN checkout (no networks.py / rn.py)")
    with official_import(checkout, _OFFICIAL_MODULES, _torchvision_stand_ins()):
        import module_util  # type: ignore[import-not-found]

        import models  # type: ignore[import-not-found]

        return models.InpaintingModel, module_util.initialize_weights



def _build_official(model_cls: Any, init: Any, variant: str) -> torch.nn.Module:
    torch.manual_seed(SEED)
    model = model_cls(g_lr=1e-4, d_lr=1e-5, l1_weight=1.0, gan_weight=0.1, iter=0, threshold=0.8)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per BatchNorm2d
        init(model, scale=0.1)
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.generator.named_parameters():
            if name.startswith("encoder_in"):  # RN-B gamma / beta, zero after the init
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        # The output conv: x 0.1 weights and N(0, 1) biases leave tanh nearly constant.
        model.generator.decoder[9].weight.mul_(10.0)
        model.generator.decoder[9].bias.mul_(0.1)
    if variant == "rnl-split":
        _split_regions(model.generator.eval())
    return model.eval()


def _split_regions(generator: torch.nn.Module, share: float = 0.3) -> None:
    """Scale each RN-L detector conv, in order, so that ``share`` of its response map
    (photo and mask at 128 px) is >= the threshold: two real regions in every RN-L."""
    image, hole, _ = val_inputs(128)
    gt = torch.from_numpy(image).permute(2, 0, 1).contiguous()[None].float() / 255.0
    mask = torch.from_numpy(hole.astype(np.float32))[None, None]
    for layer in [m for m in generator.modules() if type(m).__name__ == "RN_L"]:
        logits: list[torch.Tensor] = []
        handle = layer.sa.conv1.register_forward_hook(lambda m, i, o, out=logits: out.append(o.flatten()))
        with torch.no_grad():
            generator(gt, mask)
        handle.remove()
        z, target = logits[0], math.log(layer.threshold / (1 - layer.threshold))
        high, low = torch.quantile(z, 1 - share).item(), torch.quantile(z, share).item()
        scale = target / high if high > 0 else target / low  # low < 0: the sign flips
        with torch.no_grad():
            layer.sa.conv1.weight.mul_(scale)


def _rnl_maps(module: torch.nn.Module, official: bool) -> tuple[list[torch.Tensor], list[Any]]:
    """Hooks collecting each RN-L layer's region map (response >= threshold), in order."""
    maps: list[torch.Tensor] = []
    handles = []
    for mod in module.modules():
        if official and type(mod).__name__ == "RN_L":
            handles.append(mod.sa.register_forward_hook(lambda m, i, o, t=mod.threshold: maps.append(o[0] >= t)))
        elif not official and type(mod).__name__ == "RegionNormL":
            handles.append(mod.register_forward_hook(lambda m, i, o: maps.append(m.response(i[0]) >= m.threshold)))
    return maps, handles


def _one(model_cls: Any, init: Any, size: int, variant: str, tmp: Path) -> dict[str, Any]:
    official = _build_official(model_cls, init, variant)
    path = tmp / f"rn_{variant}_{size}.pth"
    torch.save(official.state_dict(), path)  # main.py's checkpoint()
    fmt = FORMATS["rn"]
    overrides, state, disc = fmt.convert(fmt.read(path))
    ours = create_model(fmt.model, **overrides)
    ours.load_state_dict(state, strict=True)
    ours.eval()

    image, hole, what = val_inputs(size)
    # The official side: to_tensor (/255) of the uint8 photo and of the 0/255 mask.
    gt = torch.from_numpy(image).permute(2, 0, 1).contiguous()[None].float() / 255.0
    mask = torch.from_numpy(hole.astype(np.float32))[None, None]
    off_maps, h1 = _rnl_maps(official.generator, official=True)
    our_maps, h2 = _rnl_maps(ours, official=False)
    with torch.no_grad():
        pred = official.generator(gt, mask)
        mine = ours.inpaint(image_to_tensor(image), mask_to_tensor(hole))
    for handle in h1 + h2:
        handle.remove()
    raw = (pred - (mine + 1.0) / 2.0).abs().max().item()

    composited = pred * mask + gt * (1 - mask)
    off_u8 = (composited[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)  # eval.py: truncation
    off_round = np.round(composited[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    our_u8 = np.where(hole[..., None], tensor_to_image(mine), image)
    u8 = int(np.abs(off_u8.astype(int) - our_u8.astype(int)).max())
    u8_round = int(np.abs(off_round.astype(int) - our_u8.astype(int)).max())

    flips = [int((a != b).sum()) for a, b in zip(off_maps, our_maps, strict=True)]
    split = np.mean([m.float().mean().item() for m in off_maps])
    d_note = ""
    if disc is not None:
        d_ours = create_discriminator(disc[0], **disc[1])
        d_ours.load_state_dict(disc[2], strict=True)
        with torch.no_grad():
            d_diff = (official.discriminator(pred)[0] - d_ours.eval()(pred)).abs().max().item()
        d_note = f"; discriminator max abs {d_diff:.1e}"
    note = (
        f"{variant}: {what}; output range [{pred.min().item():.2f}, {pred.max().item():.2f}], "
        f"std {pred.std().item():.3f}; RN-L pixels >= 0.8: {100 * split:.0f} % (mean of "
        f"{len(off_maps)} layers); threshold flips: {sum(flips)} px"
        + (f" (per layer {flips})" if sum(flips) else "")
        + f"; uint8 with the official output rounded: {u8_round}{d_note}"
    )
    return {"format": "rn", "size": size, "raw_max_abs": raw, "uint8_max_abs": u8, "note": note}


def run(checkout: Path, sizes: tuple[int, ...] = (256, 512)) -> list[dict]:
    """Rows ``format, size, raw_max_abs, uint8_max_abs, note`` (two weight variants per size)."""
    model_cls, init = _load_official(Path(checkout))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            for variant in ("init", "rnl-split"):
                rows.append(_one(model_cls, init, size, variant, Path(tmp)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="geekyutao/RN checkout")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    print("torchvision: an empty stand-in module during the official import (not used by the networks)")
    for row in run(args.official, tuple(args.sizes)):
        raw, u8 = row["raw_max_abs"], row["uint8_max_abs"]
        print(f"{row['format']} {row['size']:4d}  raw {raw:.2e}  uint8 {u8}  {row['note']}")


if __name__ == "__main__":
    main()
