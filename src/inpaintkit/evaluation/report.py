"""The results of an evaluation run and their renderings: a Rich table, JSON, CSV.

:class:`EvalResults` holds per-pair scores (``scores[model][metric][pair]``) and, when FID
was computed, its per-bucket set scores. :meth:`EvalResults.summary` gives per-model,
per-bucket means and counts (plus "all"); a NaN score (the realism of a pair whose hole is
too small for patches) is left out of its mean, and a bucket without a finite score shows
NaN ("-" in the table, null in JSON, "nan" in CSV).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from inpaintkit.evaluation.protocol import Pair, bucket_groups
from inpaintkit.masks.buckets import BUCKET_NAMES

# Always computed, per pair; "realism" is the hole patch SWD of metrics/realism.py.
METRICS = ("psnr", "ssim", "l1", "realism")
# Optional metrics, in column order; "fid" is per set, the others per pair.
EXTRA_METRICS = ("lpips", "fid", "diversity")
METRIC_LABELS = {"psnr": "PSNR", "ssim": "SSIM", "l1": "L1 %", "realism": "realism",
                 "lpips": "LPIPS", "fid": "FID", "diversity": "diversity"}
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "l1": False, "realism": False, "lpips": False,
                    "fid": False, "diversity": True}
_FORMATS = {"psnr": "{:.2f}", "ssim": "{:.4f}", "l1": "{:.2f}", "realism": "{:.1f}",
            "lpips": "{:.4f}", "fid": "{:.2f}", "diversity": "{:.4f}"}


@dataclass
class EvalResults:
    """Per-pair scores of every model on the same pairs (``scores[model][metric][pair]``);
    ``fid[model][bucket name | "all"]`` when FID was computed (a set score, not per pair)."""

    models: list[str]
    pairs: list[Pair]
    scores: dict[str, dict[str, np.ndarray]]
    seconds: dict[str, float]
    config: dict[str, Any] = field(default_factory=dict)
    fid: dict[str, dict[str, float]] = field(default_factory=dict)

    def metrics_of(self, model: str) -> list[str]:
        """The metrics computed for ``model``, in column order (extras only when present)."""
        have = set(self.scores[model]) | ({"fid"} if model in self.fid else set())
        return [m for m in (*METRICS, *EXTRA_METRICS) if m in have]

    def metrics(self) -> list[str]:
        """The union of :meth:`metrics_of` over the models, in column order."""
        have = {m for model in self.models for m in self.metrics_of(model)}
        return [m for m in (*METRICS, *EXTRA_METRICS) if m in have]

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{model: {bucket name | "all": {"count", "psnr", "ssim", "l1", "realism",
        extras...}}}``: means over the bucket's pairs (NaN scores left out); "fid" is the
        bucket's set score. Extras appear only for the models they were computed for."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for model in self.models:
            out[model] = {}
            for name, sel in bucket_groups(self.pairs):
                row: dict[str, float] = {"count": int(sel.sum())}
                for metric in self.metrics_of(model):
                    if metric == "fid":
                        row[metric] = self.fid[model][name]
                        continue
                    values = self.scores[model][metric][sel]
                    values = values[~np.isnan(values)]
                    row[metric] = float(values.mean()) if values.size else math.nan
                out[model][name] = row
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: config, seconds, summary, pairs and per-pair scores (non-finite -> None)."""
        return _finite_or_none({
            "config": self.config,
            "models": self.models,
            "seconds": self.seconds,
            "summary": self.summary(),
            "pairs": [asdict(p) for p in self.pairs],
            "scores": {m: {k: v.tolist() for k, v in s.items()} for m, s in self.scores.items()},
        })


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def results_table(results: EvalResults, title: str | None = None) -> Table:
    """A Rich table: one row per bucket (and "all"), models side by side; best in bold."""
    summary = results.summary()
    cfg = results.config
    table = Table(title=title or (
        f"{cfg.get('images', '?')} images x {cfg.get('masks_per_bucket', '?')} mask(s) per "
        f"bucket, {cfg.get('size', '?')} px, seed {cfg.get('seed', '?')}"))
    table.add_column("hole ratio")
    table.add_column("n", justify="right")
    columns = {model: results.metrics_of(model) for model in results.models}
    for model in results.models:
        for metric in columns[model]:
            table.add_column(f"{model}\n{METRIC_LABELS[metric]}", justify="right")
    for row_name in [*BUCKET_NAMES, "all"]:
        first = summary[results.models[0]][row_name]
        cells = [row_name, str(first["count"])]
        best = {}
        for metric in results.metrics():
            values = [summary[m][row_name][metric] for m in results.models if metric in columns[m]]
            finite = [v for v in values if not math.isnan(v)]
            if len(values) > 1 and finite:
                best[metric] = max(finite) if HIGHER_IS_BETTER[metric] else min(finite)
        for model in results.models:
            for metric in columns[model]:
                value = summary[model][row_name][metric]
                text = "-" if math.isnan(value) else _FORMATS[metric].format(value)
                cells.append(f"[bold]{text}[/bold]" if best.get(metric) == value else text)
        table.add_row(*cells, end_section=row_name == BUCKET_NAMES[-1])
    return table


def write_json(results: EvalResults, path: str | Path) -> Path:
    """Everything (config, summary, pairs, per-pair scores) as JSON; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_dict(), indent=1) + "\n")
    return path


def write_csv(results: EvalResults, path: str | Path) -> Path:
    """The summary, one row per (model, bucket): model,bucket,count,psnr,ssim,l1,realism and
    the extra metrics computed (lpips, fid, diversity; empty cell where a model has none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = results.metrics()
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "bucket", "count", *metrics])
        for model, rows in results.summary().items():
            for bucket, row in rows.items():
                writer.writerow([model, bucket, row["count"],
                                 *(f"{row[m]:.6f}" if m in row else "" for m in metrics)])
    return path
