"""Check of format ``deepfill_v2_tf``: a TensorFlow checkpoint with the official DeepFill v2
variable names, written with random weights, imported by ``inpaintkit.official.deepfill_tf``,
against the official network.

    .venv/bin/python benchmarks/official/deepfill_tf.py --official /path/to/deepfillv2-pytorch [--sizes 256 512]

The official TF1 code (JiahuiYu/generative_inpainting v2: ``tf.contrib`` + neuralgym) does
not run on a current TensorFlow, so the official side is the PyTorch port's
``model/networks_tf.py`` (nipponjo/deepfillv2-pytorch; its README: the TF release's weights
converted, TF "SAME" padding and align-corners nearest downsampling), imported from the
checkout at run time (numpy + torch only) and made to compute the TF graph where it
departs from it (read in ``inpaint_model.py`` / ``inpaint_ops.py`` / neuralgym's
``resize``), at run time, on the instance / module only:

* ``contextual_attention(x, x, mask_s, 3, 1, rate=2)`` keeps its default ``fuse=True``; the
  port builds its attention with ``fuse=False`` -> ``fuse`` set back to True;
* TF resizes the mask to the features' grid (``resize_mask_like``, H/4) and then by the
  attention's rate (H/8), both align-corners nearest; the port does one step by 8 ->
  its ``downsampling_nn_tf`` called with ``n=8`` is replaced by the two steps (4, then 2).

Everything else is TF's own arithmetic in the port. The official pre/post-processing of
``test.py`` + ``build_server_graph``: the photo as ``cv2.imread`` gives it (**BGR**),
``x / 127.5 - 1``, mask ``> 127.5``, input ``[x * (1 - m), 1, m]``, the float composite
``x2 * m + x * (1 - m)``, ``saturate_cast((c + 1) * 127.5)`` (truncation) and back to RGB
for writing. Weights: the port's own init (kaiming, fan_out), seeded, biases N(0, 0.1)
(non-zero, so that a bias in the wrong channel would show), and the two RGB output
convs' weights x ``OUT_GAIN`` so that tanh spans a real range. The variables are written
in TF's layout (kernels HWIO) under the official names with inpaintkit's tensor-bundle
writer, plus one variable of each ignored kind (discriminator, Adam slots, beta powers,
lr, global_step), and imported through ``read`` -> ``convert`` -> ``create_model`` + strict
load; ours runs ``inpaint`` on the RGB photo (the channel swap is in the imported weights).

``raw_max_abs``: max |official stage-2 output (BGR, flipped to RGB) - ours| in [-1, 1];
``uint8_max_abs``: of the composited images (official truncates, ours rounds and keeps the
known pixels). The note also gives the port *as shipped* (fuse off, one-step mask) against
ours: how far networks_tf.py is from the TF graph with these weights.

``--tf-python PY --tf-checkout DIR`` (``run_tf_graph``) adds rows against the official TF1
graph itself, run by ``deepfill_tf_graph.py`` in a Python with TensorFlow 2.x (any
``pip install tensorflow-cpu``; see that file for its run-time stand-ins): our model with
seeded random weights (biases N(0, 0.1)) is exported to the official variable names, the
graph of ``build_server_graph`` loads every variable by name as ``test.py`` does, and its
float composite (hole pixels) and ``test.py``'s uint8 result are compared with ours.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inpaintkit.conventions import image_to_tensor, mask_to_tensor, tensor_to_image
from inpaintkit.io.tf_checkpoint import write_tf_checkpoint
from inpaintkit.models import create_model
from inpaintkit.official import get_format
from inpaintkit.official.deepfill_tf import PAIRS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: official.common as script or module
from official.common import official_import, val_inputs  # noqa: E402

SEED = 25
OUT_GAIN = 10.0
IGNORED_EXTRAS = {
    "discriminator/sn_patch_gan/conv1/kernel": torch.zeros(5, 5, 4, 64),
    "inpaint_net/conv1/kernel/Adam": torch.zeros(5, 5, 5, 48),
    "inpaint_net/conv1/kernel/Adam_1": torch.zeros(5, 5, 5, 48),
    "beta1_power": torch.tensor(0.5), "beta2_power": torch.tensor(0.9), "lr": torch.tensor(1e-4),
    "global_step": torch.tensor(1000, dtype=torch.int64),
}


@contextlib.contextmanager
def _official_networks(checkout: Path) -> Iterator[Any]:
    """The port's ``model.networks_tf`` module, imported from the checkout (sys.path and
    sys.modules restored afterwards)."""
    with official_import(checkout, ("model", "model.networks_tf")):
        import model.networks_tf as networks_tf  # type: ignore[import-not-found]

        yield networks_tf


def _build_official(networks_tf: Any) -> torch.nn.Module:
    torch.manual_seed(SEED)
    gen = networks_tf.Generator(cnum_in=5, cnum=48)
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in gen.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
        for layer in (gen.conv17, gen.allconv17):
            layer.conv.weight.mul_(OUT_GAIN)
    return gen.eval()


def _tf_variables(gen: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The port's state in TF's layout and names: kernels OIHW -> HWIO, no channel swap
    (the port computes the TF graph on the same BGR input)."""
    state = gen.state_dict()
    return {tf: (state[port].permute(2, 3, 1, 0) if state[port].ndim == 4 else state[port]).contiguous()
            for tf, port in PAIRS.items()}


def _official_forward(networks_tf: Any, gen: torch.nn.Module, bgr: torch.Tensor, mask: torch.Tensor,
                      as_tf: bool) -> torch.Tensor:
    """Stage-2 output (BGR, [-1, 1]) of build_server_graph's network on ``bgr`` in [-1, 1]."""
    original = networks_tf.downsampling_nn_tf

    def two_step(images: torch.Tensor, n: int = 2) -> torch.Tensor:
        if n == 8:  # the mask: resize_mask_like (H/4), then the attention's rate (H/8)
            return original(original(images, n=4), n=2)
        return original(images, n=n)

    masked = bgr * (1.0 - mask)
    ones = torch.ones_like(mask)
    x = torch.cat([masked, ones, ones * mask], dim=1)
    gen.contextual_attention.fuse = as_tf
    networks_tf.downsampling_nn_tf = two_step if as_tf else original
    try:
        with torch.no_grad():
            return gen(x, mask)[1]
    finally:
        networks_tf.downsampling_nn_tf = original
        gen.contextual_attention.fuse = False


def _one(networks_tf: Any, gen: torch.nn.Module, size: int, tmp: Path) -> dict[str, Any]:
    image, hole, what = val_inputs(size)
    bgr = torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    mask = torch.from_numpy(hole.astype(np.float32))[None, None]
    official = _official_forward(networks_tf, gen, bgr, mask, as_tf=True)
    shipped = _official_forward(networks_tf, gen, bgr, mask, as_tf=False)

    fmt = get_format("deepfill_v2_tf")
    folder = tmp / f"release_{size}"
    write_tf_checkpoint(folder / "snap-0", {**_tf_variables(gen), **IGNORED_EXTRAS})
    overrides, state, _ = fmt.convert(fmt.read(folder))
    ours = create_model(fmt.model, **overrides)
    ours.load_state_dict(state, strict=True)
    ours.eval()
    with torch.no_grad():
        mine = ours.inpaint(image_to_tensor(image), mask_to_tensor(hole))

    official_rgb, shipped_rgb = official.flip(1), shipped.flip(1)
    raw = (official_rgb - mine).abs().max().item()
    raw_shipped = (shipped_rgb - mine).abs().max().item()
    complete = official * mask + bgr * (1.0 - mask)  # build_server_graph's composite (BGR)
    off_u8 = ((complete + 1.0) * 127.5).clamp(0, 255)[0].permute(1, 2, 0).numpy().astype(np.uint8)[..., ::-1]
    our_u8 = np.where(hole[..., None], tensor_to_image(mine), image)
    u8 = int(np.abs(off_u8.astype(int) - our_u8.astype(int)).max())
    known = int(np.abs(off_u8.astype(int) - image.astype(int))[~hole].max())
    note = (
        f"official = port networks_tf.py with fuse on + two-step mask (the TF graph); {what}; "
        f"output range [{official.min().item():.2f}, {official.max().item():.2f}], std "
        f"{official.std().item():.3f}; BGR official vs RGB ours; port as shipped vs ours: raw "
        f"{raw_shipped:.2e}; official known pixels off the input by up to {known} (truncation)"
    )
    return {"format": "deepfill_v2_tf", "size": size, "raw_max_abs": raw, "uint8_max_abs": u8, "note": note}


def run(checkout: Path, sizes: tuple[int, ...] = (256, 512)) -> list[dict]:
    """Rows ``format, size, raw_max_abs, uint8_max_abs, note``."""
    checkout = Path(checkout)
    if not (checkout / "model" / "networks_tf.py").is_file():
        raise SystemExit(f"{checkout} is not a nipponjo/deepfillv2-pytorch checkout (no model/networks_tf.py)")
    rows = []
    with _official_networks(checkout) as networks_tf, tempfile.TemporaryDirectory() as tmp:
        gen = _build_official(networks_tf)
        for size in sizes:
            rows.append(_one(networks_tf, gen, size, Path(tmp)))
    return rows


def run_tf_graph(tf_python: str, checkout: Path, sizes: tuple[int, ...] = (256, 512)) -> list[dict]:
    """Rows against the official TF graph (module docstring), run by ``tf_python``."""
    fmt = get_format("deepfill_v2_tf")
    torch.manual_seed(SEED)
    source = _imported_config_model().eval()
    g = torch.Generator().manual_seed(SEED + 2)
    with torch.no_grad():
        for name, p in source.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_tf_checkpoint(work / "release" / "snap-0", {**fmt.export(source), **IGNORED_EXTRAS})
        for size in sizes:
            image, hole, _ = val_inputs(size)
            np.save(work / f"image_{size}.npy", image)
            np.save(work / f"mask_{size}.npy", hole)
        script = Path(__file__).with_name("deepfill_tf_graph.py")
        done = subprocess.run([tf_python, str(script), str(checkout), str(work), *map(str, sizes)],
                              capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"the TF graph run failed: {done.stderr.strip().splitlines()[-1:]}")
        overrides, state, _ = fmt.convert(fmt.read(work / "release"))
        ours = create_model(fmt.model, **overrides).eval()
        ours.load_state_dict(state, strict=True)
        names = (work / "variables.txt").read_text().split()
        for size in sizes:
            image, hole, what = val_inputs(size)
            with torch.no_grad():
                mine = ours.inpaint(image_to_tensor(image), mask_to_tensor(hole))
            official = torch.from_numpy(np.load(work / f"tf_complete_{size}.npy")).permute(2, 0, 1)[None].flip(1)
            in_hole = torch.from_numpy(hole)[None, None].expand(1, 3, -1, -1)
            raw = (official - mine).abs()[in_hole].max().item()
            our_u8 = np.where(hole[..., None], tensor_to_image(mine), image)
            u8 = int(np.abs(np.load(work / f"tf_u8_{size}.npy").astype(int) - our_u8.astype(int)).max())
            note = (f"official = the TF1 graph of generative_inpainting v2 (build_server_graph, test.py's "
                    f"uint8) on TensorFlow 2 via tf.compat.v1 + run-time stand-ins; {len(names)} variables "
                    f"loaded by name; {what}; raw over the hole pixels (outside: the input)")
            rows.append({"format": "deepfill_v2_tf", "size": size, "raw_max_abs": raw, "uint8_max_abs": u8,
                         "note": note})
    return rows


def _imported_config_model() -> torch.nn.Module:
    """A randomly initialised model with the config ``convert`` produces."""
    from inpaintkit.official.deepfill_port import OVERRIDES
    from inpaintkit.official.deepfill_tf import TF_OVERRIDES

    return create_model("deepfill_v2", **{**OVERRIDES["port_tf"], **TF_OVERRIDES})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", type=Path, required=True, help="nipponjo/deepfillv2-pytorch checkout")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--tf-python", help="a Python with TensorFlow 2.x: also check against the TF graph")
    parser.add_argument("--tf-checkout", type=Path, help="JiahuiYu/generative_inpainting (v2) checkout")
    args = parser.parse_args()
    rows = run(args.official, tuple(args.sizes))
    if args.tf_python and args.tf_checkout:
        rows += run_tf_graph(args.tf_python, args.tf_checkout, tuple(args.sizes))
    for row in rows:
        raw, u8 = row["raw_max_abs"], row["uint8_max_abs"]
        print(f"{row['format']} {row['size']:4d}  raw {raw:.2e}  uint8 {u8}  {row['note']}")


if __name__ == "__main__":
    main()
