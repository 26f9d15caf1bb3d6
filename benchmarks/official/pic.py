"""Check the ``pic_net`` import against the official PIC-Net code (lyndonzheng/Pluralistic-Inpainting).

``run(checkout, sizes)`` builds the official E, G, D (and D_rec) with ``network.define_*``
exactly as ``Pluralistic.__init__`` does, gives them seeded random weights with a spread of
singular values (so spectral norm and its power iteration matter) and random (u, v),
non-zero attention gamma/alpha, instance-norm affines and biases, saves them as
``latest_net_{E,G,D,D_rec}.pth`` and then

* official side: the official ``Pluralistic`` model loads them (``load_networks``), gets the
  photo and mask through ``set_input`` (image in [0,1] as ToTensor, mask 1 = known, 3
  channels) and runs ``test()`` with ``nsampling = K`` after ``torch.manual_seed(seed)``;
  the raw full-size output of each generator call is recorded by a forward hook and each
  composited result as ``save_results`` writes it (``tensor2im``: truncation to uint8);
* ours: ``get_format("pic_net").read`` -> ``convert`` -> ``pic_net`` loaded strictly,
  ``model.sample(K)`` with a generator seeded with the same seed (raw) and
  ``Inpainter.inpaint(samples=K, seed=seed)`` (uint8, our rounding and compositing).

Rows: per size the max abs difference over the K samples of the raw float32 outputs
([-1,1]) and of the uint8 results. Run-time patches of the official code (nothing is
copied): ``torchvision`` and ``imageio`` stand-in modules (torchvision does not import
here; imageio.imwrite captures the arrays instead of writing PNGs), and
``pluralistic_model.py`` is compiled with ``async=True`` -> ``non_blocking=True`` (a
Python >= 3.7 syntax error, on a line only used with GPUs).

    .venv/bin/python benchmarks/official/pic.py --official /tmp/co/pic [--sizes 256 512]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: official.common as script or module
from official.common import val_inputs  # noqa: E402

K = 3
SEED = 1234
# What the imageio stand-in's imwrite received: (path, array); one list for every run()
# (the official util.util keeps the module it imported first).
_CAPTURED: list[tuple[str, np.ndarray]] = []


def _stand_ins() -> None:
    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")  # imported by util/task.py, unused here
    sys.modules["torchvision"], sys.modules["torchvision.transforms"] = tv, tv.transforms
    imageio = types.ModuleType("imageio")
    imageio.imwrite = lambda path, array: _CAPTURED.append((str(path), np.array(array)))
    sys.modules["imageio"] = imageio


def _official(checkout: Path) -> types.SimpleNamespace:
    if "model.pluralistic_model" in sys.modules:  # imported by an earlier run()
        return types.SimpleNamespace(network=sys.modules["model.network"],
                                     Pluralistic=sys.modules["model.pluralistic_model"].Pluralistic)
    _stand_ins()
    sys.path.insert(0, str(checkout))
    with contextlib.redirect_stdout(io.StringIO()):
        import model  # noqa: F401  (the official package, model/__init__.py)
        from model import network

        name = "model.pluralistic_model"
        source = (checkout / "model" / "pluralistic_model.py").read_text().replace("async=True", "non_blocking=True")
        spec = importlib.util.spec_from_loader(name, loader=None)
        module = importlib.util.module_from_spec(spec)
        module.__package__ = "model"
        sys.modules[name] = module
        exec(compile(source, str(checkout / "model" / "pluralistic_model.py"), "exec"), module.__dict__)
    return types.SimpleNamespace(network=network, Pluralistic=module.Pluralistic)


def _randomize(net: torch.nn.Module, ext, gen: torch.Generator) -> None:
    """Seeded weights with a spread of singular values, random (u, v), live attention."""
    def rnd(*shape):
        return torch.randn(*shape, generator=gen)

    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, ext.SpectralNorm):
                conv = m.module
                conv.weight_bar.copy_(rnd(*conv.weight_bar.shape) * 0.05)
                conv.bias.copy_(rnd(*conv.bias.shape) * 0.05)
                for v in (conv.weight_u, conv.weight_v):
                    r = rnd(*v.shape)
                    v.copy_(r / r.norm())
            elif isinstance(m, torch.nn.InstanceNorm2d) and m.affine:
                m.weight.copy_(1 + 0.2 * rnd(*m.weight.shape))
                m.bias.copy_(0.1 * rnd(*m.bias.shape))
            elif type(m).__name__ == "Auto_Attn":
                m.gamma.fill_(0.7)
                m.alpha.fill_(0.9)
                m.query_conv.weight.copy_(rnd(*m.query_conv.weight.shape) * 0.3)
                m.query_conv.bias.copy_(rnd(*m.query_conv.bias.shape) * 0.1)


def run(checkout: Path, sizes: tuple[int, ...] = (256, 512)) -> list[dict]:
    """One row per size: max abs diff of raw outputs and of uint8 results over K samples."""
    from inpaintkit.conventions import image_to_tensor, mask_to_tensor
    from inpaintkit.inference import Inpainter
    from inpaintkit.models import create_model
    from inpaintkit.official import FORMATS
    from inpaintkit.official import pic as _pic  # noqa: F401  (registers the format)

    off = _official(Path(checkout))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pic"
        folder.mkdir()
        torch.manual_seed(0)
        with contextlib.redirect_stdout(io.StringIO()):
            nets = {
                "E": off.network.define_e(ngf=32, z_nc=128, img_f=128, layers=5, norm="none",
                                          activation="LeakyReLU", init_type="orthogonal", gpu_ids=[]),
                "G": off.network.define_g(ngf=32, z_nc=128, img_f=128, L=0, layers=5, output_scale=4,
                                          norm="instance", activation="LeakyReLU", init_type="orthogonal",
                                          gpu_ids=[]),
                "D": off.network.define_d(ndf=32, img_f=128, layers=5, model_type="ResDis",
                                          init_type="orthogonal", gpu_ids=[]),
                "D_rec": off.network.define_d(ndf=32, img_f=128, layers=5, model_type="ResDis",
                                              init_type="orthogonal", gpu_ids=[]),
            }
        gen = torch.Generator().manual_seed(SEED)
        ext = sys.modules["model.external_function"]
        for name, net in nets.items():
            _randomize(net, ext, gen)
            torch.save(net.state_dict(), folder / f"latest_net_{name}.pth")

        fmt = FORMATS["pic_net"]
        overrides, state, disc = fmt.convert(fmt.read(folder))
        ours = create_model("pic_net", **overrides)
        ours.load_state_dict(state, strict=True)
        ours.eval()
        inpainter = Inpainter(ours, device="cpu", strategy="full")

        for size in sizes:
            photo, hole, _ = val_inputs(size)
            opt = argparse.Namespace(gpu_ids=[], isTrain=False, checkpoints_dir=tmp, name="pic", which_iter="latest",
                                     output_scale=4, nsampling=K, results_dir=str(Path(tmp) / "results"))
            with contextlib.redirect_stdout(io.StringIO()):
                model = off.Pluralistic(opt)  # loads the files fresh: (u, v) as stored
                model.eval()
            raw_official: list[torch.Tensor] = []

            def record(module, args, out, store=raw_official):
                store.append(out[0][-1].detach().clone())

            model.net_G.register_forward_hook(record)
            # ToTensor: HWC uint8 -> contiguous CHW, then float / 255 (the memory layout
            # matters: a channels-last input takes another conv kernel, ~1e-7 apart).
            img = torch.from_numpy(photo).permute(2, 0, 1).contiguous().float().div(255).unsqueeze(0)
            known = torch.from_numpy(~hole).float().expand(1, 3, size, size).contiguous()
            model.set_input({"img": img, "mask": known, "img_path": [f"photo{size}.png"]})
            _CAPTURED.clear()
            torch.manual_seed(SEED)
            with contextlib.redirect_stdout(io.StringIO()):
                model.test()
            uint8_official = [a for p, a in _CAPTURED if "_out_" in p]

            x, m = image_to_tensor(photo), mask_to_tensor(hole)  # our convention, as the Inpainter
            with torch.inference_mode():
                raw_ours = ours.sample(x, m, K, generator=torch.Generator().manual_seed(SEED))[0]
            uint8_ours = inpainter.inpaint(photo, hole, samples=K, seed=SEED)

            raw = max((raw_ours[i] - raw_official[i][0]).abs().max().item() for i in range(K))
            diffs = [np.abs(a.astype(int) - b.astype(int)) for a, b in zip(uint8_ours, uint8_official, strict=True)]
            u8 = max(int(d.max()) for d in diffs)
            in_hole = max(int(d[hole].max()) for d in diffs)
            spread = max((raw_official[i] - raw_official[0]).abs().max().item() for i in range(1, K))
            rows.append({
                "format": "pic_net", "size": size, "raw_max_abs": raw, "uint8_max_abs": u8,
                "note": (f"K={K} samples, seed {SEED}, CPU; uint8 max diff in the hole {in_hole} (official "
                         f"tensor2im truncates, ours rounds); official samples differ by up to {spread:.3f}; "
                         f"official output std {raw_official[0].std().item():.3f}; stand-ins: torchvision, "
                         f"imageio; pluralistic_model.py async=True -> non_blocking=True"),
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="checkout of lyndonzheng/Pluralistic-Inpainting")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    args = parser.parse_args()
    for row in run(args.official, tuple(args.sizes)):
        print(row)


if __name__ == "__main__":
    main()
