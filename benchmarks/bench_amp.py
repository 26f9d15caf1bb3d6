"""bfloat16 autocast vs float32 for our training steps: speed, and how far the output moves.

    .venv/bin/python benchmarks/bench_amp.py [--models deepfill rn pic] [--batch 8]
        [--size 128] [--threads 2] [--repeats 3]

For each model of ``bench_peers.py`` (official widths; ours only): one training step (D
update, G update with D frozen) with and without ``torch.autocast("cpu", torch.bfloat16)``,
as ``amp: true`` trains; the fastest of ``--repeats`` steps per mode, the modes alternating
after a warm-up. Also the largest and mean absolute difference of the generator's forward
output (same weights, same input, values in [-1, 1]) between the two modes: bf16 keeps 8
bits of mantissa, so this is a precision change, not an exact optimisation. The default
batch and size are the CPU training configs' (``configs/cpu``: batch 8, 128 px).
Speed needs a CPU with native bf16 (avx512_bf16 or AMX); elsewhere oneDNN emulates it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from inpaintkit.models.summary import probe_inputs

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_peers  # noqa: E402  (the same model builders as the side-by-side table)

BUILDERS = bench_peers.OURS


def measure(name: str, batch: int, size: int, repeats: int) -> tuple[float, float, float, float]:
    """(fp32 s/step, bf16 s/step, max |diff|, mean |diff|) of one model."""
    torch.manual_seed(0)
    side = BUILDERS[name]()
    image, mask = probe_inputs(size, 8, batch)  # centred square hole, a quarter of the image
    with torch.no_grad():
        side.generator.eval()
        torch.manual_seed(1)  # PIC-Net samples its latent: the same draw in both modes
        ref = side.forward(image[:1], mask[:1]).float()
        torch.manual_seed(1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = side.forward(image[:1], mask[:1]).float()
        side.generator.train()
    diff = (ref - low).abs()
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(repeats + 1):
        for amp in (False, True):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                start = time.perf_counter()
                side.train_step(image, mask)
                if i:  # the first round warms both modes up
                    times[amp].append(time.perf_counter() - start)
    return min(times[False]), min(times[True]), float(diff.max()), float(diff.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"train step, batch {args.batch}, {args.size} px, {args.threads} threads, fastest of {args.repeats}\n")
    print("| model | float32 | bf16 autocast | speed-up | forward max / mean abs diff |")
    print("|---|---:|---:|---:|---:|")
    for name in args.models:
        fp32, bf16, worst, mean = measure(name, args.batch, args.size, args.repeats)
        print(f"| {name} | {fp32:.3f} s | {bf16:.3f} s | {fp32 / bf16:.2f}x | {worst:.3f} / {mean:.4f} |", flush=True)


if __name__ == "__main__":
    main()
