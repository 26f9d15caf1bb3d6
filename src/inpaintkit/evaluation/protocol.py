"""The papers' evaluation protocol: which (image, mask) pairs every model is scored on.

Irregular masks in six hole-ratio buckets (partial convolutions, Liu et al. 2018; region
normalization, Yu et al. 2020):

1. Every image of ``images_dir`` (not recursive, sorted by name; the first ``images`` if
   given) is read by :func:`inpaintkit.io.read_image` (RGB, EXIF-oriented), resized so its
   shorter side is ``size`` (``cv2.INTER_AREA`` when shrinking, ``cv2.INTER_CUBIC`` when
   enlarging) and centre-cropped to ``size`` x ``size``.
2. Masks (``masks_dir``, any depth, white > 127 = hole) come from
   :class:`inpaintkit.masks.folder.MaskFolder`, resized to ``size`` x ``size`` by nearest
   neighbour, and go into the bucket of the hole ratio of those resized pixels
   (:func:`inpaintkit.masks.buckets.bucket_of`; masks outside every bucket are unused).
3. Pairing is deterministic and the same for every model: the mask files are shuffled once
   with ``numpy.random.default_rng(seed)``; walking that order, each bucket collects its
   first ``n_images * masks_per_bucket`` masks. Image i gets, in bucket b, the masks
   ``i * masks_per_bucket + k`` (k < masks_per_bucket) of bucket b's list (cycling if the
   bucket has fewer). Image i's masks do not depend on how many images are evaluated.
   For the NVIDIA test set (files 00000-11999, 2000 per bucket by number) the numbering is
   checked against the measured bucket; disagreements are listed as ``mismatches`` (the
   measured bucket is the one used).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inpaintkit.errors import NotFound
from inpaintkit.io import list_image_files, read_image
from inpaintkit.masks.buckets import BUCKET_NAMES, BUCKETS, bucket_of
from inpaintkit.masks.folder import MaskFolder


@dataclass(frozen=True)
class Pair:
    """One evaluation case: image name, mask name (relative to the masks folder), bucket
    index, hole ratio at the protocol's size."""

    image: str
    mask: str
    bucket: int
    hole_ratio: float


@dataclass
class EvalSet:
    """Everything a model is scored on: prepared images (size,size,3) uint8 by name, hole
    masks (size,size) bool by name, the pairs, and the numbering mismatches of step 3."""

    images: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    pairs: list[Pair]
    mismatches: list[str]


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


def load_images(images_dir: str | Path, size: int, limit: int | None = None) -> dict[str, np.ndarray]:
    """Step 1: ``{file name: (size,size,3) uint8}`` in name order."""
    files = list_image_files(images_dir, recursive=False)
    if not files:
        raise NotFound(f"{images_dir}: no image files")
    if limit is not None:
        files = files[:limit]
    return {p.name: prepare_image(read_image(p), size) for p in files}


def select_pairs(
    image_names: list[str],
    masks: MaskFolder,
    masks_per_bucket: int,
    seed: int,
) -> tuple[list[Pair], dict[str, np.ndarray], list[str]]:
    """Steps 2-3 for ``masks`` (a MaskFolder with ``size`` set): the pairs, the masks they
    use by name, and the files whose number disagrees with their measured bucket."""
    names = [p.relative_to(masks.root).as_posix() for p in masks.paths]
    need = len(image_names) * masks_per_bucket
    per_bucket: list[list[tuple[str, float]]] = [[] for _ in BUCKETS]
    used: dict[str, np.ndarray] = {}
    # Cross-check only for a numbered, bucket-ordered set such as the NVIDIA test masks.
    stems = [p.stem for p in masks.paths]
    numbered = all(s.isdigit() for s in stems) and len(stems) % len(BUCKETS) == 0
    per_number = len(stems) // len(BUCKETS)
    mismatches: list[str] = []
    for index in np.random.default_rng(seed).permutation(len(names)):
        if all(len(lst) >= need for lst in per_bucket):
            break
        hole = masks[int(index)]
        ratio = float(hole.mean())
        b = bucket_of(ratio)
        if numbered and b != int(stems[index]) // per_number:
            mismatches.append(names[index])
        if b is None or len(per_bucket[b]) >= need:
            continue
        per_bucket[b].append((names[index], ratio))
        used[names[index]] = hole
    pairs = []
    for b, candidates in enumerate(per_bucket):
        for i, image in enumerate(image_names if candidates else []):
            for k in range(masks_per_bucket):
                name, ratio = candidates[(i * masks_per_bucket + k) % len(candidates)]
                pairs.append(Pair(image, name, b, ratio))
    return pairs, used, mismatches


def build_eval_set(
    images_dir: str | Path,
    masks_dir: str | Path,
    size: int = 256,
    masks_per_bucket: int = 1,
    images: int | None = None,
    seed: int = 0,
) -> EvalSet:
    """Steps 1-3: the images, masks and pairs of one protocol run."""
    prepared = load_images(images_dir, size, images)
    pairs, masks, mismatches = select_pairs(
        list(prepared), MaskFolder(masks_dir, size=size), masks_per_bucket, seed)
    return EvalSet(prepared, masks, pairs, mismatches)


def bucket_groups(pairs: list[Pair]) -> list[tuple[str, np.ndarray]]:
    """(bucket name | "all", boolean selection over ``pairs``) in table order."""
    buckets = np.array([p.bucket for p in pairs], dtype=int)
    groups = [(name, buckets == b) for b, name in enumerate(BUCKET_NAMES)]
    groups.append(("all", np.ones(len(buckets), dtype=bool)))
    return groups
