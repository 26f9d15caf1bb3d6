"""End-to-end inference cost: latency and peak memory of ``Inpainter.inpaint``.

Cases: square crops of a photo resized to 256, 512 and 1024 px, and the 2400 px photos of
``../shared/data/highres`` (``--photos N`` of them, default 1), each with a ~5 % (``--hole``) "object"
mask (a rotated ellipse near the centre). Models: ``telea``, ``ns``, ``smooth``, every
network of ``MODELS`` with its full (untrained) config (weights do not change the cost),
and ``default`` or a checkpoint folder (``--models default``), all through
``Inpainter(strategy="auto", native_size=256)`` as a user runs them. Next to each, raw
``cv2.inpaint`` Telea on the same image and mask in the same process, and the ratio.
Then ONNX Runtime vs eager PyTorch for each network at 512 x 512 (``model.inpaint`` on
tensors vs :class:`~inpaintkit.inference.OnnxInpaintModel`), with the ratio.

Memory: ``tracemalloc`` does not see torch's allocations, so every case runs in its own
subprocess and reports ``ru_maxrss`` (peak resident set) *after setup* (imports, model,
image) and *after the timed runs*; the difference is the extra memory inference needed
at its peak. It is a lower bound when setup itself peaked higher (e.g. building a model)
and includes allocator caches that are not returned to the OS.

Latency: median of ``--repeat`` runs after ``--warmup`` runs, ``torch.set_num_threads(2)``
(and 2 ONNX Runtime threads) so runs on the shared 2-core machine are comparable.

Usage::

    python benchmarks/bench_inference.py                   # everything, 1 photo
    python benchmarks/bench_inference.py --models telea,pconv_unet --sizes 256 --photos 0
    python benchmarks/bench_inference.py --json out.json --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HIGHRES = ROOT.parent / "shared" / "data" / "highres"
CLASSICAL = ("telea", "ns", "smooth")


def _build(name: str):
    """A registry network with its full untrained config, or ``default`` (the shipped
    weights) / a checkpoint folder through ``load_model``."""
    from inpaintkit.inference import load_model
    from inpaintkit.models import MODELS, create_model

    return create_model(name) if name in MODELS else load_model(name)


# --- inputs --------------------------------------------------------------------------------

def _photos() -> list[Path]:
    return sorted(HIGHRES.glob("*.jpg")) if HIGHRES.is_dir() else []


def load_input(spec: str) -> np.ndarray:
    """``"512"``: a square centre crop of the first photo resized to 512 px (a random
    smooth image when the photos are missing); ``"photo:NAME"``: that photo as it is."""
    from inpaintkit.io import read_image

    if spec.startswith("photo:"):
        return read_image(HIGHRES / spec[len("photo:"):])
    size = int(spec)
    photos = _photos()
    if not photos:
        rng = np.random.default_rng(0)
        small = rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    image = read_image(photos[0])
    h, w = image.shape[:2]
    side = min(h, w)
    crop = image[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def object_mask(h: int, w: int, ratio: float = 0.05) -> np.ndarray:
    """A filled ellipse (axes 1.3 : 1, rotated 20 degrees) of ``ratio`` of the image area,
    centred a little off the middle: the shape of an object to remove."""
    b = np.sqrt(ratio * h * w / (np.pi * 1.3))
    mask = np.zeros((h, w), dtype=np.uint8)
    centre = (int(w * 0.52), int(h * 0.47))
    cv2.ellipse(mask, centre, (int(round(1.3 * b)), int(round(b))), 20, 0, 360, 255, -1)
    return mask > 0


# --- one case, in a child process ---------------------------------------------------------

def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _median_time(fn, warmup: int, repeat: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_case(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from inpaintkit.inference import Inpainter

    torch.set_num_threads(args.threads)
    image = load_input(args.input)
    h, w = image.shape[:2]
    mask = object_mask(h, w, args.hole)
    model = args.model if args.model in CLASSICAL else _build(args.model)
    inp = Inpainter(model, device=args.device, strategy=args.strategy, native_size=256)
    before = _maxrss_mb()
    seconds = _median_time(lambda: inp.inpaint(image, mask, seed=0), args.warmup, args.repeat)
    peak = _maxrss_mb()
    hole = mask.astype(np.uint8) * 255
    telea = _median_time(lambda: cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA), 1, max(args.repeat, 3))
    return {
        "input": args.input, "size": f"{w}x{h}", "model": args.model, "strategy": inp.last_strategy,
        "seconds": seconds, "telea_seconds": telea, "ratio": seconds / telea,
        "rss_setup_mb": before, "rss_peak_mb": peak, "rss_delta_mb": peak - before,
        "hole": float(mask.mean()),
    }


def run_onnx_case(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from inpaintkit.inference import OnnxInpaintModel, export_onnx

    torch.set_num_threads(args.threads)
    size = 512
    model = _build(args.model).eval()
    image = torch.from_numpy(load_input(str(size))).permute(2, 0, 1)[None].float() / 127.5 - 1
    mask = torch.from_numpy(object_mask(size, size).astype(np.float32))[None, None]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = export_onnx(model, Path(tmp) / "m.onnx", size=size)
        export_seconds = time.perf_counter() - start
        runner = OnnxInpaintModel(result.path, threads=args.threads)

        def eager() -> None:
            with torch.inference_mode():
                model.inpaint(image, mask, generator=torch.Generator().manual_seed(0))

        eager_s = _median_time(eager, args.warmup, args.repeat)
        onnx_s = _median_time(lambda: runner.inpaint(image, mask), args.warmup, args.repeat)
    return {
        "model": args.model, "eager_seconds": eager_s, "onnx_seconds": onnx_s,
        "ratio": onnx_s / eager_s, "dynamic": result.dynamic, "opset": result.opset,
        "max_abs_diff": result.max_abs_diff, "export_seconds": export_seconds,
    }


# --- the parent: spawn, collect, print ----------------------------------------------------

def _child(kind: str, model: str, spec: str, args: argparse.Namespace) -> dict[str, Any] | None:
    cmd = [sys.executable, __file__, "--child", kind, "--models", model, "--input", spec,
           "--repeat", str(args.repeat), "--warmup", str(args.warmup), "--threads", str(args.threads),
           "--device", args.device, "--strategy", args.strategy, "--hole", str(args.hole)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"  ! {kind} {model} {spec}: failed ({tail})", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def _table(rows: list[dict[str, Any]]) -> str:
    out = ["| input | size | model | strategy | latency | OpenCV Telea | ratio | peak RSS + |",
           "|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r['input']} | {r['size']} | {r['model']} | {r['strategy']} | "
            f"{1000 * r['seconds']:.0f} ms | {1000 * r['telea_seconds']:.1f} ms | "
            f"{r['ratio']:.1f}x | {r['rss_delta_mb']:.0f} MB |"
        )
    return "\n".join(out)


def _onnx_table(rows: list[dict[str, Any]]) -> str:
    out = ["| model (512 px) | eager PyTorch | ONNX Runtime | ONNX / eager | shapes | opset |",
           "|---|---:|---:|---:|---|---:|"]
    for r in rows:
        shape = "dynamic" if r["dynamic"] else "fixed 512"
        out.append(
            f"| {r['model']} | {1000 * r['eager_seconds']:.0f} ms | {1000 * r['onnx_seconds']:.0f} ms | "
            f"{r['ratio']:.2f} | {shape} | {r['opset']} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    from inpaintkit.models import MODELS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join([*CLASSICAL, *sorted(MODELS)]))
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--photos", type=int, default=1, help="how many 2400 px photos (0-6)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--hole", type=float, default=0.05, help="hole area ratio of the ellipse")
    parser.add_argument("--no-onnx", action="store_true", help="skip ONNX Runtime vs eager")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per case")
    parser.add_argument("--json", type=Path, help="also write all rows here")
    parser.add_argument("--child", choices=["case", "onnx"], help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        args.model = args.models
        row = run_case(args) if args.child == "case" else run_onnx_case(args)
        print(json.dumps(row))
        return

    models = [m for m in args.models.split(",") if m]
    specs = [s for s in args.sizes.split(",") if s] + [f"photo:{p.name}" for p in _photos()[: args.photos]]
    rows = []
    for spec in specs:
        for model in models:
            print(f"  {model} on {spec} ...", file=sys.stderr, flush=True)
            row = _child("case", model, spec, args)
            if row:
                rows.append(row)
    onnx_rows = []
    if not args.no_onnx:
        for model in [m for m in models if m not in CLASSICAL]:
            print(f"  onnx vs eager: {model} ...", file=sys.stderr, flush=True)
            row = _child("onnx", model, "512", args)
            if row:
                onnx_rows.append(row)
    print(f"\nInpainter latency and peak memory (threads={args.threads}, device={args.device}, "
          f"strategy={args.strategy}, native 256, {args.hole:.0%} object hole)\n")
    print(_table(rows))
    if onnx_rows:
        print("\nONNX Runtime vs eager PyTorch, model.inpaint at 512x512\n")
        print(_onnx_table(onnx_rows))
    if args.json:
        args.json.write_text(json.dumps({"cases": rows, "onnx": onnx_rows}, indent=2))


if __name__ == "__main__":
    main()
