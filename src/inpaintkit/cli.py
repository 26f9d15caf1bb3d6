"""The ``inpaintkit`` command line (Typer).

This module only wires the app: every command is implemented in :mod:`inpaintkit.commands`.

Error contract (docs/DEVELOPING.md): an :class:`~inpaintkit.errors.InpaintError` prints
``error: <message>`` on stderr and exits with its class's ``exit_code`` (2, bad input, for
all of them today: :mod:`inpaintkit.errors`); a bad option or argument is a usage error,
also exit 2 (Typer's own handling); any other exception is a bug or a runtime failure: a
one-line ``error: internal error: ...`` and exit 1, with the full traceback when
``--debug`` is given or ``INPAINTKIT_DEBUG=1`` is set. The handling lives in
:class:`_Group`, the root group, so it covers every sub-command, also when the app is
invoked through ``typer.testing.CliRunner``.

Adding commands (one small function each in its own module of :mod:`inpaintkit.commands`;
heavy imports such as torch-based modules go *inside* the function so that
``inpaintkit --help`` stays quick), then one line in the "registration" section at the
bottom: ``app.command("foo")(foo.foo)`` for a command, ``app.add_typer(foo_app, name="foo")``
for a group.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any

# A Ctrl-C while the app loads (the imports below) is one line and exit 130, as it is
# once a command runs (_Group.invoke), never a KeyboardInterrupt traceback.
try:
    import typer
    from rich.console import Console
    from typer.core import TyperGroup

    from inpaintkit.commands import demo, evaluate, export, fill, masks, models, serve, stylize, train, weights
    from inpaintkit.commands.options import GROUP_SETTINGS
    from inpaintkit.errors import InpaintError
except KeyboardInterrupt:
    sys.stderr.write("error: interrupted\n")
    raise SystemExit(130) from None

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

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # Typer turns a Ctrl-C while the root options are parsed (it imports pydantic then)
        # into a silent exit 130; say it, as for a Ctrl-C inside a command.
        try:
            return super().parse_args(ctx, args)
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(130) from None

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
            raise typer.Exit(e.exit_code) from None
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


app = typer.Typer(
    name="inpaintkit",
    help="Image inpainting: fill holes in images with learned and classical models.",
    cls=_Group,
    **GROUP_SETTINGS,
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


# --- registration: one line per command or group ---------------------------------------

app.add_typer(masks.masks_app, name="masks")
app.command("fill")(fill.fill)
app.command("export")(export.export)
app.command("models")(models.models)
app.command("demo")(demo.demo)
app.command("train")(train.train)
app.command("eval")(evaluate.evaluate)
app.command("serve")(serve.serve)
app.add_typer(stylize.stylize_app, name="stylize")
app.add_typer(weights.weights_app, name="weights")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``inpaintkit``)."""
    try:
        app(args=argv, prog_name="inpaintkit")
    except KeyboardInterrupt:  # outside a command (while the options are parsed): as in _Group
        print_error("interrupted")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
