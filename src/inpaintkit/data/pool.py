"""A fixed pool of training items, computed once: for coarse inputs too slow to make per step.

PatchMatch (``coarse="patchmatch"``) takes about 0.6 CPU-s for one 256 px crop, ten times
a low-resolution refinement step on a batch of eight, so training with fresh items would
spend almost all its compute in the data workers. :class:`FixedPool` draws ``n`` items
``(image, mask, coarse)`` from a dataset once (item ``i`` is the base dataset's item
``i mod len`` of epoch ``i div len``, so it is the same for any number of workers), keeps
them as uint8 (image (N,H,W,3), hole (N,H,W), coarse (N,H,W,3k)) and serves them with a
random horizontal flip per (seed, epoch, index). The arrays are cached in one ``.npz`` per
pool (uncompressed; its name carries a hash of everything that defines the items), written
atomically, so a resumed run loads it instead of recomputing.

Flipping the coarse fill with the image gives the fill of the flipped crop up to the
algorithms' processing order (OpenCV, smooth) or random search (PatchMatch): another valid
fill of the same kind, which is what augmentation needs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

logger = logging.getLogger(__name__)


def _to_u8(x: torch.Tensor) -> np.ndarray:
    """(B,C,H,W) in [-1, 1] (made from uint8) -> (B,H,W,C) uint8, exactly."""
    return ((x + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    """(H,W,C) uint8 -> (C,H,W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float() / 127.5 - 1.0


class _Items(Dataset):
    """Item i of the pool: the base dataset's item ``i mod len`` of epoch ``i div len``."""

    def __init__(self, base: Any, n: int) -> None:
        self.base, self.n = base, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        epoch, index = divmod(i, len(self.base))
        self.base.set_epoch(epoch)
        return self.base[index]


class FixedPool(Dataset):
    """``n`` items of ``base`` (a dataset with ``set_epoch`` returning (image, mask, coarse)
    tensors), computed once with ``workers`` processes and cached at ``cache_dir``.

    ``key``: everything that defines the items (data folder, size, masks, coarse method,
    seed...); it names the cache file. Items: image (3,H,W), mask (1,H,W), coarse (3k,H,W).
    """

    def __init__(self, base: Any, n: int, cache_dir: str | Path | None, key: dict[str, Any],
                 seed: int = 0, workers: int = 1,
                 progress: Callable[[int, int], None] | None = None) -> None:
        if n < 1:
            raise ValueError(f"FixedPool: n must be >= 1, got {n}")
        self.n, self.seed, self.epoch = n, seed, 0
        digest = hashlib.sha256(json.dumps({**key, "n": n}, sort_keys=True).encode()).hexdigest()[:16]
        path = None if cache_dir is None else Path(cache_dir) / f"pool-{digest}.npz"
        if path is not None and path.exists():
            with np.load(path) as z:
                self.images, self.holes, self.coarse = z["images"], z["holes"], z["coarse"]
            logger.info("loaded the fixed pool of %d items from %s", n, path)
            return
        self.images, self.holes, self.coarse = self._build(base, n, workers, progress)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.savez(f, images=self.images, holes=self.holes, coarse=self.coarse)
            os.replace(tmp, path)

    @staticmethod
    def _build(base: Any, n: int, workers: int, progress: Callable[[int, int], None] | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        images, holes, coarse = [], [], []
        loader = DataLoader(_Items(base, n), batch_size=8, num_workers=workers)
        for batch in loader:
            if len(batch) != 3:
                raise ValueError("FixedPool: the base dataset must return (image, mask, coarse)")
            image, mask, fill = batch
            images.append(_to_u8(image))
            holes.append(mask[:, 0].numpy() > 0.5)
            coarse.append(_to_u8(fill))
            if progress is not None:
                progress(sum(len(h) for h in holes), n)
        return np.concatenate(images), np.concatenate(holes), np.concatenate(coarse)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        image, hole, coarse = self.images[index], self.holes[index], self.coarse[index]
        if np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5:
            image, hole, coarse = image[:, ::-1], hole[:, ::-1], coarse[:, ::-1]
        mask = torch.from_numpy(np.ascontiguousarray(hole)).float()[None]  # (1, H, W)
        return _to_tensor(image), mask, _to_tensor(coarse)


__all__ = ["FixedPool"]
