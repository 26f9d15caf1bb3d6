"""Summaries and renderings of evaluation results: means per bucket (NaN scores left out),
the Rich table, JSON and CSV."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from rich.console import Console

from inpaintkit.evaluation import EvalResults, Pair, results_table, write_csv, write_json
from inpaintkit.masks.buckets import BUCKET_NAMES


def _results() -> EvalResults:
    """Two models, three pairs (two in bucket 0, one in bucket 3); one NaN realism."""
    pairs = [Pair("x.png", "a.png", 0, 0.05), Pair("y.png", "a.png", 0, 0.05),
             Pair("x.png", "c.png", 3, 0.35)]
    scores = {
        "one": {"psnr": np.array([30.0, 20.0, 10.0]), "ssim": np.array([0.9, 0.8, 0.5]),
                "l1": np.array([1.0, 2.0, 6.0]), "realism": np.array([100.0, math.nan, 400.0])},
        "two": {"psnr": np.array([31.0, 21.0, 9.0]), "ssim": np.array([0.95, 0.7, 0.6]),
                "l1": np.array([0.5, 2.5, 7.0]), "realism": np.array([50.0, 170.0, 500.0]),
                "lpips": np.array([0.1, 0.2, 0.3])},
    }
    config = {"images": 2, "masks_per_bucket": 1, "size": 32, "seed": 0}
    return EvalResults(["one", "two"], pairs, scores, {"one": 1.0, "two": 2.0}, config)


def test_summary_means_counts_and_nan_handling():
    summary = _results().summary()
    one, two = summary["one"], summary["two"]
    assert one["1-10%"]["count"] == 2 and one["30-40%"]["count"] == 1 and one["all"]["count"] == 3
    assert one["1-10%"]["psnr"] == pytest.approx(25.0) and one["all"]["l1"] == pytest.approx(3.0)
    assert one["1-10%"]["realism"] == 100.0  # the NaN pair is left out of the mean
    assert one["all"]["realism"] == pytest.approx(250.0)
    assert two["all"]["realism"] == pytest.approx(240.0)
    assert math.isnan(one["10-20%"]["psnr"]) and one["10-20%"]["count"] == 0  # empty bucket
    assert "lpips" not in one["all"] and two["all"]["lpips"] == pytest.approx(0.2)
    assert _results().metrics() == ["psnr", "ssim", "l1", "realism", "lpips"]


def test_json_has_scores_pairs_and_nulls(tmp_path):
    data = json.loads(write_json(_results(), tmp_path / "out" / "r.json").read_text())
    assert data["models"] == ["one", "two"]
    assert data["pairs"][2] == {"image": "x.png", "mask": "c.png", "bucket": 3, "hole_ratio": 0.35}
    assert data["scores"]["one"]["realism"] == [100.0, None, 400.0]
    assert data["summary"]["one"]["10-20%"]["psnr"] is None
    assert data["summary"]["two"]["all"]["realism"] == pytest.approx(240.0)
    assert data["config"]["size"] == 32 and data["seconds"] == {"one": 1.0, "two": 2.0}


def test_csv_rows_and_columns(tmp_path):
    rows = list(csv.DictReader(write_csv(_results(), tmp_path / "r.csv").open()))
    assert list(rows[0]) == ["model", "bucket", "count", "psnr", "ssim", "l1", "realism", "lpips"]
    assert len(rows) == 2 * 7
    by = {(r["model"], r["bucket"]): r for r in rows}
    assert float(by[("one", "1-10%")]["realism"]) == 100.0
    assert by[("one", "all")]["lpips"] == "" and float(by[("two", "all")]["lpips"]) == pytest.approx(0.2)
    assert by[("one", "10-20%")]["count"] == "0"


def test_table_columns_and_best_in_bold():
    console = Console(record=True, width=300)
    console.print(results_table(_results()))
    text = console.export_text()
    for word in ("one", "two", "PSNR", "SSIM", "L1 %", "realism", "LPIPS", *BUCKET_NAMES, "all"):
        assert word in text
    table = results_table(_results())
    cells = {col.header: list(col.cells) for col in table.columns}
    assert cells["one\nrealism"][0] == "[bold]100.0[/bold]" and cells["two\nrealism"][0] == "110.0"
    assert cells["two\nPSNR"][0] == "[bold]26.00[/bold]"  # higher PSNR is better
    assert cells["one\nrealism"][1] == "-"  # empty bucket
