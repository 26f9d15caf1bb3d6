"""A folder of mask images, selectable by hole-ratio bucket.

Made for the irregular-mask test set of the partial-convolution paper (12000 1-bit PNGs,
512x512, white = hole, 2000 per bucket) but works with any folder of masks in the formats
of :mod:`inpaintkit.io` (searched recursively, sorted by relative path).

Buckets are computed **from the pixels** (fraction of pixels > 127), never from file
names or numbering: a renamed, reordered or foreign mask set is still bucketed right. The
ratios are computed at full resolution: reduced-resolution decoding
(``cv2.IMREAD_REDUCED_GRAYSCALE_2``) is about 1.8x faster but moves ratios by up to 1.2
points on these masks, enough to put masks near a bucket edge in the wrong bucket. Speed
comes from ``cv2.imread(IMREAD_GRAYSCALE)`` (faster than Pillow for these files) run in a
thread pool (OpenCV releases the GIL while decoding): the 12000 masks take about 2-3 s on
2 cores. Ratios are cached in memory per process, keyed by the resolved path, modification
time and size of each file, so a second :class:`MaskFolder` on the same folder (one per
bucket in an evaluation) costs only a ``stat`` per file.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from inpaintkit.conventions import MASK_THRESHOLD
from inpaintkit.errors import InpaintError
from inpaintkit.io import list_image_files, read_mask
from inpaintkit.masks.buckets import BUCKETS, bucket_of, parse_bucket
from inpaintkit.masks.generator import as_hw

_CACHE: dict[str, tuple[int, int, float]] = {}
_CACHE_LOCK = threading.Lock()


def load_mask_file(path: str | os.PathLike[str]) -> np.ndarray:
    """A mask file as ``(H, W)`` bool (True = pixel > 127), fast path through OpenCV.

    Falls back to :func:`inpaintkit.io.read_mask` (which explains the problem in its
    :class:`InpaintError`) when OpenCV cannot decode the file.
    """
    gray = cv2.imread(os.fspath(path), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        return read_mask(path)
    return gray > MASK_THRESHOLD


def _ratio_uncached(path: str) -> float:
    gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if gray is None:
        m = read_mask(path)
        return float(np.count_nonzero(m)) / m.size
    # threshold + countNonZero avoids a temporary bool array the size of the image
    _, binary = cv2.threshold(gray, MASK_THRESHOLD, 1, cv2.THRESH_BINARY)
    return cv2.countNonZero(binary) / gray.size


def scan_hole_ratios(
    paths: Sequence[str | os.PathLike[str]], workers: int | None = None
) -> np.ndarray:
    """Hole ratio (fraction of pixels > 127) of every file, as float64, cached in memory.

    Raises :class:`InpaintError` naming the first unreadable file.
    """
    # Cache look-ups happen here, in one thread (a stat per file); only the misses are
    # decoded, in a thread pool. abspath, not resolve(): no syscalls, and the
    # (mtime, size) stamp guards against a different file behind the same name.
    keys = [os.path.abspath(p) for p in paths]
    out = np.empty(len(keys), dtype=np.float64)
    todo: list[tuple[int, str, tuple[int, int]]] = []
    with _CACHE_LOCK:
        for i, key in enumerate(keys):
            try:
                st = os.stat(key)
            except OSError as e:
                raise InpaintError(f"{paths[i]}: cannot access ({e.strerror})") from None
            stamp = (st.st_mtime_ns, st.st_size)
            hit = _CACHE.get(key)
            if hit is not None and hit[:2] == stamp:
                out[i] = hit[2]
            else:
                todo.append((i, key, stamp))
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    names = [key for _, key, _ in todo]
    if workers <= 1 or len(todo) < 64:
        ratios = [_ratio_uncached(k) for k in names]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            ratios = list(pool.map(_ratio_uncached, names))
    with _CACHE_LOCK:
        for (i, key, stamp), r in zip(todo, ratios, strict=True):
            out[i] = r
            _CACHE[key] = (*stamp, r)
    return out


def bucket_histogram(ratios: Iterable[float]) -> tuple[list[int], int, int]:
    """Counts per bucket of :data:`~inpaintkit.masks.buckets.BUCKETS`, plus the number of
    ratios below the first bucket and above the last."""
    counts = [0] * len(BUCKETS)
    below = above = 0
    for r in ratios:
        b = bucket_of(float(r))
        if b is not None:
            counts[b] += 1
        elif r < BUCKETS[0][0]:
            below += 1
        else:
            above += 1
    return counts, below, above


def _normalise_buckets(buckets: Iterable[int | str] | int | str | None) -> list[int] | None:
    if buckets is None:
        return None
    if isinstance(buckets, (int, str)):
        buckets = [buckets]
    out: list[int] = []
    for b in buckets:
        try:
            idx = parse_bucket(str(b))
        except ValueError as e:
            raise InpaintError(str(e)) from None
        if idx not in out:
            out.append(idx)
    return sorted(out)


class MaskFolder:
    """Masks from a folder: ``len(folder)``, ``folder[i] -> (H, W) bool`` (True = hole).

    * ``buckets``: None for every file, or bucket indices / names (``[0, 1]``,
      ``["30-40%"]``) to keep only masks whose pixel hole ratio falls in those buckets;
    * ``size``: ``int`` or ``(h, w)`` to resize (nearest neighbour) every mask to;
    * ``augment``: random left-right / up-down flips, a 90-degree rotation (180 only for a
      non-square mask without ``size``) and a small dilation (0, 1 or 2 px radius, applied
      after resizing). Augmented masks may leave their bucket (the dilation grows the hole);
      the bucket describes the file. ``folder[i]`` draws its augmentation from
      ``(seed, epoch, i)``, so it is reproducible; :meth:`set_epoch` changes it.

    Also a mask source for :class:`~inpaintkit.data.ImageFolderDataset`:
    ``folder(h, w, rng)`` returns a random mask of the selection (augmented if enabled)
    resized to ``(h, w)``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        buckets: Iterable[int | str] | int | str | None = None,
        augment: bool = False,
        size: int | tuple[int, int] | None = None,
        seed: int = 0,
    ) -> None:
        self.root = Path(root)
        self.augment = augment
        self.size = as_hw(size) if size is not None else None
        self.seed = int(seed)
        self.epoch = 0
        self.buckets = _normalise_buckets(buckets)
        files = list_image_files(self.root)
        if not files:
            raise InpaintError(f"{self.root}: no mask images found (png, jpg, bmp, webp, tif)")
        self.all_paths: list[Path] = files
        self._all_ratios: np.ndarray | None = None
        if self.buckets is None:
            self.paths = list(files)
            self._index = np.arange(len(files))
        else:
            ratios = self.all_ratios
            keep = np.array([bucket_of(float(r)) in self.buckets for r in ratios], dtype=bool)
            self._index = np.nonzero(keep)[0]
            self.paths = [files[i] for i in self._index]
            if not self.paths:
                names = ", ".join(f"{b}" for b in self.buckets)
                raise InpaintError(f"{self.root}: no mask in bucket(s) {names}")

    @property
    def all_ratios(self) -> np.ndarray:
        """Hole ratio of every file in the folder (computed on first use, then cached)."""
        if self._all_ratios is None:
            self._all_ratios = scan_hole_ratios(self.all_paths)
        return self._all_ratios

    @property
    def ratios(self) -> np.ndarray:
        """Hole ratio (of the file, before resizing/augmentation) of each selected mask."""
        return self.all_ratios[self._index]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self.paths)
        if not -n <= i < n:
            raise IndexError(f"mask index {i} out of range for {n} masks")
        i %= n
        rng = np.random.default_rng([self.seed, self.epoch, i]) if self.augment else None
        return self._load(i, self.size, rng)

    def __call__(self, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
        i = int(rng.integers(len(self.paths)))
        return self._load(i, (h, w), rng if self.augment else None)

    def _load(
        self, i: int, size: tuple[int, int] | None, rng: np.random.Generator | None
    ) -> np.ndarray:
        m = load_mask_file(self.paths[i])
        if rng is not None:
            if rng.random() < 0.5:
                m = m[:, ::-1]
            if rng.random() < 0.5:
                m = m[::-1, :]
            square = m.shape[0] == m.shape[1] or size is not None
            k = int(rng.integers(4)) if square else 2 * int(rng.integers(2))
            m = np.rot90(m, k)
        u8 = np.ascontiguousarray(m, dtype=np.uint8)
        if size is not None and u8.shape != size:
            u8 = cv2.resize(u8, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        if rng is not None:
            r = int(rng.integers(3))
            if r:
                kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
                u8 = cv2.dilate(u8, kernel)
        return u8.astype(bool)

    def __repr__(self) -> str:
        sel = "all" if self.buckets is None else self.buckets
        return (f"MaskFolder({str(self.root)!r}, buckets={sel}, n={len(self)}, "
                f"augment={self.augment}, size={self.size})")


__all__ = ["MaskFolder", "bucket_histogram", "load_mask_file", "scan_hole_ratios"]
