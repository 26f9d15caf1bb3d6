"""What a model's measured quality says to a user: usable or experimental, and the gap.

The floor itself (the rule and the verdict computed from an evaluation) is
:mod:`inpaintkit.evaluation.floor`; ``scripts/quality_floor.py`` stores each shipped model's
verdict in its weights' config.json under ``quality``. This module only *reads* it, and
imports nothing heavy (no torch, no numpy), so that ``inpaintkit models`` and the CLI's
warning cost a JSON read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PSNR_MARGIN_DB = 1.0
WEIGHTS_ROOT = Path(__file__).resolve().parent / "weights"


def describe(quality: dict[str, Any] | None) -> tuple[str, str]:
    """``(status, gap)``: status "usable", "experimental" or "unmeasured"; gap one line
    (the worst bucket's PSNR against the floor and realism against Telea's)."""
    if not isinstance(quality, dict) or not isinstance(quality.get("usable"), bool):
        return "unmeasured", "not measured against the quality floor"
    gap, ratio = quality.get("psnr_gap_db"), quality.get("realism_ratio")
    parts = []
    if isinstance(gap, int | float):
        parts.append(f"PSNR {gap:+.2f} dB vs the floor (Telea - {PSNR_MARGIN_DB:g} dB)")
    if isinstance(ratio, int | float):
        parts.append(f"realism {ratio:.2f}x Telea's")
    text = (", ".join(parts) + " in the worst bucket") if parts else ""
    return ("usable" if quality["usable"] else "experimental"), text


def folder_quality(folder: Path) -> dict[str, Any] | None:
    """The ``quality`` entry of a checkpoint folder's config.json (None: none, unreadable)."""
    try:
        info = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    quality = info.get("quality") if isinstance(info, dict) else None
    return quality if isinstance(quality, dict) else None


def shipped_status(name: str) -> tuple[str, str] | None:
    """(status, gap) of the package's shipped weights for ``name``; None: none shipped."""
    folder = WEIGHTS_ROOT / name
    if not (folder / "config.json").is_file():
        return None
    return describe(folder_quality(folder))
