"""Temporary names that say who wrote them, so that a later run can clean up after a kill.

Every atomic writer (``io.write.write_image``, ``models.serialization.save_model``,
``training.checkpoint.save_checkpoint``) puts its process id into its temporary file or
folder name. A kill -9 leaves that temporary behind; the next writer in the same folder
removes the ones whose process no longer runs (never those of a live writer). Imports
nothing of inpaintkit, so every layer may use it.
"""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists (ours, or another user's we cannot signal)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True
