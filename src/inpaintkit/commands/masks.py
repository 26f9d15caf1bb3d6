"""``inpaintkit masks generate`` / ``masks stats`` / ``masks select``: random hole masks, hole-ratio
histograms, and a mask selected from a box or clicks (:mod:`inpaintkit.masks.select`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from inpaintkit.commands.options import GROUP_SETTINGS
from inpaintkit.commands.select_options import SelectBox, SelectPoints
from inpaintkit.errors import InpaintError
from inpaintkit.io import DEFAULT_MAX_PIXELS

MASK_KINDS = ("free-form", "box")

masks_app = typer.Typer(help="Generate and inspect hole masks (white = hole).", **GROUP_SETTINGS)


def print_bucket_histogram(ratios: np.ndarray, title: str) -> None:
    """Rich table of how many masks fall in each hole-ratio bucket."""
    from rich.console import Console
    from rich.table import Table

    from inpaintkit.masks import BUCKET_NAMES, bucket_histogram

    out = Console()
    counts, below, above = bucket_histogram(ratios)
    total = len(ratios)
    out.print(title, highlight=False)
    table = Table()
    table.add_column("hole ratio")
    table.add_column("masks", justify="right")
    table.add_column("share", justify="right")
    rows = [(f"< {BUCKET_NAMES[0].split('-')[0]}%", below)] if below else []
    rows += list(zip(BUCKET_NAMES, counts, strict=True))
    if above:
        rows.append((f"> {BUCKET_NAMES[-1].split('-')[1]}", above))
    for name, c in rows:
        table.add_row(name, str(c), f"{100.0 * c / total:.1f}%" if total else "-")
    table.add_row("total", str(total), "", style="bold")
    out.print(table)
    if total:
        out.print(
            f"mean hole ratio {100 * float(np.mean(ratios)):.1f}%, "
            f"min {100 * float(np.min(ratios)):.1f}%, max {100 * float(np.max(ratios)):.1f}%",
            highlight=False,
        )


def _mask_kind(value: str) -> str:
    if value not in MASK_KINDS:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(MASK_KINDS)}")
    return value


def _targets(out_dir: Path, count: int, overwrite: bool) -> list[Path]:
    """``00000.png ...`` in ``out_dir`` (created); existing files only with ``overwrite``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InpaintError(f"{out_dir}: exists and is not a folder")
    width = max(5, len(str(count - 1)))
    targets = [out_dir / f"{i:0{width}d}.png" for i in range(count)]
    if not overwrite:
        existing = [t for t in targets if t.exists()]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise InpaintError(f"{existing[0]}{more} already exist; use --overwrite or another --out folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InpaintError(f"{out_dir}: cannot create folder ({e.strerror})") from None
    return targets


@masks_app.command("generate")
def masks_generate(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).")],
    kind: Annotated[
        str, typer.Option("--kind", callback=_mask_kind, help="free-form or box.")
    ] = "free-form",
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Number of masks.")] = 100,
    size: Annotated[int, typer.Option("--size", min=8, max=8192, help="Mask side (px).")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (mask i uses (seed, i)).")] = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing files.")
    ] = False,
) -> None:
    """Write random masks as PNG files (00000.png ..., white = hole) and show their histogram."""
    from rich.console import Console

    from inpaintkit.io import write_image
    from inpaintkit.masks import box_mask, free_form_mask

    targets = _targets(out_dir, count, overwrite)
    make = free_form_mask if kind == "free-form" else box_mask
    ratios = np.empty(count)
    for i, target in enumerate(targets):
        mask = make(size, size, np.random.default_rng([seed, i]))
        ratios[i] = mask.mean()
        write_image(target, mask)
    Console().print(f"wrote {count} {kind} masks ({size}x{size}) to {out_dir}", highlight=False)
    print_bucket_histogram(ratios, f"{kind} masks, seed {seed}")


@masks_app.command("stats")
def masks_stats(
    folder: Annotated[Path, typer.Argument(help="Folder of mask images (searched recursively).")],
) -> None:
    """Hole-ratio histogram of an existing folder of masks (pixels > 127 = hole)."""
    from inpaintkit.io import list_image_files
    from inpaintkit.masks import scan_hole_ratios

    files = list_image_files(folder)
    if not files:
        raise InpaintError(f"{folder}: no mask images found")
    print_bucket_histogram(scan_hole_ratios(files), f"{folder} ({len(files)} masks)")


@masks_app.command("select")
def masks_select(
    image: Annotated[Path, typer.Argument(help="The photo to select in.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Mask file to write (PNG: white = hole).")],
    box: SelectBox = None,
    point: SelectPoints = None,
    dilate: Annotated[
        int, typer.Option("--dilate", min=0, max=256, help="Grow the selection by PX pixels (0: the raw selection).")
    ] = 4,  # masks.select.DEFAULT_DILATE (not imported here: it loads OpenCV; a test keeps them equal)
    max_pixels: Annotated[int, typer.Option("--max-pixels", min=1, help="Refuse larger images.")] = DEFAULT_MAX_PIXELS,
) -> None:
    """Select the object in a box (and/or under clicks) and write it as a mask (white = hole)."""
    from rich.console import Console

    from inpaintkit.commands.fill_io import _check_output
    from inpaintkit.commands.select_options import select_hole, selecting
    from inpaintkit.io import read_image, write_image

    if not selecting(box, point):
        raise InpaintError("masks select needs --box x0,y0,x1,y1 and/or --point x,y[,+|-]")
    _check_output(output, (image,), create=False, folder_checks=False)
    pixels = read_image(image, max_pixels=max_pixels)
    hole = select_hole(pixels, box, point, dilate, where=str(image))
    _check_output(output, (image,), create=True)
    write_image(output, hole, inputs=(image,))
    Console().print(f"wrote {output} ({100 * float(hole.mean()):.1f} % of the image selected, "
                    f"dilated {dilate} px)", highlight=False)
