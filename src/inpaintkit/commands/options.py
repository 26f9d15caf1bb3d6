"""Options shared by several commands; their choices come from the one definition of each
(strategies and devices in :mod:`inpaintkit.inference`, mask modes in :mod:`inpaintkit.io`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from inpaintkit.inference import STRATEGIES
from inpaintkit.inference.device import DEVICES
from inpaintkit.io import MASK_MODES

#: Settings of every command group (the root app and sub-groups such as ``masks``): no
#: rich tracebacks (the root group reports errors itself), ``-h`` for help.
GROUP_SETTINGS = {
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}


def choice(allowed: tuple[str, ...], prefix: str | None = None) -> Callable[[str], str]:
    """A Typer callback accepting one of ``allowed``, or anything starting with ``prefix``
    (``cuda:`` for a numbered GPU); anything else is a usage error (exit 2)."""

    def check(value: str) -> str:
        if value not in allowed and not (prefix is not None and value.startswith(prefix)):
            raise typer.BadParameter(f"'{value}' is not one of {', '.join(allowed)}")
        return value

    return check


Device = Annotated[
    str,
    typer.Option("--device", callback=choice(DEVICES, prefix="cuda:"),
                 help=f"{', '.join(DEVICES)} or cuda:N."),
]
Strategy = Annotated[
    str,
    typer.Option("--strategy", callback=choice(STRATEGIES),
                 help=f"Images larger than the model's size: {', '.join(STRATEGIES)}."),
]
MaskMode = Annotated[
    str,
    typer.Option("--mask-mode", callback=choice(MASK_MODES),
                 help="luminance: white = hole; alpha: transparent = hole; painted: opaque = hole."),
]
