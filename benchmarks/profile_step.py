"""Where a training step's time goes: torch.profiler over our side of ``bench_peers.py``.

    .venv/bin/python benchmarks/profile_step.py [--models deepfill rn pic] [--threads 2]
        [--batch 4] [--size 256] [--top 10] [--amp]

For each model: the full-width generator + discriminator of ``bench_peers.py`` (the
official widths), one warm-up step, then one profiled training step (D update, G update
with D frozen, as ``training/loop.py``). Prints the step's wall time, its self-CPU time
per category (convolutions forward / backward, matrix products, element-wise ops, norms,
reductions, the optimizer, copies and layout changes, the rest) and the top operators by
self-CPU time. The categories are coarse on purpose: they say which kind of work to make
faster (e.g. element-wise ops that a fused kernel or torch.compile would merge).
``--amp``: the step under bfloat16 autocast, as ``amp: true`` trains (oneDNN's bf16
convolutions on CPUs with avx512_bf16 / AMX).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from inpaintkit.models.summary import probe_inputs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers  # noqa: E402  (the same model builders as the side-by-side table)

BUILDERS = bench_peers.OURS
# (category, substrings of aten op names), first match wins
CATEGORIES = [
    ("conv backward", ("convolution_backward",)),
    ("conv forward", ("mkldnn_convolution", "_convolution", "conv2d", "thnn_conv", "_slow_conv")),
    ("matmul", ("mm", "bmm", "matmul", "linear", "addmm", "baddbmm")),
    ("optimizer", ("_foreach", "adam", "lerp", "addcmul_", "addcdiv_")),
    ("norm", ("norm", "batch_norm", "instance_norm", "var_mean", "rsqrt")),
    ("copy / layout", ("copy_", "contiguous", "cat", "pad", "unfold", "col2im", "im2col", "clone",
                       "index", "gather", "scatter", "stack", "fill_", "zero_", "empty")),
    ("reduction", ("sum", "mean", "max", "min", "amax", "softmax", "topk")),
    ("element-wise", ("add", "sub", "mul", "div", "sigmoid", "tanh", "elu", "relu", "leaky", "where",
                      "exp", "log", "pow", "sqrt", "abs", "clamp", "neg", "threshold", "gelu", "silu",
                      "lt", "gt", "ge", "le", "eq", "sign", "reciprocal")),
]


def category(name: str) -> str:
    op = name.split("::")[-1].lower()
    for label, keys in CATEGORIES:
        if any(k in op for k in keys):
            return label
    return "other"


def profile_model(name: str, batch: int, size: int, top: int, amp: bool = False) -> str:
    torch.manual_seed(0)
    side = BUILDERS[name]()
    image, mask = probe_inputs(size, 8, batch)  # centred square hole, a quarter of the image
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp)
    with autocast:
        side.train_step(image, mask)  # warm-up (allocations, oneDNN primitive caches)
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof, autocast:
        side.train_step(image, mask)
    wall = time.perf_counter() - start
    # self time of leaf aten ops only: nested calls are counted once, where the work is
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    by_cat: dict[str, float] = defaultdict(float)
    for e in events:
        by_cat[category(e.key)] += e.self_cpu_time_total
    lines = [f"### {name}: train step (batch {batch}, {size} px{', bf16 autocast' if amp else ''}) {wall:.2f} s wall "
             f"(profiled; aten self-CPU {total / 1e6:.2f} s)", "",
             "| category | share of aten self-CPU |", "|---|---:|"]
    for label, t in sorted(by_cat.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {label} | {100 * t / total:.1f} % |")
    lines += ["", "| top operators | calls | self-CPU s | share |", "|---|---:|---:|---:|"]
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]:
        lines.append(f"| {e.key} | {e.count} | {e.self_cpu_time_total / 1e6:.3f} | "
                     f"{100 * e.self_cpu_time_total / total:.1f} % |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models:
        print(profile_model(name, args.batch, args.size, args.top, args.amp), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
