"""The papers' evaluation protocol: irregular masks in six hole-ratio buckets, PSNR/SSIM/L1
(plus, on request, LPIPS, FID and the sample diversity of pluralistic models).

Protocol (partial convolutions, Liu et al. 2018; region normalization, Yu et al. 2020):

1. Every image of ``images_dir`` (sorted by name; the first ``images`` if given) is resized so
   its shorter side is ``size`` (area filter when shrinking, bicubic when enlarging) and
   centre-cropped to ``size`` x ``size``.
2. Masks (``masks_dir``, white > 127 = hole) are resized to ``size`` x ``size`` by nearest
   neighbour and put in a bucket by the hole ratio of those resized pixels
   (:func:`inpaintkit.masks.buckets.bucket_of`; masks outside every bucket are unused).
3. Pairing is deterministic and the same for every model: the mask files are shuffled once
   with ``numpy.random.default_rng(seed)``; walking that order, each bucket collects its
   first ``n_images * masks_per_bucket`` masks. Image i gets, in bucket b, the masks
   ``i * masks_per_bucket + k`` (k < masks_per_bucket) of bucket b's list (cycling if the
   bucket has fewer). Image i's masks do not depend on how many images are evaluated.
   For the NVIDIA test set (files 00000-11999, 2000 per bucket by number) the numbering is
   checked against the measured bucket; disagreements are listed in
   ``config["bucket_mismatches"]`` (the measured bucket is the one used).
4. Each model gets ``masked_input(image, mask)`` and the mask, in batches of ``batch_size``
   pairs, with a ``torch.Generator`` seeded from (seed, first pair of the batch). Its
   output is composited with the input (known pixels exact), rounded to uint8, and scored
   against the ground truth over the whole image: PSNR (capped at ``psnr_cap`` dB so that
   perfect pairs keep means finite), SSIM, L1 in % of 255 (see
   :mod:`inpaintkit.metrics.image_metrics`).

Optional extras (off by default; off, the run is exactly the PSNR/SSIM/L1 one):

* ``lpips_weights``: LPIPS (:mod:`inpaintkit.metrics.lpips`, lower is better) between each
  composited uint8 output and its ground truth; a per-pair score averaged like the others.
* ``fid_weights``: FID (:mod:`inpaintkit.metrics.fid`) between the set of composited uint8
  outputs of a bucket and the ground-truth images of the same pairs, per bucket and "all"
  (NaN for fewer than 2 pairs). FID is a set statistic: on ~100 images per bucket it is
  strongly biased upwards and noisy (the covariance of 2048-d features is rank-deficient),
  so its values are only comparable between models of the same run (same pairs), never
  with published numbers computed on thousands of images.
* ``diversity_samples`` = K >= 2: for models with ``pluralistic = True`` (they have
  ``sample(image, mask, k, generator=None) -> (B,k,3,H,W)``), K composited samples per pair
  with a generator separate from the one of ``inpaint`` (so the other scores are unchanged)
  and :func:`inpaintkit.metrics.diversity.sample_diversity`: mean pairwise LPIPS if LPIPS
  weights are given, else mean pairwise L1 inside the hole in % of 255
  (``config["diversity_metric"]``). Higher = more diverse; absent for other models.

Results hold per-pair scores; :meth:`EvalResults.summary` gives per-model, per-bucket means
and counts (plus "all"). :func:`results_table`, :func:`write_json`, :func:`write_csv` render
and save them.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch
from rich.table import Table

from inpaintkit.conventions import MASK_THRESHOLD, composite, masked_input
from inpaintkit.errors import InpaintError
from inpaintkit.masks.buckets import BUCKET_NAMES, BUCKETS, bucket_of
from inpaintkit.metrics.diversity import sample_diversity
from inpaintkit.metrics.fid import (
    FIDInceptionV3,
    feature_statistics,
    frechet_distance,
    inception_features,
    load_fid_inception,
)
from inpaintkit.metrics.image_metrics import compute_metrics, to_pixels
from inpaintkit.metrics.lpips import LPIPS, load_lpips, lpips_distance

METRICS = ("psnr", "ssim", "l1")
# Optional metrics, in column order; "fid" is per set, the others per pair.
EXTRA_METRICS = ("lpips", "fid", "diversity")
METRIC_LABELS = {"psnr": "PSNR", "ssim": "SSIM", "l1": "L1 %", "lpips": "LPIPS", "fid": "FID",
                 "diversity": "diversity"}
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "l1": False, "lpips": False, "fid": False,
                    "diversity": True}
_FORMATS = {"psnr": "{:.2f}", "ssim": "{:.4f}", "l1": "{:.2f}", "lpips": "{:.4f}",
            "fid": "{:.2f}", "diversity": "{:.4f}"}
DEFAULT_PSNR_CAP = 100.0
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MASK_EXTENSIONS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


class Inpaints(Protocol):
    """Anything with the generator protocol's ``inpaint`` (see models/base.py)."""

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor: ...


@dataclass(frozen=True)
class Pair:
    """One evaluation case: image file, mask file, bucket index, hole ratio at ``size``."""

    image: str
    mask: str
    bucket: int
    hole_ratio: float


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
        return [*METRICS, *(m for m in EXTRA_METRICS if m in have)]

    def metrics(self) -> list[str]:
        """The union of :meth:`metrics_of` over the models, in column order."""
        have = {m for model in self.models for m in self.metrics_of(model)}
        return [m for m in (*METRICS, *EXTRA_METRICS) if m in have]

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """``{model: {bucket name | "all": {"count", "psnr", "ssim", "l1", extras...}}}``.

        Means over the bucket's pairs; "fid" is the bucket's set score. Extras appear only
        for the models they were computed for.
        """
        out: dict[str, dict[str, dict[str, float]]] = {}
        for model in self.models:
            out[model] = {}
            for name, sel in _groups(self.pairs):
                row: dict[str, float] = {"count": int(sel.sum())}
                for metric in self.metrics_of(model):
                    if metric == "fid":
                        row[metric] = self.fid[model][name]
                        continue
                    values = self.scores[model][metric][sel]
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


def _groups(pairs: list[Pair]) -> list[tuple[str, np.ndarray]]:
    """(bucket name | "all", boolean selection over ``pairs``) in table order."""
    buckets = np.array([p.bucket for p in pairs], dtype=int)
    groups = [(name, buckets == b) for b, name in enumerate(BUCKET_NAMES)]
    groups.append(("all", np.ones(len(buckets), dtype=bool)))
    return groups


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


# --- data ----------------------------------------------------------------------------


def _files(folder: Path, extensions: tuple[str, ...], what: str) -> list[Path]:
    if not folder.is_dir():
        raise InpaintError(f"{what} folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in extensions)
    if not files:
        raise InpaintError(f"no {what} files in {folder}")
    return files


def prepare_image(array: np.ndarray, size: int) -> np.ndarray:
    """(H,W,3) uint8 -> (size,size,3) uint8: shorter side to ``size``, centre crop."""
    h, w = array.shape[:2]
    scale = size / min(h, w)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    if (new_h, new_w) != (h, w):
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        array = cv2.resize(array, (new_w, new_h), interpolation=interp)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return np.ascontiguousarray(array[top:top + size, left:left + size])


def read_image_rgb(path: Path) -> np.ndarray:
    """(H,W,3) uint8 RGB via OpenCV; InpaintError naming the file if unreadable."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InpaintError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_mask_resized(path: Path, size: int) -> np.ndarray:
    """(size,size) bool hole mask: grayscale > 127, resized by nearest neighbour."""
    gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise InpaintError(f"cannot read mask {path}")
    if gray.shape != (size, size):
        gray = cv2.resize(gray, (size, size), interpolation=cv2.INTER_NEAREST)
    return gray > MASK_THRESHOLD


def select_pairs(
    image_names: list[str],
    mask_files: list[Path],
    size: int,
    masks_per_bucket: int,
    seed: int,
) -> tuple[list[Pair], dict[str, np.ndarray], list[str]]:
    """The deterministic pairing of step 3; also returns the masks read and mismatches."""
    need = len(image_names) * masks_per_bucket
    per_bucket: list[list[tuple[str, float]]] = [[] for _ in BUCKETS]
    masks: dict[str, np.ndarray] = {}
    # Cross-check only for a numbered, bucket-ordered set such as the NVIDIA test masks.
    numbered = all(p.stem.isdigit() for p in mask_files) and len(mask_files) % len(BUCKETS) == 0
    per_number = len(mask_files) // len(BUCKETS)
    mismatches: list[str] = []
    for index in np.random.default_rng(seed).permutation(len(mask_files)):
        if all(len(lst) >= need for lst in per_bucket):
            break
        path = mask_files[index]
        hole = read_mask_resized(path, size)
        ratio = float(hole.mean())
        b = bucket_of(ratio)
        if numbered and b != int(path.stem) // per_number:
            mismatches.append(path.name)
        if b is None or len(per_bucket[b]) >= need:
            continue
        per_bucket[b].append((path.name, ratio))
        masks[path.name] = hole
    pairs = []
    for b, candidates in enumerate(per_bucket):
        if not candidates:
            continue
        for i, image in enumerate(image_names):
            for k in range(masks_per_bucket):
                name, ratio = candidates[(i * masks_per_bucket + k) % len(candidates)]
                pairs.append(Pair(image, name, b, ratio))
    return pairs, masks, mismatches


# --- running -------------------------------------------------------------------------


@dataclass
class _Extras:
    """The optional metrics of a run (all off = the plain PSNR/SSIM/L1 protocol)."""

    fid: FIDInceptionV3 | None = None
    lpips: LPIPS | None = None
    diversity: int = 0

    @property
    def any(self) -> bool:
        return self.fid is not None or self.lpips is not None or self.diversity > 0


def is_pluralistic(model: Any) -> bool:
    """True for models that declare ``pluralistic = True`` and have ``sample``."""
    return bool(getattr(model, "pluralistic", False)) and callable(getattr(model, "sample", None))


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


def _diversity(
    model: Any, name: str, image: torch.Tensor, mask: torch.Tensor, k: int,
    generator: torch.Generator, lpips: LPIPS | None,
) -> np.ndarray:
    """Mean pairwise diversity (B,) of k composited uint8 samples per input."""
    with torch.no_grad():
        samples = model.sample(masked_input(image, mask), mask, k, generator=generator)
    b = image.shape[0]
    if not isinstance(samples, torch.Tensor) or samples.shape != (b, k, *image.shape[1:]):
        got = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
        raise ValueError(f"model '{name}' sample() returned {got}, "
                         f"expected {(b, k, *image.shape[1:])}")
    flat = composite(samples.flatten(0, 1), image.repeat_interleave(k, 0),
                     mask.repeat_interleave(k, 0))
    pixels = to_pixels(flat.cpu()).to(torch.uint8).unflatten(0, (b, k))
    return sample_diversity(pixels, mask.cpu(), lpips).numpy()


def _run_model(
    model: Inpaints,
    name: str,
    images: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    pairs: list[Pair],
    batch_size: int,
    seed: int,
    device: torch.device,
    psnr_cap: float | None,
    extras: _Extras,
) -> tuple[dict[str, np.ndarray], float, torch.Tensor | None, float]:
    """Per-pair scores, model seconds, FID features of the outputs (or None), extras seconds."""
    scores = {m: np.empty(len(pairs)) for m in METRICS}
    if extras.lpips is not None:
        scores["lpips"] = np.empty(len(pairs))
    diversity = extras.diversity if extras.diversity >= 2 and is_pluralistic(model) else 0
    if diversity:
        scores["diversity"] = np.empty(len(pairs))
    features: list[torch.Tensor] = []
    extra_spent = 0.0
    was_training = None
    if isinstance(model, torch.nn.Module):
        was_training = model.training
        model.to(device).eval()
    spent = 0.0
    try:
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            truth = torch.from_numpy(np.stack([images[p.image] for p in batch])).permute(0, 3, 1, 2)
            hole = torch.from_numpy(np.stack([masks[p.mask] for p in batch]))[:, None]
            image = (truth.float() / 127.5 - 1.0).to(device)
            mask = hole.float().to(device)
            generator = torch.Generator(device=device).manual_seed(seed * 1_000_003 + start)
            t0 = time.perf_counter()
            with torch.no_grad():
                out = model.inpaint(masked_input(image, mask), mask, generator=generator)
            if device.type == "cuda":
                torch.cuda.synchronize(device)  # time the work, not the kernel launches
            spent += time.perf_counter() - t0
            if not isinstance(out, torch.Tensor) or out.shape != image.shape:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"model '{name}' returned {got}, expected {tuple(image.shape)}")
            result = to_pixels(composite(out, image, mask).cpu()).to(torch.uint8)
            end = start + len(batch)
            for metric, values in compute_metrics(result, truth, max_db=psnr_cap).items():
                scores[metric][start:end] = values.numpy()
            if not extras.any:
                continue
            t0 = time.perf_counter()
            if extras.lpips is not None:
                scores["lpips"][start:end] = lpips_distance(extras.lpips, result, truth).numpy()
            if extras.fid is not None:
                features.append(inception_features(extras.fid, result, batch_size))
            if diversity:
                # Its own seed stream: the inpaint outputs above stay those of a plain run.
                sampler = torch.Generator(device=device).manual_seed(
                    seed * 1_000_003 + start + (1 << 40))
                scores["diversity"][start:end] = _diversity(
                    model, name, image, mask, diversity, sampler, extras.lpips)
            extra_spent += time.perf_counter() - t0
    finally:
        if was_training:
            model.train()
    return scores, spent, (torch.cat(features) if features else None), extra_spent


def _describe(weights: Any) -> str | None:
    """A weights argument for the config: the path, or the class of a loaded network."""
    if weights is None or isinstance(weights, str | Path):
        return None if weights is None else str(weights)
    return f"<{type(weights).__name__}>"


def _fid_per_group(pairs: list[Pair], real: torch.Tensor, fake: torch.Tensor
                   ) -> dict[str, float]:
    """FID per bucket and "all" between the outputs' and the truths' features (N,D) of the
    same pairs; NaN for fewer than 2 pairs."""
    out = {}
    for name, sel in _groups(pairs):
        index = torch.from_numpy(np.flatnonzero(sel))
        if len(index) < 2:
            out[name] = math.nan
            continue
        mu1, s1 = feature_statistics(real[index])
        mu2, s2 = feature_statistics(fake[index])
        out[name] = frechet_distance(mu1, s1, mu2, s2)
    return out


def evaluate(
    models: Mapping[str, Inpaints],
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
) -> EvalResults:
    """Score every model on the same (image, mask) pairs; see the module docstring.

    ``models``: name -> object with ``inpaint(image, mask, generator=None)`` (nn.Modules
    are moved to ``device`` and put in eval mode for the run). ``images`` limits the number
    of images (the first ones by name). ``psnr_cap=None`` keeps ``inf`` for perfect pairs.

    Extras (module docstring): ``fid_weights`` / ``lpips_weights`` are local weight files
    (or networks loaded with :func:`load_extras`) and add "fid" / "lpips";
    ``diversity_samples`` K >= 2 adds "diversity" for pluralistic models (0 = off).
    FID on ~100 images per bucket is biased and noisy: compare it only between models of
    the same run.
    """
    if not models:
        raise ValueError("evaluate: no models given")
    if size < 11 or masks_per_bucket < 1 or batch_size < 1:
        raise ValueError("evaluate: need size >= 11, masks_per_bucket >= 1, batch_size >= 1")
    if diversity_samples < 0 or diversity_samples == 1:
        raise ValueError("evaluate: diversity_samples must be 0 (off) or >= 2")
    t_start = time.perf_counter()
    # Weights first: a bad file fails before any image is read.
    fid_model, lpips_model = load_extras(fid_weights, lpips_weights, device)
    extras = _Extras(fid_model, lpips_model, diversity_samples)
    image_files = _files(Path(images_dir), IMAGE_EXTENSIONS, "image")
    if images is not None:
        image_files = image_files[:images]
    prepared = {p.name: prepare_image(read_image_rgb(p), size) for p in image_files}
    mask_files = _files(Path(masks_dir), MASK_EXTENSIONS, "mask")
    pairs, masks, mismatches = select_pairs(
        list(prepared), mask_files, size, masks_per_bucket, seed)
    t_data = time.perf_counter() - t_start

    device = torch.device(device)
    real = None
    if fid_model is not None:
        # Features of each distinct truth once, then one row per pair.
        names = list(prepared)
        stack = torch.from_numpy(np.stack([prepared[n] for n in names])).permute(0, 3, 1, 2)
        per_image = inception_features(fid_model, stack, batch_size)
        row = {n: i for i, n in enumerate(names)}
        real = per_image[[row[p.image] for p in pairs]]
    scores, seconds, fids, extra_seconds = {}, {}, {}, {}
    for name, model in models.items():
        scores[name], seconds[name], fake, extra_seconds[name] = _run_model(
            model, name, prepared, masks, pairs, batch_size, seed, device, psnr_cap, extras)
        if real is not None and fake is not None:
            fids[name] = _fid_per_group(pairs, real, fake)
    config = {
        "images_dir": str(images_dir), "masks_dir": str(masks_dir), "size": size,
        "images": len(prepared), "masks_per_bucket": masks_per_bucket, "seed": seed,
        "device": str(device), "batch_size": batch_size, "psnr_cap": psnr_cap,
        "bucket_mismatches": mismatches, "data_seconds": t_data,
        "total_seconds": time.perf_counter() - t_start,
    }
    if extras.any:  # keys only when used, so a plain run's JSON is unchanged
        config.update({
            "fid_weights": _describe(fid_weights),
            "lpips_weights": _describe(lpips_weights),
            "diversity_samples": diversity_samples,
            "diversity_metric": None if not diversity_samples else (
                "lpips" if lpips_model is not None else "l1_hole_percent"),
            "extra_metric_seconds": extra_seconds,
        })
    return EvalResults(list(models), pairs, scores, seconds, config, fids)


# --- reporting -----------------------------------------------------------------------


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
    """The summary, one row per (model, bucket): model,bucket,count,psnr,ssim,l1 and the
    extra metrics computed (lpips, fid, diversity; empty cell where a model has none)."""
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
