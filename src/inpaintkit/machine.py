"""Facts about the machine that limits are sized by (no heavy imports: the web server's
defaults read it before FastAPI or torch are loaded)."""

from __future__ import annotations

import os


def physical_memory() -> int | None:
    """Total RAM in bytes, or None where the OS does not say (``os.sysconf`` is POSIX)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
