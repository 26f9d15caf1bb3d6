"""The quality floor's verdict (evaluation/floor.py) on hand-made summaries."""

from __future__ import annotations

import pytest

from inpaintkit.evaluation.floor import FLOOR_BUCKETS, describe, floor_verdict
from inpaintkit.masks.buckets import BUCKET_NAMES


def _summary(psnr: float, realism: float, **override: tuple[float, float]) -> dict:
    rows = {name: {"psnr": psnr, "realism": realism} for name in BUCKET_NAMES}
    for name, (p, r) in override.items():
        rows[name.replace("_", "-") + "%"] = {"psnr": p, "realism": r}
    return rows


def test_buckets_from_ten_percent() -> None:
    assert FLOOR_BUCKETS == tuple(BUCKET_NAMES[1:]) and "1-10%" not in FLOOR_BUCKETS


def test_usable_within_one_db_and_at_most_telea_realism() -> None:
    telea = _summary(25.0, 300.0)
    verdict = floor_verdict(_summary(24.0, 300.0), telea)  # exactly on the floor
    assert verdict["usable"] and verdict["psnr_gap_db"] == 0.0 and verdict["realism_ratio"] == 1.0
    # The 1-10 % bucket does not count, however bad.
    assert floor_verdict(_summary(24.5, 200.0, **{"1_10": (5.0, 999.0)}), telea)["usable"]


@pytest.mark.parametrize("bad", [{"30_40": (23.9, 250.0)}, {"50_60": (24.5, 301.0)}])
def test_one_bucket_below_the_floor_makes_it_experimental(bad: dict) -> None:
    verdict = floor_verdict(_summary(24.5, 250.0, **bad), _summary(25.0, 300.0))
    assert not verdict["usable"]
    status, gap = describe(verdict)
    assert status == "experimental" and "worst bucket" in gap


def test_gap_is_the_worst_bucket() -> None:
    verdict = floor_verdict(_summary(24.5, 250.0, **{"20_30": (22.0, 330.0)}), _summary(25.0, 300.0))
    assert verdict["psnr_gap_db"] == pytest.approx(-2.0) and verdict["realism_ratio"] == pytest.approx(1.1)
    assert verdict["buckets"]["20-30%"]["psnr_gap_db"] == pytest.approx(-2.0)


def test_describe_without_a_measurement() -> None:
    assert describe(None)[0] == "unmeasured" and describe({"psnr_gap_db": 1})[0] == "unmeasured"
