"""Forward + backward time of every layer in ``inpaintkit.layers`` next to a plain 3x3 conv.

Usage: ``python benchmarks/bench_layers.py [--channels 64 --size 128 --batch 4]``

The layers are discovered at run time: every public ``nn.Module`` subclass defined in a
module of ``inpaintkit.layers`` is built from its *required* constructor arguments
(channel-like names get ``--channels``, kernel-like names 3) and called with a feature
tensor for each tensor argument of ``forward`` and a hole mask for arguments whose name
contains "mask". Layers that cannot be built or run this way are listed as skipped with
the reason. Times are medians over a few runs (a single run for layers slower than
``--budget``) with ``torch.set_num_threads(2)`` (the CPU budget of the project); the ratio
is relative to ``nn.Conv2d(C, C, 3, padding=1)`` on the same input. Note that
``GatedDeconv2d`` upsamples (its output has 4x the pixels) and the attention layers are
quadratic in the number of positions.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import inpaintkit.layers

CHANNEL_WORDS = ("ch", "channel", "dim", "features", "planes")
KERNEL_WORDS = ("kernel", "ksize")


def discover() -> tuple[list[tuple[str, type[nn.Module]]], list[tuple[str, str]]]:
    """(name, class) of every public layer class, plus (module, reason) for failed imports."""
    found, skipped = [], []
    for info in sorted(pkgutil.iter_modules(inpaintkit.layers.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        name = f"inpaintkit.layers.{info.name}"
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # a file another contributor is still writing
            skipped.append((info.name, f"import failed: {type(exc).__name__}: {exc}"))
            continue
        for cls_name, cls in vars(module).items():
            if (
                inspect.isclass(cls)
                and issubclass(cls, nn.Module)
                and cls.__module__ == name
                and not cls_name.startswith("_")
            ):
                found.append((f"{info.name}.{cls_name}", cls))
    return found, skipped


def build(cls: type[nn.Module], channels: int) -> nn.Module:
    """Instantiate from the required constructor arguments only."""
    kwargs = {}
    for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        low = p.name.lower()
        if any(w in low for w in KERNEL_WORDS):
            kwargs[p.name] = 3
        elif any(w in low for w in CHANNEL_WORDS):
            kwargs[p.name] = channels
        else:
            raise TypeError(f"don't know how to fill required argument '{p.name}'")
    return cls(**kwargs)


def call_args(layer: nn.Module, x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Tensor arguments of ``forward``: the mask for mask-named ones, ``x`` otherwise."""
    kwargs = {}
    for p in inspect.signature(layer.forward).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        is_tensor = "Tensor" in str(p.annotation)
        if p.default is not p.empty and not is_tensor:
            continue  # an option: keep its default
        kwargs[p.name] = mask if "mask" in p.name.lower() else x
    return kwargs


def _tensors(out: object) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, dict):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def time_fwd_bwd(step: Callable[[], None], repeats: int, budget_s: float) -> float:
    """Median seconds of ``step`` after one warm-up call; stops early past ``budget_s``.
    A layer whose warm-up alone exceeds the budget is reported by that one call."""
    t = time.perf_counter()
    step()
    warm = time.perf_counter() - t
    if warm > budget_s:
        return warm
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget_s):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(layer: nn.Module, x: torch.Tensor, mask: torch.Tensor, repeats: int,
          budget_s: float) -> float:
    kwargs = call_args(layer, x, mask)

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        outs = [t for t in _tensors(layer(**kwargs)) if t.requires_grad]
        if not outs:
            raise RuntimeError("no differentiable output")
        sum(t.float().mean() for t in outs).backward()

    return time_fwd_bwd(step, repeats, budget_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per layer, soft")
    parser.add_argument("--only", nargs="*", help="only layers whose name contains a word")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)

    c, s, b = args.channels, args.size, args.batch
    x = torch.randn(b, c, s, s, requires_grad=True)
    mask = torch.zeros(b, 1, s, s)
    mask[:, :, s // 4 : s // 2 + s // 8, s // 4 : 3 * s // 4] = 1.0  # ~19% hole

    print(f"forward+backward, input ({b}, {c}, {s}, {s}), {torch.get_num_threads()} threads")
    layers, skipped = discover()
    if args.only:
        layers = [(n, cls) for n, cls in layers if any(w in n for w in args.only)]
    width = max([30] + [len(n) for n, _ in layers])
    print(f"{'layer':<{width}}  {'ms':>9}  {'x conv':>7}  {'params':>10}")
    print("-" * (width + 33))
    base = bench(nn.Conv2d(c, c, 3, padding=1), x, mask, args.repeats, args.budget)
    n_base = c * c * 9 + c
    print(f"{'nn.Conv2d 3x3 (baseline)':<{width}}  {base * 1e3:9.1f}  {1.0:7.2f}  {n_base:>10,}",
          flush=True)
    for name, cls in layers:
        try:
            layer = build(cls, c).train()
            t = bench(layer, x, mask, args.repeats, args.budget)
        except Exception as exc:
            skipped.append((name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"))
            continue
        n_params = sum(p.numel() for p in layer.parameters())
        print(f"{name:<{width}}  {t * 1e3:9.1f}  {t / base:7.2f}  {n_params:>10,}", flush=True)
    for name, why in skipped:
        print(f"skipped {name}: {why}")


if __name__ == "__main__":
    main()
