"""The quality floor a learned model must clear to be offered as *usable* (issue 26).

On the full val protocol (100 photos x 6 buckets = 600 pairs, ``inpaintkit eval``), in every
bucket from 10 % holes up (10-20 % ... 50-60 %; the 1-10 % bucket is left out, where every
fill is near-perfect and Telea's smoothing is hard to beat by construction)::

    usable  <=>  PSNR(model) >= PSNR(telea) - 1.0 dB   and   realism(model) <= realism(telea)

Telea is the reference because it is the fill every user already has (OpenCV), fast and
honest; realism is the hole-patch sliced Wasserstein distance of
:mod:`inpaintkit.metrics.realism` (lower is better), which punishes the blur that PSNR
rewards, so a model cannot clear the floor by blurring, nor by painting sharp nonsense.
A model below the floor is *experimental*: listed with its measured gap (the worst bucket's
PSNR shortfall and realism excess), after the usable ones, with a warning when chosen.

The verdict is computed once from an eval summary (:meth:`EvalResults.summary` or the
``summary`` of ``inpaintkit eval --json``) and stored in the weights' config.json under
``quality`` by ``scripts/quality_floor.py``; listing a model reads it from there with
:mod:`inpaintkit.quality` (no torch, no evaluation at start-up).
"""

from __future__ import annotations

import math
from typing import Any

from inpaintkit.masks.buckets import BUCKET_NAMES
from inpaintkit.quality import PSNR_MARGIN_DB, describe

__all__ = ["FLOOR_BUCKETS", "PSNR_MARGIN_DB", "REFERENCE", "describe", "floor_verdict"]
FLOOR_BUCKETS: tuple[str, ...] = tuple(BUCKET_NAMES[1:])  # from 10 % up
REFERENCE = "telea"


def floor_verdict(model: dict[str, dict[str, float]], telea: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``{"usable", "psnr_gap_db", "realism_ratio", "buckets": {name: {...}}}`` from the
    per-bucket means of the model and of Telea on the same pairs. ``psnr_gap_db`` is the
    worst bucket's ``PSNR - (PSNR_telea - 1.0)`` (negative: short of the floor);
    ``realism_ratio`` the worst bucket's ``realism / realism_telea`` (> 1: less realistic)."""
    buckets: dict[str, dict[str, float]] = {}
    for name in FLOOR_BUCKETS:
        m, t = model[name], telea[name]
        values = (m["psnr"], t["psnr"], m["realism"], t["realism"])
        if any(not isinstance(v, int | float) or math.isnan(v) for v in values):
            raise ValueError(f"floor: bucket {name} has no PSNR / realism for both models")
        buckets[name] = {
            "psnr": round(m["psnr"], 2), "telea_psnr": round(t["psnr"], 2),
            "psnr_gap_db": round(m["psnr"] - (t["psnr"] - PSNR_MARGIN_DB), 2),
            "realism": round(m["realism"], 1), "telea_realism": round(t["realism"], 1),
            "realism_ratio": round(m["realism"] / t["realism"], 3),
        }
    gap = min(b["psnr_gap_db"] for b in buckets.values())
    ratio = max(b["realism_ratio"] for b in buckets.values())
    return {"usable": gap >= 0 and ratio <= 1.0, "psnr_gap_db": gap, "realism_ratio": ratio,
            "rule": f"every bucket from 10 %: PSNR >= telea - {PSNR_MARGIN_DB:g} dB and realism <= telea's",
            "buckets": buckets}
