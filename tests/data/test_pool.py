"""FixedPool: the items of its base dataset, computed once, cached, served with flips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaintkit.data import FixedPool


class _Base:
    """Items that name their (epoch, index): a uint8 image, a hole and a 6-channel fill."""

    def __init__(self, n: int = 5, size: int = 8) -> None:
        self.n, self.size, self.epoch, self.calls = n, size, 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def arrays(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng([epoch, index])
        image = rng.integers(0, 256, (self.size, self.size, 3), dtype=np.uint8)
        hole = rng.random((self.size, self.size)) < 0.3
        fill = rng.integers(0, 256, (self.size, self.size, 6), dtype=np.uint8)
        return image, hole, fill

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        self.calls += 1
        image, hole, fill = self.arrays(self.epoch, index)

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).permute(2, 0, 1).float() / 127.5 - 1.0

        return t(image), torch.from_numpy(hole).float()[None], t(fill)


def _u8(x: torch.Tensor) -> np.ndarray:
    return ((x + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()


def test_pool_holds_the_base_items_of_successive_epochs_exactly(tmp_path) -> None:
    base = _Base(n=5)
    pool = FixedPool(base, 12, tmp_path, {"k": 1}, seed=3, workers=0)
    assert len(pool) == 12
    for i in range(12):
        image, hole, fill = base.arrays(*divmod(i, 5))
        got_image, got_mask, got_fill = pool[i]
        assert got_mask.shape == (1, 8, 8) and got_fill.shape == (6, 8, 8)
        flipped = not np.array_equal(_u8(got_image), image)
        if flipped:  # image, mask and fill are flipped together
            image, hole, fill = image[:, ::-1], hole[:, ::-1], fill[:, ::-1]
        assert np.array_equal(_u8(got_image), image)
        assert np.array_equal(got_mask[0].numpy() > 0.5, hole)
        assert np.array_equal(_u8(got_fill), fill)


def test_flips_depend_on_seed_epoch_and_index_only(tmp_path) -> None:
    pool = FixedPool(_Base(), 40, tmp_path, {"k": 2}, seed=0, workers=0)

    first = [pool[i][0] for i in range(40)]
    pool.set_epoch(0)
    assert all(torch.equal(a, pool[i][0]) for i, a in enumerate(first))  # repeatable
    pool.set_epoch(1)
    changed = sum(not torch.equal(a, pool[i][0]) for i, a in enumerate(first))
    assert 5 < changed < 35  # about half the items flip differently in another epoch


def test_pool_is_cached_by_key_and_rebuilt_for_another(tmp_path) -> None:
    base = _Base()
    a = FixedPool(base, 6, tmp_path, {"coarse": "patchmatch"}, workers=0)
    calls = base.calls
    assert calls == 6 and len(list(tmp_path.glob("pool-*.npz"))) == 1
    b = FixedPool(base, 6, tmp_path, {"coarse": "patchmatch"}, workers=0)
    assert base.calls == calls  # loaded, not recomputed
    assert all(torch.equal(x, y) for i in range(6) for x, y in zip(a[i], b[i], strict=True))
    FixedPool(base, 6, tmp_path, {"coarse": "smooth"}, workers=0)
    assert base.calls == 2 * calls and len(list(tmp_path.glob("pool-*.npz"))) == 2
    assert not list(tmp_path.glob(".*tmp"))  # written atomically


def test_pool_rejects_a_base_without_coarse_fills(tmp_path) -> None:
    class NoFill(_Base):
        def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
            return super().__getitem__(index)[:2]

    with pytest.raises(ValueError, match="coarse"):
        FixedPool(NoFill(), 4, None, {}, workers=0)
    with pytest.raises(ValueError, match="n must be"):
        FixedPool(_Base(), 0, None, {}, workers=0)
