"""The ``inpaintkit models`` table without building the models: a description of every
registry model (params, GFLOPs at 256 x 256, multiple, kind, samples) stored beside this
module in ``model_table.json``, used while it still describes the code.

Why: the table's numbers come from building every network and running it once
(:func:`inpaintkit.models.summary.model_summary`), which with torch's import took 16 s on
the 2-core machine, for numbers that only change when the architectures do. The JSON file
records a *fingerprint*: the sha256 of the sources that decide the numbers (every ``.py``
file of ``models/`` and ``layers/`` except the checkpoint format and the size guard).
:func:`stored_rows` returns the stored rows only when the fingerprint matches the
installed sources and the size asked for is the stored one; otherwise the command
builds the models as before, so a stale file costs time, never a wrong number.
``tests/commands/test_model_table.py`` fails while the file is stale; refresh it with::

    python -m inpaintkit.commands.model_table

Nothing here imports torch (the refresh does, through the command's slow path).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

TABLE_FILE = Path(__file__).resolve().with_name("model_table.json")
PACKAGE = Path(__file__).resolve().parent.parent
#: The size the stored GFLOPs are counted at (the command's default ``--size``).
TABLE_SIZE = 256
# Files of models/ and layers/ that change no column of the table.
_IGNORED = {"models/serialization.py", "models/size.py"}


def source_files() -> list[Path]:
    """The sources the table's numbers depend on, in a fixed order."""
    files = [*sorted((PACKAGE / "models").glob("*.py")), *sorted((PACKAGE / "layers").glob("*.py"))]
    return [f for f in files if f.relative_to(PACKAGE).as_posix() not in _IGNORED]


def fingerprint() -> str:
    """sha256 over the relative path and bytes of each of :func:`source_files`."""
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def stored_rows(size: int) -> list[dict[str, Any]] | None:
    """The stored rows (display order; keys name, kind, params, gflops, multiple,
    pluralistic) when the file describes the installed sources and ``size`` is
    :data:`TABLE_SIZE`; None otherwise (the caller builds the models)."""
    if size != TABLE_SIZE:
        return None
    try:
        table = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(table, dict) or table.get("size") != TABLE_SIZE or table.get("fingerprint") != fingerprint():
        return None
    rows = table.get("rows")
    return rows if isinstance(rows, list) and rows else None


def write_table() -> Path:
    """Build every model (slow: seconds per network) and store the table for this code."""
    from inpaintkit.commands.models import built_rows

    table = {"size": TABLE_SIZE, "fingerprint": fingerprint(), "rows": built_rows(TABLE_SIZE, flops=True)}
    TABLE_FILE.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    return TABLE_FILE


if __name__ == "__main__":
    print(f"wrote {write_table()}")
