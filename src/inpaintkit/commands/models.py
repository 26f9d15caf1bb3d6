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

    from inpaintkit.inference import available_models
    from inpaintkit.inference.weights import DEFAULT_CLASSICAL, default_model_name

    table = Table(title=f"inpaintkit models (GFLOPs at {size}x{size})" if flops else "inpaintkit models")
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("params", justify="right")
    table.add_column("GFLOPs", justify="right")
    table.add_column("multiple", justify="right")
    table.add_column("samples")
    listed = available_models()
    # Networks first (by name), then the classical fills.
    for choice in [c for c in listed if c.kind == "network"] + [c for c in listed if c.kind == "classical"]:
        classical = choice.kind == "classical"
        info = _row(choice.name, size, flops and not classical)
        table.add_row(
            choice.name,
            "OpenCV" if classical else "network",
            f"{info['params'] / 1e6:.2f} M" if not classical else "0",
            "n/a" if classical else "-" if info["gflops"] is None else f"{info['gflops']:.1f}",
            str(info["multiple"]),
            "pluralistic" if choice.pluralistic else "one",
        )
    console = Console(highlight=False)
    console.print(table)
    shipped = default_model_name()
    if shipped is not None:
        console.print(f"default: shipped weights of {shipped}")
    else:
        console.print(f"default: {DEFAULT_CLASSICAL} (classical; no learned model beats it yet)")
    console.print("Registry networks load with random weights unless given a checkpoint folder.")
