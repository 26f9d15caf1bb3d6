"""MaskFolder: bucket selection from pixels, resizing, augmentation, errors; and the real
irregular-mask test set when it is present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaintkit.errors import InpaintError
from inpaintkit.io import read_mask
from inpaintkit.masks import BUCKETS, MaskFolder, bucket_histogram, bucket_of, scan_hole_ratios

IRREGULAR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "masks" / "irregular"


def _mask_with_ratio(ratio: float, h: int = 40, w: int = 50) -> np.ndarray:
    m = np.zeros(h * w, bool)
    m[: round(ratio * h * w)] = True
    return m.reshape(h, w)


@pytest.fixture()
def folder(tmp_path) -> Path:
    # file names deliberately unrelated to the ratios: buckets must come from the pixels
    ratios = [0.55, 0.05, 0.35, 0.15, 0.0, 0.25, 0.45, 0.8, 0.12, 0.10]
    for i, r in enumerate(ratios):
        Image.fromarray(np.where(_mask_with_ratio(r), 255, 0).astype(np.uint8)).save(
            tmp_path / f"m{(7 * i) % 10}.png")
    return tmp_path


def test_bucket_selection_from_pixels(folder):
    everything = MaskFolder(folder)
    assert len(everything) == 10
    for b, (lo, hi) in enumerate(BUCKETS):
        mf = MaskFolder(folder, buckets=[b])
        assert len(mf) >= 1
        for i in range(len(mf)):
            r = mf[i].mean()
            assert bucket_of(r) == b and lo <= r <= hi
    assert len(MaskFolder(folder, buckets=[0])) == 2  # 0.05 and the 0.10 edge
    assert len(MaskFolder(folder, buckets=[1])) == 2  # 0.12 and 0.15
    assert len(MaskFolder(folder, buckets=["10-20%", 0])) == 4
    np.testing.assert_allclose(sorted(MaskFolder(folder, buckets=[1]).ratios), [0.12, 0.15])


def test_histogram_counts_outside(folder):
    counts, below, above = bucket_histogram(MaskFolder(folder).all_ratios)
    assert counts == [2, 2, 1, 1, 1, 1] and below == 1 and above == 1


def test_resize_and_call(folder):
    mf = MaskFolder(folder, size=(20, 30))
    assert mf[0].shape == (20, 30) and mf[0].dtype == bool
    m = mf(17, 23, np.random.default_rng(0))
    assert m.shape == (17, 23)
    assert MaskFolder(folder)[3].shape == (40, 50)
    with pytest.raises(IndexError):
        mf[10]
    assert mf[-1].shape == (20, 30)


def test_augmentation_is_deterministic_and_varied(folder):
    mf = MaskFolder(folder, buckets=[5], augment=True, size=32, seed=1)
    a = mf[0]
    np.testing.assert_array_equal(a, MaskFolder(folder, buckets=[5], augment=True, size=32,
                                                seed=1)[0])
    variants = {mf(32, 32, np.random.default_rng(s)).tobytes() for s in range(20)}
    assert len(variants) > 5
    per_epoch = set()
    for e in range(10):
        mf.set_epoch(e)
        per_epoch.add(mf[0].tobytes())
        assert mf[0].tobytes() in per_epoch  # stable within an epoch
    assert len(per_epoch) > 3
    no_aug = MaskFolder(folder, buckets=[5], size=32)
    assert len({no_aug[0].tobytes() for _ in range(3)}) == 1


def test_errors(tmp_path, folder):
    with pytest.raises(InpaintError):
        MaskFolder(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InpaintError):
        MaskFolder(empty)
    with pytest.raises(InpaintError):
        MaskFolder(folder, buckets=["70-80%"])
    (folder / "zz_broken.png").write_bytes(b"not a png")
    with pytest.raises(InpaintError, match="zz_broken.png"):
        MaskFolder(folder, buckets=[0])


def test_ratio_cache_notices_changed_files(tmp_path):
    p = tmp_path / "m.png"
    Image.fromarray(np.where(_mask_with_ratio(0.05), 255, 0).astype(np.uint8)).save(p)
    assert scan_hole_ratios([p])[0] == pytest.approx(0.05)
    before = p.stat().st_mtime_ns
    Image.fromarray(np.where(_mask_with_ratio(0.5, 41, 50), 255, 0).astype(np.uint8)).save(p)
    # A rewrite within the file system's mtime granularity (1-2 s on some) keeps the old
    # stamp; a rewrite a second later is what the cache must notice, so date it so.
    os.utime(p, ns=(before + 10**9, before + 10**9))
    assert scan_hole_ratios([p])[0] == pytest.approx(0.5, abs=1e-3)


@pytest.mark.skipif(not IRREGULAR.is_dir(), reason=f"irregular masks not found at {IRREGULAR}")
def test_irregular_masks_land_in_their_buckets(tmp_path):
    # A few hundred of the 12000 (symlinked into a folder so that only they are scanned),
    # taken across all file numbers; buckets are judged from the pixels, then checked with
    # an independent reader (Pillow, via inpaintkit.io.read_mask).
    files = sorted(IRREGULAR.glob("*.png"))
    rng = np.random.default_rng(0)
    sample = [files[i] for i in sorted(rng.choice(len(files), 300, replace=False))]
    for f in sample:
        (tmp_path / f.name).symlink_to(f)
    seen = 0
    for b, (lo, hi) in enumerate(BUCKETS):
        mf = MaskFolder(tmp_path, buckets=[b])
        for p, r in zip(mf.paths, mf.ratios, strict=True):
            ref = read_mask(p).mean()
            assert ref == pytest.approx(r)
            assert bucket_of(ref) == b and lo <= ref <= hi
        seen += len(mf)
    assert seen == len(sample)  # the test set holds only ratios in 1-60 %
    resized = MaskFolder(tmp_path, buckets=[3], size=256)
    assert resized[0].shape == (256, 256)
