"""``inpaintkit weights import``: the papers' published weights -> a checkpoint folder.

The folder is an ordinary one (config.json + model.safetensors) that ``fill``, ``eval``,
``serve``, ``export`` and ``Inpainter(DIR)`` take like any other; how each release maps is in
:mod:`inpaintkit.official`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inpaintkit.commands.options import GROUP_SETTINGS

weights_app = typer.Typer(help="Import the papers' published weights.", **GROUP_SETTINGS)

_FORMAT_HELP = (
    "Layout of SRC: deepfill_v2_tf (official TF checkpoint folder/prefix), deepfill_v2_port "
    "(nipponjo/deepfillv2-pytorch .pth, both generator layouts), rn (geekyutao/RN .pth), "
    "pic_net (lyndonzheng/Pluralistic-Inpainting folder of latest_net_*.pth)."
)


@weights_app.command("import")
def import_(
    src: Annotated[Path, typer.Argument(help="The downloaded file, folder or TF checkpoint prefix.")],
    format: Annotated[str, typer.Option("--format", "-f", help=_FORMAT_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Checkpoint folder to create.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="What the weights were trained on (e.g. places2), for the record.")
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing checkpoint folder at --out.")
    ] = False,
) -> None:
    """Import official weights (read without unpickling code) into a checkpoint folder."""
    from rich.console import Console
    from rich.markup import escape

    from inpaintkit.official.importer import import_weights

    result = import_weights(src, format, out, dataset=dataset, overwrite=overwrite)
    extra = f" + discriminator {result.discriminator}" if result.discriminator else ""
    Console(highlight=False, soft_wrap=True).print(escape(
        f"wrote {result.folder} ({result.model}{extra}, {result.parameters / 1e6:.2f}M parameters, "
        f"from {result.provenance['source']}, format {result.provenance['format']}); "
        f"use it with: inpaintkit fill IMAGE --mask MASK --model {result.folder} -o OUT"
    ))
