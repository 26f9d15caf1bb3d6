"""``inpaintkit models``: the available models with their size and cost."""

from __future__ import annotations

from typing import Annotated, Any

import typer


def _row(name: str, size: int, flops: bool) -> dict[str, Any]:
    """Params, multiple and (with ``flops``) GFLOPs at size x size via models.summary."""
    from inpaintkit.models import create_model

    model = create_model(name)
    info: dict[str, Any] = {
        "params": sum(p.numel() for p in model.parameters()),
        "multiple": model.multiple,
        "gflops": None,
    }
    if flops:
        try:
            from inpaintkit.models.summary import model_summary
        except ImportError:  # the summary module is optional: leave the column empty
            return info
        info["gflops"] = model_summary(name, size=size)["gflops"]
    return info


def models(
    size: Annotated[int, typer.Option("--size", min=8, help="Image side for the GFLOPs column.")] = 256,
    flops: Annotated[
        bool, typer.Option("--flops/--no-flops", help="Count GFLOPs (runs each model once).")
    ] = True,
) -> None:
    """List the models: registry networks (untrained unless you pass weights) and classical."""
    from rich.console import Console
    from rich.table import Table

    from inpaintkit.inference.weights import CLASSICAL_NAMES, DEFAULT_WEIGHTS, read_checkpoint_config
    from inpaintkit.models import MODELS

    table = Table(title=f"inpaintkit models (GFLOPs at {size}x{size})" if flops else "inpaintkit models")
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("params", justify="right")
    table.add_column("GFLOPs", justify="right")
    table.add_column("multiple", justify="right")
    table.add_column("samples")
    for name in sorted(MODELS):
        info = _row(name, size, flops)
        table.add_row(
            name,
            "network",
            f"{info['params'] / 1e6:.2f} M",
            "-" if info["gflops"] is None else f"{info['gflops']:.1f}",
            str(info["multiple"]),
            "pluralistic" if getattr(MODELS[name], "pluralistic", False) else "one",
        )
    for name in CLASSICAL_NAMES:
        table.add_row(name, "OpenCV", "0", "n/a", "1", "one")
    console = Console(highlight=False)
    console.print(table)
    if (DEFAULT_WEIGHTS / "config.json").is_file():
        shipped = read_checkpoint_config(DEFAULT_WEIGHTS)["model"]
        console.print(f"default: shipped weights of {shipped}")
    else:
        console.print("default: telea (no trained weights are shipped yet)")
    console.print("Registry networks load with random weights unless given a checkpoint folder.")
