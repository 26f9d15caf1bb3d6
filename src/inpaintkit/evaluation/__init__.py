"""The papers' evaluation protocol, run through the Inpainter (what ``inpaintkit fill``
produces is what gets scored).

* :mod:`.protocol`: the images, masks and (image, mask) pairs: six hole-ratio buckets,
  deterministic pairing;
* :mod:`.runner`: :func:`evaluate` fills every pair with every model through an
  :class:`~inpaintkit.inference.Inpainter` and scores it (PSNR / SSIM / L1 / realism, and
  optionally LPIPS, FID, sample diversity);
* :mod:`.report`: :class:`EvalResults`, per-bucket summaries, a Rich table, JSON and CSV.

The metric functions themselves are in :mod:`inpaintkit.metrics`.
"""

from inpaintkit.evaluation.protocol import EvalSet, Pair, build_eval_set, prepare_image, select_pairs
from inpaintkit.evaluation.report import (
    EXTRA_METRICS,
    METRICS,
    EvalResults,
    results_table,
    write_csv,
    write_json,
)
from inpaintkit.evaluation.runner import DEFAULT_PSNR_CAP, evaluate, load_extras

__all__ = [
    "DEFAULT_PSNR_CAP",
    "EXTRA_METRICS",
    "METRICS",
    "EvalResults",
    "EvalSet",
    "Pair",
    "build_eval_set",
    "evaluate",
    "load_extras",
    "prepare_image",
    "results_table",
    "select_pairs",
    "write_csv",
    "write_json",
]
