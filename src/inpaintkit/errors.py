"""The one exception type users see.

Every problem caused by the user's input (a missing file, a corrupt image, a mask of the
wrong size, an unknown model name...) raises :class:`InpaintError` with a one-line message
that names the file or value at fault. The CLI turns it into ``error: <message>`` and
exit code 2; the web app into a 4xx response. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class InpaintError(Exception):
    """A bad input or request, explained in one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep it one line: messages are printed verbatim by the CLI and the web app.
        super().__init__(" ".join(str(message).split()))
