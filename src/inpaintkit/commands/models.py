"""``inpaintkit models``: the available models with their size and cost."""

from __future__ import annotations

from pathlib import Path
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
    json_out: Annotated[bool, typer.Option("--json", help="Print the rows as JSON instead of a table.")] = False,
    weights_dir: Annotated[
        list[Path] | None,
        typer.Option("--weights-dir", help="Also list the checkpoint folders in this folder (imported weights); "
                     "adds to the INPAINTKIT_WEIGHTS_DIR environment variable."),
    ] = None,
) -> None:
    """List the models: registry networks with their measured quality, classical fills, imported weights."""
    import json
    import os

    from rich.console import Console
    from rich.table import Table

    from inpaintkit.commands.model_table import stored_rows

    if weights_dir:
        env = os.environ.get("INPAINTKIT_WEIGHTS_DIR", "")
        os.environ["INPAINTKIT_WEIGHTS_DIR"] = os.pathsep.join([*map(str, weights_dir), *([env] if env else [])])
    rows = stored_rows(size)  # no torch, no model built, while the stored table is current
    if rows is None:
        rows = built_rows(size, flops)
    rows = [{**row, **_quality(row)} for row in rows] + _imported_rows()
    if json_out:
        print(json.dumps(rows, indent=1))
        return
    table = Table(title=f"inpaintkit models (GFLOPs at {size}x{size})" if flops else "inpaintkit models")
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("params", justify="right")
    table.add_column("GFLOPs", justify="right")
    table.add_column("multiple", justify="right")
    table.add_column("samples")
    table.add_column("quality")
    for row in rows:
        classical = row["kind"] == "classical"
        table.add_row(
            row["name"],
            "classical" if classical else row["kind"],
            f"{row['params'] / 1e6:.2f} M" if not classical and row["params"] else "-" if not classical else "0",
            "n/a" if classical else "-" if row["gflops"] is None or not flops else f"{row['gflops']:.1f}",
            str(row["multiple"]) if row["multiple"] else "-",
            "pluralistic" if row["pluralistic"] else "one",
            row["status"],
        )
    console = Console(highlight=False)
    console.print(table)
    shipped = _shipped_default()
    if shipped is not None:
        console.print(f"default: shipped weights of {shipped}")
    else:
        from inpaintkit.inference import DEFAULT_CLASSICAL

        console.print(f"default: {DEFAULT_CLASSICAL} (classical; no learned model beats it yet)")
    for row in rows:
        if row["status"] in ("experimental", "usable") and row["gap"]:
            console.print(f"{row['name']}: {row['status']}, {row['gap']}")
        elif row["kind"] == "imported":
            console.print(f"{row['name']}: {row['description']}")
    console.print("usable / experimental: above / below the quality floor (every bucket from 10 %: PSNR >= "
                  "Telea's - 1 dB and realism <= Telea's), with the worst bucket's margin; untrained: no "
                  "weights shipped.")


def _quality(row: dict[str, Any]) -> dict[str, str]:
    """status / gap of a registry row: the shipped weights' measured quality (a JSON read)."""
    from inpaintkit.quality import shipped_status

    if row["kind"] == "classical":
        return {"status": "classical", "gap": ""}
    found = shipped_status(row["name"])
    if found is None:
        return {"status": "untrained", "gap": "no weights shipped"}
    return {"status": found[0], "gap": found[1]}


def _imported_rows() -> list[dict[str, Any]]:
    """The checkpoint folders of the weights folders (--weights-dir, INPAINTKIT_WEIGHTS_DIR),
    with their provenance; imports torch only when such a folder is given."""
    import os

    if not os.environ.get("INPAINTKIT_WEIGHTS_DIR", "").strip():
        return []
    from inpaintkit.inference.weights import imported_models

    return [{"name": c.name, "kind": "imported", "params": 0, "gflops": None, "multiple": 0,
             "pluralistic": c.pluralistic, "status": c.status, "gap": c.gap, "description": c.description}
            for c in imported_models()]


def _shipped_default() -> str | None:
    """The model of the shipped default weights; their folder is looked at first, so that
    without one (today) nothing imports torch."""
    from inpaintkit.commands.model_table import PACKAGE

    if not (PACKAGE / "weights" / "default" / "config.json").is_file():
        return None
    from inpaintkit.inference.weights import default_model_name

    return default_model_name()


def built_rows(size: int, flops: bool) -> list[dict[str, Any]]:
    """The table's rows from the models themselves (builds each network, and with
    ``flops`` runs it once): networks first (by name), then the classical fills."""
    from inpaintkit.inference import available_models

    listed = available_models()
    rows = []
    for choice in [c for c in listed if c.kind == "network"] + [c for c in listed if c.kind == "classical"]:
        classical = choice.kind == "classical"
        info = _row(choice.name, size, flops and not classical)
        rows.append({"name": choice.name, "kind": choice.kind, "params": 0 if classical else info["params"],
                     "gflops": info["gflops"], "multiple": info["multiple"], "pluralistic": choice.pluralistic})
    return rows
