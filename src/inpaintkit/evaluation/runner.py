"""Scoring models on the protocol's pairs (:mod:`.protocol`) through the Inpainter, so that
``inpaintkit eval`` measures exactly what ``inpaintkit fill`` produces.

4. Each model is wrapped in an :class:`inpaintkit.inference.Inpainter` (unless it is one
   already): the ground-truth image (size,size,3) uint8 and the hole (size,size) bool go in,
   the composited uint8 result comes out (padding to the model's multiple, the classical
   coarse input of networks that take one, the ``strategy`` for images above the model's
   native size: all as ``fill`` does). Models zero the hole themselves (generator
   protocol), so the truth under the hole never reaches the result. Stochastic models get
   the seed ``seed * 1_000_003 + pair index``.
5. Each result is scored against its ground truth over the whole image, in groups of
   ``batch_size`` pairs: PSNR (capped at ``psnr_cap`` dB so that perfect pairs keep means
   finite), SSIM, L1 in % of 255 (:mod:`inpaintkit.metrics.image_metrics`), and the hole
   realism, the patch sliced Wasserstein distance x 1e3 (:mod:`inpaintkit.metrics.realism`,
   lower is better; NaN for a hole too small to have patches, left out of the means).

Optional extras (off by default; off, the run has exactly the metrics above):

* ``lpips_weights``: LPIPS (:mod:`inpaintkit.metrics.lpips`, lower is better) between each
  result and its ground truth; a per-pair score averaged like the others.
* ``fid_weights``: FID (:mod:`inpaintkit.metrics.fid`) between the set of results of a
  bucket and the ground-truth images of the same pairs, per bucket and "all" (NaN for
  fewer than 2 pairs). FID is a set statistic: on ~100 images per bucket it is strongly
  biased upwards and noisy (the covariance of 2048-d features is rank-deficient), so its
  values are only comparable between models of the same run (same pairs), never with
  published numbers computed on thousands of images.
* ``diversity_samples`` = K >= 2: for pluralistic models (``model.pluralistic``), K samples
  per pair from the Inpainter (``samples=K``, with a seed stream separate from step 4, so
  the other scores are unchanged) and :func:`inpaintkit.metrics.diversity.sample_diversity`:
  mean pairwise LPIPS if LPIPS weights are given, else mean pairwise L1 inside the hole in
  % of 255 (``config["diversity_metric"]``). Higher = more diverse; absent for other models.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inpaintkit.evaluation.protocol import EvalSet, Pair, bucket_groups, build_eval_set
from inpaintkit.evaluation.report import METRICS, EvalResults
from inpaintkit.inference import Inpainter
from inpaintkit.metrics.diversity import sample_diversity
from inpaintkit.metrics.fid import (
    FIDInceptionV3,
    feature_statistics,
    frechet_distance,
    inception_features,
    load_fid_inception,
)
from inpaintkit.metrics.image_metrics import compute_metrics
from inpaintkit.metrics.lpips import LPIPS, load_lpips, lpips_distance
from inpaintkit.metrics.realism import PatchSWD
from inpaintkit.models.base import GeneratorProtocol

DEFAULT_PSNR_CAP = 100.0
#: What ``evaluate`` takes per model: an Inpainter, or anything an Inpainter takes.
ModelSpec = Inpainter | GeneratorProtocol | str | os.PathLike


@dataclass
class _Extras:
    """The optional metrics of a run (all off = the plain protocol)."""

    fid: FIDInceptionV3 | None = None
    lpips: LPIPS | None = None
    diversity: int = 0

    @property
    def any(self) -> bool:
        return self.fid is not None or self.lpips is not None or self.diversity > 0


@dataclass
class _ModelRun:
    """One model's Inpainter and what it has accumulated so far."""

    inpainter: Inpainter
    scores: dict[str, np.ndarray]
    diversity: int = 0  # K samples per pair, 0 = no diversity for this model
    seconds: float = 0.0  # in Inpainter.inpaint for the scored results
    extra_seconds: float = 0.0  # LPIPS, FID features and diversity samples
    features: list[torch.Tensor] = field(default_factory=list)


def load_extras(
    fid_weights: str | Path | FIDInceptionV3 | None = None,
    lpips_weights: str | Path | LPIPS | None = None,
    device: str | torch.device = "cpu",
) -> tuple[FIDInceptionV3 | None, LPIPS | None]:
    """Load the FID Inception / LPIPS networks from local files (already loaded ones pass
    through); InpaintError naming the file if one is missing or unusable."""
    fid_model = fid_weights
    if fid_weights is not None and not isinstance(fid_weights, FIDInceptionV3):
        fid_model = load_fid_inception(fid_weights, device=device)
    lpips_model = lpips_weights
    if lpips_weights is not None and not isinstance(lpips_weights, LPIPS):
        lpips_model = load_lpips(lpips_weights, device=device)
    return fid_model, lpips_model  # type: ignore[return-value]


def _describe(weights: Any) -> str | None:
    """A weights argument for the config: the path, or the class of a loaded network."""
    if weights is None or isinstance(weights, str | Path):
        return None if weights is None else str(weights)
    return f"<{type(weights).__name__}>"


def _fid_per_group(pairs: list[Pair], real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """FID per bucket and "all" between the results' and the truths' features (N,D) of the
    same pairs; NaN for fewer than 2 pairs."""
    out = {}
    for name, sel in bucket_groups(pairs):
        index = torch.from_numpy(np.flatnonzero(sel))
        if len(index) < 2:
            out[name] = math.nan
            continue
        mu1, s1 = feature_statistics(real[index])
        mu2, s2 = feature_statistics(fake[index])
        out[name] = frechet_distance(mu1, s1, mu2, s2)
    return out


def _truth_features(fid: FIDInceptionV3, data: EvalSet, batch_size: int) -> torch.Tensor:
    """FID features (N_pairs, D) of each pair's ground truth, each distinct image once."""
    names = list(data.images)
    stack = torch.from_numpy(np.stack([data.images[n] for n in names])).permute(0, 3, 1, 2)
    per_image = inception_features(fid, stack, batch_size)
    row = {n: i for i, n in enumerate(names)}
    return per_image[[row[p.image] for p in data.pairs]]


def _fill(run: _ModelRun, truth: np.ndarray, hole: np.ndarray, seed: int) -> np.ndarray:
    """One model's composited uint8 result for one pair, timed."""
    t0 = time.perf_counter()
    result = run.inpainter.inpaint(truth, hole, seed=seed)[0]
    run.seconds += time.perf_counter() - t0
    return result


def _score_batch(
    run: _ModelRun, start: int, results: list[np.ndarray], truths: list[np.ndarray],
    holes: list[np.ndarray], seed: int, psnr_cap: float | None, extras: _Extras,
) -> None:
    """PSNR / SSIM / L1 and the extras of the pairs ``start .. start + len(results)``."""
    end = start + len(results)
    result = torch.from_numpy(np.stack(results)).permute(0, 3, 1, 2)
    target = torch.from_numpy(np.stack(truths)).permute(0, 3, 1, 2)
    for metric, values in compute_metrics(result, target, max_db=psnr_cap).items():
        run.scores[metric][start:end] = values.numpy()
    if not extras.any:
        return
    t0 = time.perf_counter()
    if extras.lpips is not None:
        run.scores["lpips"][start:end] = lpips_distance(extras.lpips, result, target).numpy()
    if extras.fid is not None:
        run.features.append(inception_features(extras.fid, result, len(results)))
    if run.diversity:
        samples = [
            # Its own seed stream: the results above stay those of a plain run.
            np.stack(run.inpainter.inpaint(truth, hole, samples=run.diversity,
                                           seed=seed * 1_000_003 + start + i + (1 << 40)))
            for i, (truth, hole) in enumerate(zip(truths, holes, strict=True))
        ]
        pixels = torch.from_numpy(np.stack(samples)).permute(0, 1, 4, 2, 3)  # (B,K,3,H,W)
        mask = torch.from_numpy(np.stack(holes))[:, None].float()
        run.scores["diversity"][start:end] = sample_diversity(pixels, mask, extras.lpips).numpy()
    run.extra_seconds += time.perf_counter() - t0


def evaluate(
    models: Mapping[str, ModelSpec],
    images_dir: str | Path,
    masks_dir: str | Path,
    size: int = 256,
    masks_per_bucket: int = 1,
    images: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch_size: int = 8,
    psnr_cap: float | None = DEFAULT_PSNR_CAP,
    fid_weights: str | Path | FIDInceptionV3 | None = None,
    lpips_weights: str | Path | LPIPS | None = None,
    diversity_samples: int = 0,
    strategy: str = "auto",
) -> EvalResults:
    """Score every model on the same (image, mask) pairs; see the module docstrings.

    ``models``: name -> Inpainter, or what an Inpainter takes (a model name or checkpoint
    path, or a generator-protocol object); those get ``Inpainter(model, device=device,
    strategy=strategy)``. nn.Modules given in training mode are put back in it afterwards.
    ``images`` limits the number of images (the first ones by name). ``batch_size`` pairs
    are scored together (the Inpainter fills one image at a time). ``psnr_cap=None`` keeps
    ``inf`` for perfect pairs.

    Extras (module docstring): ``fid_weights`` / ``lpips_weights`` are local weight files
    (or networks loaded with :func:`load_extras`) and add "fid" / "lpips";
    ``diversity_samples`` K >= 2 adds "diversity" for pluralistic models (0 = off).
    """
    if not models:
        raise ValueError("evaluate: no models given")
    if size < 11 or masks_per_bucket < 1 or batch_size < 1:
        raise ValueError("evaluate: need size >= 11, masks_per_bucket >= 1, batch_size >= 1")
    if diversity_samples < 0 or diversity_samples == 1:
        raise ValueError("evaluate: diversity_samples must be 0 (off) or >= 2")
    t_start = time.perf_counter()
    # Weights and models first: a bad file or name fails before any image is read.
    fid_model, lpips_model = load_extras(fid_weights, lpips_weights, device)
    extras = _Extras(fid_model, lpips_model, diversity_samples)
    training = [m for m in models.values() if isinstance(m, torch.nn.Module) and m.training]
    try:
        inpainters = {name: m if isinstance(m, Inpainter) else Inpainter(m, device=device, strategy=strategy)
                      for name, m in models.items()}
        data = build_eval_set(images_dir, masks_dir, size, masks_per_bucket, images, seed)
        t_data = time.perf_counter() - t_start
        runs = _run(inpainters, data, batch_size, seed, psnr_cap, extras)
    finally:
        for module in training:
            module.train()
    real = _truth_features(fid_model, data, batch_size) if fid_model is not None else None
    fids = {name: _fid_per_group(data.pairs, real, torch.cat(run.features))
            for name, run in runs.items() if real is not None and run.features}
    config = {
        "images_dir": str(images_dir), "masks_dir": str(masks_dir), "size": size,
        "images": len(data.images), "masks_per_bucket": masks_per_bucket, "seed": seed,
        "device": str(next(iter(inpainters.values())).device), "strategy": strategy,
        "batch_size": batch_size, "psnr_cap": psnr_cap, "bucket_mismatches": data.mismatches,
        "data_seconds": t_data, "total_seconds": time.perf_counter() - t_start,
    }
    if extras.any:  # keys only when used, so a plain run's JSON is unchanged
        config.update({
            "fid_weights": _describe(fid_weights),
            "lpips_weights": _describe(lpips_weights),
            "diversity_samples": diversity_samples,
            "diversity_metric": None if not diversity_samples else (
                "lpips" if lpips_model is not None else "l1_hole_percent"),
            "extra_metric_seconds": {name: run.extra_seconds for name, run in runs.items()},
        })
    return EvalResults(list(models), data.pairs, {name: run.scores for name, run in runs.items()},
                       {name: run.seconds for name, run in runs.items()}, config, fids)


def _run(inpainters: dict[str, Inpainter], data: EvalSet, batch_size: int, seed: int,
         psnr_cap: float | None, extras: _Extras) -> dict[str, _ModelRun]:
    """Every model on every pair, batch by batch."""
    n = len(data.pairs)
    runs = {}
    for name, inpainter in inpainters.items():
        metrics = [*METRICS, *(["lpips"] if extras.lpips is not None else [])]
        diversity = extras.diversity if extras.diversity >= 2 and inpainter.pluralistic else 0
        if diversity:
            metrics.append("diversity")
        runs[name] = _ModelRun(inpainter, {m: np.full(n, math.nan) for m in metrics}, diversity)
    for start in range(0, n, batch_size):
        batch = data.pairs[start:start + batch_size]
        truths = [data.images[p.image] for p in batch]
        holes = [data.masks[p.mask] for p in batch]
        results: dict[str, list[np.ndarray]] = {name: [] for name in runs}
        for i, (truth, hole) in enumerate(zip(truths, holes, strict=True)):
            realism = PatchSWD(truth, hole)  # the truth's side, shared by the models
            for name, run in runs.items():
                results[name].append(_fill(run, truth, hole, seed * 1_000_003 + start + i))
                run.scores["realism"][start + i] = realism(results[name][-1])
        for name, run in runs.items():
            _score_batch(run, start, results[name], truths, holes, seed, psnr_cap, extras)
    return runs
