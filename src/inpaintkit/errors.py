"""The exceptions users see, and what each one means to the CLI and to the web app.

Every problem caused by the user's input (a missing file, a corrupt image, a mask of the
wrong size, an unknown model name...) raises :class:`InpaintError` or one of its
subclasses, with a one-line message that names the file or value at fault. The class says
how it is reported: the CLI prints ``error: <message>`` and exits with ``exit_code``; the
web app answers ``{"detail": <message>}`` with ``http_status``. Both read these two class
attributes and never look at the message text. Anything else is a bug and keeps its
traceback.

==================  =========  ===========  ==========================================
class               exit code  HTTP status  raised for
==================  =========  ===========  ==========================================
InpaintError        2          422          a bad value or a corrupt / invalid file
NotFound            2          404          a missing file or folder, an unknown model
TooLarge            2          413          an image over the pixel limit (bombs too), a
                                             model or request over a size/memory limit
Unsupported         2          415          a file format that is not read or written
LoadFailed          2          500          a listed model that cannot be loaded
ModelFailed         2          500          a model whose output holds NaN or Inf
==================  =========  ===========  ==========================================
"""

from __future__ import annotations


class InpaintError(Exception):
    """A bad input or request, explained in one line."""

    exit_code = 2
    http_status = 422

    def __init__(self, message: str) -> None:
        # Keep it one line: messages are printed verbatim by the CLI and the web app.
        super().__init__(" ".join(str(message).split()))


class NotFound(InpaintError):
    """A file, folder or model name that does not exist."""

    http_status = 404


class TooLarge(InpaintError):
    """An image over the pixel limit (ours or Pillow's decompression-bomb limit)."""

    http_status = 413


class Unsupported(InpaintError):
    """A file in a format that is not read (or an output suffix that is not written)."""

    http_status = 415


class LoadFailed(InpaintError):
    """A model the server offers could not be loaded: the server's problem, not the request's."""

    http_status = 500


class ModelFailed(InpaintError):
    """A model produced an unusable result (NaN or Inf): nothing is written or sent."""

    http_status = 500


__all__ = ["InpaintError", "LoadFailed", "ModelFailed", "NotFound", "TooLarge", "Unsupported"]
