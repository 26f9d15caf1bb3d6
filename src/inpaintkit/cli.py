"""The ``inpaintkit`` command line (Typer).

Error contract (docs/DEVELOPING.md): an :class:`~inpaintkit.errors.InpaintError` prints
``error: <message>`` on stderr and exits 2 (bad input); a bad option or argument is a
usage error, also exit 2 (Typer's own handling); any other exception is a bug or a runtime failure: a
one-line ``error: internal error: ...`` and exit 1, with the full traceback when
``--debug`` is given or ``INPAINTKIT_DEBUG=1`` is set. The handling lives in
:class:`_Group`, the root group, so it covers every sub-command, also when the app is
invoked through ``typer.testing.CliRunner``.

Adding commands (one small function each; heavy imports such as torch-based modules go
*inside* the function so that ``inpaintkit --help`` stays quick):

* a single command: ``@app.command()`` on a function in the "commands" section;
* a group: build ``foo_app = new_group("help text")`` (here or in your own module),
  decorate its commands with ``@foo_app.command()``, then register it with one line in the
  "registration" section at the bottom: ``app.add_typer(foo_app, name="foo")``.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from inpaintkit.errors import InpaintError

DEBUG_ENV = "INPAINTKIT_DEBUG"

# Resolved at print time (rich looks up sys.stdout / sys.stderr lazily), so CliRunner's
# captured streams are used in tests.
out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _debug_enabled(ctx: typer.Context | None) -> bool:
    if os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    return bool(ctx is not None and ctx.meta.get("inpaintkit.debug"))


def print_error(message: str) -> None:
    """``error: <message>`` on stderr, markup-free (file names may contain brackets)."""
    err.print(f"[bold red]error:[/] {_escape(message)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _Group(TyperGroup):
    """Root group: maps exceptions to messages and exit codes for every sub-command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            # Usage errors (exit 2), --help, --version, explicit exits: Typer handles them.
            raise
        except InpaintError as e:
            if _debug_enabled(ctx):
                traceback.print_exc(file=sys.stderr)
            print_error(str(e))
            raise typer.Exit(InpaintError.exit_code) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(130) from None
        except Exception as e:
            if _debug_enabled(ctx):
                traceback.print_exc(file=sys.stderr)
                print_error(f"internal error: {type(e).__name__}: {e}")
            else:
                print_error(
                    f"internal error: {type(e).__name__}: {e} "
                    f"(run with --debug or {DEBUG_ENV}=1 for the traceback)"
                )
            raise typer.Exit(1) from None


def new_group(help_text: str) -> typer.Typer:
    """A sub-command group with the project's defaults (no rich tracebacks, -h for help)."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


app = typer.Typer(
    name="inpaintkit",
    help="Image inpainting: fill holes in images with learned and classical models.",
    cls=_Group,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        from inpaintkit import __version__

        out.print(f"inpaintkit {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help=f"Full tracebacks on errors (or {DEBUG_ENV}=1).")
    ] = False,
) -> None:
    """Image inpainting: fill holes in images with learned and classical models."""
    ctx.meta["inpaintkit.debug"] = debug


# --- shared helpers ----------------------------------------------------------------------

def print_bucket_histogram(ratios: np.ndarray, title: str) -> None:
    """Rich table of how many masks fall in each hole-ratio bucket."""
    from inpaintkit.masks import BUCKET_NAMES, bucket_histogram

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


# --- masks -------------------------------------------------------------------------------

masks_app = new_group("Generate and inspect hole masks (white = hole).")

_MASK_KINDS = ("free-form", "box")


def _mask_kind(value: str) -> str:
    if value not in _MASK_KINDS:
        raise typer.BadParameter(f"'{value}' is not one of {', '.join(_MASK_KINDS)}")
    return value


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
    from inpaintkit.io import write_image
    from inpaintkit.masks import box_mask, free_form_mask

    if out_dir.exists() and not out_dir.is_dir():
        raise InpaintError(f"{out_dir}: exists and is not a folder")
    width = max(5, len(str(count - 1)))
    targets = [out_dir / f"{i:0{width}d}.png" for i in range(count)]
    if not overwrite:
        existing = [t for t in targets if t.exists()]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise InpaintError(
                f"{existing[0]}{more} already exist; use --overwrite or another --out folder"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InpaintError(f"{out_dir}: cannot create folder ({e.strerror})") from None
    make = free_form_mask if kind == "free-form" else box_mask
    ratios = np.empty(count)
    for i, target in enumerate(targets):
        mask = make(size, size, np.random.default_rng([seed, i]))
        ratios[i] = mask.mean()
        write_image(target, mask)
    out.print(f"wrote {count} {kind} masks ({size}x{size}) to {out_dir}", highlight=False)
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


# --- registration ------------------------------------------------------------------------
# One line per command group.

app.add_typer(masks_app, name="masks")

from inpaintkit.commands import demo as _demo, export as _export, fill as _fill, models as _models  # noqa: E402, I001
from inpaintkit.commands import evaluate as _evaluate, train as _train  # noqa: E402, I001
from inpaintkit.commands import serve as _serve  # noqa: E402, I001

app.command("fill")(_fill.fill)
app.command("export")(_export.export)
app.command("models")(_models.models)
app.command("demo")(_demo.demo)
app.command("train")(_train.train)
app.command("eval")(_evaluate.evaluate)
app.command("serve")(_serve.serve)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``inpaintkit``)."""
    app(args=argv, prog_name="inpaintkit")


if __name__ == "__main__":
    main()
