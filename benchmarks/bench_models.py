"""Speed of every registered generator, against the machine's matmul speed.

For each network of ``MODELS`` (full configs unless ``--tiny``; denormals flushed as in training):

* forward latency of ``inpaint`` (eval, no grad, batch 1) at 256 and 512 px;
* one training step of the generator alone (``forward`` + backward of the mean of its
  outputs, batch 4, 256 px; no optimizer, no discriminator, no losses);

each with the GFLOP/s it achieves and that speed as a fraction of a plain 2048x2048 float32
matmul's GFLOP/s, measured in the same run (so the ratio is comparable across machines).
FLOPs come from :func:`inpaintkit.models.summary.summarize` (2 x multiply-adds of convs,
linears and matrix products); a training step is counted as 3x its forward (backward
~ 2x forward: gradients for inputs and weights), an estimate.

Usage::

    python benchmarks/bench_models.py                       # all models, full configs
    python benchmarks/bench_models.py --tiny --models rn_inpaint,pconv_unet --repeat 2
    python benchmarks/bench_models.py --device cuda --threads 16 --json out.json

Times are the median of ``--repeat`` runs after ``--warmup`` runs. 2 CPU threads by
default (``--threads``), so numbers are comparable between runs on the shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from inpaintkit.models import MODELS, create_model
from inpaintkit.models.summary import probe_inputs, summarize


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn: Callable[[], Any], device: torch.device, warmup: int, repeat: int) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(device: torch.device, n: int = 2048, repeat: int = 5) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    seconds = _time(lambda: a @ b, device, warmup=2, repeat=repeat)
    return 2 * n**3 / seconds / 1e9


def _scalar_loss(outputs: Any) -> torch.Tensor:
    """Sum of the means of every floating tensor in the outputs that carries a gradient."""
    found: list[torch.Tensor] = []

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            if value.is_floating_point() and value.requires_grad:
                found.append(value.float().mean())
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    walk(outputs)
    if not found:
        raise RuntimeError("forward returned no tensor with a gradient")
    return torch.stack(found).sum()


def bench_model(name: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    torch.manual_seed(0)
    model = create_model(name, tiny=args.tiny).to(device)
    row: dict[str, Any] = {"model": name, "params": sum(p.numel() for p in model.parameters())}
    model.eval()
    for size in args.sizes:
        cost = summarize(model, size, name)
        image, mask = probe_inputs(size, model.multiple, device=device)

        def run(image=image, mask=mask) -> None:
            with torch.no_grad():
                model.inpaint(image, mask, generator=torch.Generator(device=device).manual_seed(0))

        seconds = _time(run, device, args.warmup, args.repeat)
        row[f"gflop_{size}"] = cost["gflops"]
        row[f"fwd_{size}_ms"] = seconds * 1e3
        row[f"fwd_{size}_gflops"] = cost["gflops"] / seconds
    if args.train_batch > 0:
        cost = summarize(model, args.train_size, name)
        image, mask = probe_inputs(args.train_size, model.multiple, args.train_batch, device)
        model.train()

        def step() -> None:
            model.zero_grad(set_to_none=True)
            _scalar_loss(model(image, mask)).backward()

        seconds = _time(step, device, args.warmup, args.repeat)
        flops = 3 * cost["gflops"] * args.train_batch
        row["train_ms"] = seconds * 1e3
        row["train_gflops"] = flops / seconds
    return row


def _table(rows: list[dict[str, Any]], args: argparse.Namespace, peak: float) -> str:
    head = ["model", "params"]
    for size in args.sizes:
        head += [f"GFLOP@{size}", f"fwd{size} ms", "GFLOP/s", "x mm"]
    if args.train_batch > 0:
        head += [f"train {args.train_batch}x{args.train_size} ms", "GFLOP/s", "x mm"]
    lines = [head]
    for r in rows:
        if "error" in r:
            lines.append([r["model"], "error: " + r["error"]])
            continue
        cells = [r["model"], f"{r['params'] / 1e6:.2f}M"]
        for size in args.sizes:
            rate = r[f"fwd_{size}_gflops"]
            cells += [f"{r[f'gflop_{size}']:.1f}", f"{r[f'fwd_{size}_ms']:.1f}",
                      f"{rate:.1f}", f"{rate / peak:.2f}"]
        if args.train_batch > 0:
            rate = r["train_gflops"]
            cells += [f"{r['train_ms']:.1f}", f"{rate:.1f}", f"{rate / peak:.2f}"]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(line))
        for line in lines
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="", help="comma-separated names (default: all)")
    p.add_argument("--tiny", action="store_true", help="tiny test configs instead of full")
    p.add_argument("--sizes", default="256,512", help="forward sizes (comma-separated)")
    p.add_argument("--train-size", type=int, default=256)
    p.add_argument("--train-batch", type=int, default=4, help="0 skips the training step")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default="", help="also write the rows to this file")
    args = p.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]

    torch.set_num_threads(args.threads)
    # as training does (training/setup.py): gradients through saturated gates fall below
    # float32's normal range, and x86 CPUs compute on such denormals ~100x slower
    torch.set_flush_denormal(True)
    device = torch.device(args.device)
    # the classical fills have nothing to train or count (no parameters, no gradient)
    names = [n for n in args.models.split(",") if n] or sorted(n for n in MODELS if not MODELS[n].classical)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"error: unknown model(s) {', '.join(unknown)} (known: {', '.join(sorted(MODELS))})")
        return 2

    peak = matmul_gflops(device)
    print(f"device {device}, {torch.get_num_threads()} threads, "
          f"2048x2048 fp32 matmul: {peak:.1f} GFLOP/s ('x mm' = fraction of it)")
    rows = []
    for name in names:
        try:
            rows.append(bench_model(name, args, device))
        except Exception as exc:  # one broken model must not hide the others' numbers
            rows.append({"model": name, "error": f"{type(exc).__name__}: {exc}"})
        print(f"  done {name}", file=sys.stderr)
    print(_table(rows, args, peak))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"matmul_gflops": peak, "device": str(device), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
