"""ImageFolderDataset: shapes, range, determinism independent of workers, bad files."""

from __future__ import annotations

import copy
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from inpaintkit.data import ImageFolderDataset
from inpaintkit.errors import InpaintError
from inpaintkit.masks import MaskFolder, box_mask


@pytest.fixture()
def images(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    sizes = [(40, 50), (64, 48), (20, 30), (33, 33), (50, 80), (36, 36)]
    names = ["a.png", "b.jpg", "sub/c.png", "d.bmp", "sub/e.webp", "f.tif"]
    for (h, w), name in zip(sizes, names, strict=True):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / name)
    return root


def _all(ds, n=None):
    return [ds[i] for i in range(n if n is not None else len(ds))]


def test_shapes_and_ranges(images):
    ds = ImageFolderDataset(images, size=32)
    assert len(ds) == 6
    for img, mask in _all(ds):
        assert img.shape == (3, 32, 32) and img.dtype == torch.float32
        assert mask.shape == (1, 32, 32) and mask.dtype == torch.float32
        assert img.min() >= -1 and img.max() <= 1
        assert set(mask.unique().tolist()) <= {0.0, 1.0} and mask.sum() > 0
    rect = ImageFolderDataset(images, size=(24, 40), mode="resize")
    img, mask = rect[2]  # 20x30 source: upsized
    assert img.shape == (3, 24, 40) and mask.shape == (1, 24, 40)


def test_crop_is_a_crop_of_the_pixels(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "x.png")
    ds = ImageFolderDataset(tmp_path, size=16, flip=False)
    img = ((ds[0][0].permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)
    hits = [(y, x) for y in range(25) for x in range(35)
            if np.array_equal(arr[y : y + 16, x : x + 16], img)]
    assert len(hits) == 1


def test_determinism_seed_epoch_index(images):
    a = ImageFolderDataset(images, size=24, seed=3)
    b = ImageFolderDataset(images, size=24, seed=3)
    for (ia, ma), (ib, mb) in zip(_all(a), _all(b), strict=True):
        assert torch.equal(ia, ib) and torch.equal(ma, mb)
    first = a[0]
    assert torch.equal(a[0][0], first[0])  # no hidden state between calls
    a.set_epoch(1)
    assert not torch.equal(a[0][1], first[1])
    c = ImageFolderDataset(images, size=24, seed=4)
    assert not torch.equal(c[0][1], first[1])


def test_worker_count_does_not_change_the_data(images):
    ds = ImageFolderDataset(images, size=24, seed=9)
    ds.set_epoch(2)
    single = list(DataLoader(ds, batch_size=2, num_workers=0))
    # (no cv2.setNumThreads in the workers: resetting OpenCV's pool after fork deadlocks
    # once the parent has used it)
    multi = list(DataLoader(ds, batch_size=2, num_workers=2))
    for (i0, m0), (i1, m1) in zip(single, multi, strict=True):
        assert torch.equal(i0, i1) and torch.equal(m0, m1)


def test_corrupt_files_are_skipped_and_counted(images, caplog):
    good = (images / "a.png").read_bytes()
    (images / "broken.png").write_bytes(good[: len(good) // 3])
    (images / "notes.jpg").write_text("not an image")
    (images / "empty.bmp").write_bytes(b"")
    ds = ImageFolderDataset(images, size=16)
    assert len(ds) == 9
    with caplog.at_level(logging.WARNING, logger="inpaintkit.data.image_folder"):
        items = _all(ds)
        _all(ds)  # second pass: no new warnings, no double counting
    assert len(items) == 9 and all(img.shape == (3, 16, 16) for img, _ in items)
    assert ds.skipped == 3
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3 and any("broken.png" in w for w in warned)
    # replacement items are deterministic too
    again = ImageFolderDataset(images, size=16)
    idx = [p.name for p in ds.paths].index("notes.jpg")
    assert torch.equal(again[idx][0], items[idx][0])


def test_skipped_is_shared_with_workers(images):
    (images / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    ds = ImageFolderDataset(images, size=16)
    for _ in DataLoader(ds, batch_size=4, num_workers=2):
        pass
    assert ds.skipped == 1


def test_all_bad_raises_clear_error(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"junk")
    ds = ImageFolderDataset(tmp_path, size=8, max_tries=5)
    with pytest.raises(InpaintError, match="unreadable"):
        ds[0]


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(InpaintError, match="no images"):
        ImageFolderDataset(tmp_path, size=8)
    with pytest.raises(InpaintError):
        ImageFolderDataset(tmp_path / "missing", size=8)
    with pytest.raises(InpaintError):
        ImageFolderDataset(tmp_path, size=8, mode="zoom")


def test_mask_sources(images, tmp_path):
    ds = ImageFolderDataset(images, size=20, masks=lambda h, w, rng: box_mask(h, w, rng))
    m = ds[0][1][0].numpy().astype(bool)
    ys, xs = np.nonzero(m)
    assert m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()
    mdir = tmp_path / "masks"
    mdir.mkdir()
    half = np.zeros((10, 10), np.uint8)
    half[:5] = 255
    Image.fromarray(half).save(mdir / "m.png")
    ds = ImageFolderDataset(images, size=20, masks=MaskFolder(mdir))
    assert ds[1][1].mean().item() == pytest.approx(0.5)
    bad = ImageFolderDataset(images, size=20, masks=lambda h, w, rng: np.zeros((5, 5), bool))
    with pytest.raises(ValueError):
        bad[0]


def test_pil_and_cv2_decoders_agree_on_lossless_files(images):
    a = ImageFolderDataset(images, size=16, decoder="cv2")
    b = ImageFolderDataset(images, size=16, decoder="pil")
    for i, p in enumerate(a.paths):
        if p.suffix in (".png", ".bmp", ".tif"):
            assert torch.equal(a[i][0], b[i][0])


def test_pickle_and_deepcopy(images):
    ds = ImageFolderDataset(images, size=16)
    ds._bad[0] = 1
    for clone in (pickle.loads(pickle.dumps(ds)), copy.deepcopy(ds)):
        assert clone.skipped == 1 and len(clone) == len(ds)
        assert torch.equal(clone[1][0], ds[1][0])
