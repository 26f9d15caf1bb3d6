"""The protocol: image preparation, mask buckets and the deterministic pairing, on the shared
val images + irregular masks (skipped if absent) and on a synthetic folder."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from eval_helpers import MASKS, VAL, synthetic_folders

from inpaintkit.errors import InpaintError
from inpaintkit.evaluation import build_eval_set, prepare_image, select_pairs
from inpaintkit.masks.buckets import BUCKETS
from inpaintkit.masks.folder import MaskFolder

needs_data = pytest.mark.skipif(
    not (VAL.is_dir() and MASKS.is_dir()),
    reason=f"shared data not found at {VAL.parent} (val images + irregular masks)",
)


def test_prepare_image_shorter_side_and_centre():
    arr = np.zeros((321, 481, 3), np.uint8)
    arr[:, 240] = 255  # the centre column survives the centre crop
    out = prepare_image(arr, 256)
    assert out.shape == (256, 256, 3)
    assert out[:, 126:130].max() > 0 and out[:, :100].max() == 0
    # the documented filters: area when shrinking, bicubic when enlarging
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (300, 400, 3), np.uint8)
    want = cv2.resize(big, (341, 256), interpolation=cv2.INTER_AREA)[:, 42:298]
    assert np.array_equal(prepare_image(big, 256), want)
    small = rng.integers(0, 256, (20, 30, 3), np.uint8)
    want = cv2.resize(small, (96, 64), interpolation=cv2.INTER_CUBIC)[:, 16:80]
    assert np.array_equal(prepare_image(small, 64), want)


def test_synthetic_buckets_and_cycling(tmp_path):
    images, masks = synthetic_folders(tmp_path)
    data = build_eval_set(images, masks, size=32, masks_per_bucket=2)
    assert list(data.images) == ["im0.png", "im1.png", "im2.png"]  # notes.txt ignored
    assert all(a.shape == (32, 32, 3) and a.dtype == np.uint8 for a in data.images.values())
    assert sorted(data.masks) == ["a.png", "b.png", "c.png"]  # d: 80 %, outside every bucket
    for name, hole in data.masks.items():
        want = cv2.resize(cv2.imread(str(masks / name), cv2.IMREAD_GRAYSCALE), (32, 32),
                          interpolation=cv2.INTER_NEAREST) > 127
        assert np.array_equal(hole, want)
    by_bucket = {b: [p for p in data.pairs if p.bucket == b] for b in range(len(BUCKETS))}
    assert [len(v) for v in by_bucket.values()] == [6, 0, 0, 6, 0, 0]
    for image in data.images:  # bucket 0 has two masks: each image gets both
        assert sorted(p.mask for p in by_bucket[0] if p.image == image) == ["a.png", "b.png"]
        assert [p.mask for p in by_bucket[3] if p.image == image] == ["c.png", "c.png"]  # reused
    for p in data.pairs:
        assert p.hole_ratio == pytest.approx(data.masks[p.mask].mean())
    assert data.mismatches == []  # not a numbered set: no cross-check


def test_missing_or_empty_folders(tmp_path):
    images, masks = synthetic_folders(tmp_path)
    with pytest.raises(InpaintError, match="no such folder"):
        build_eval_set(tmp_path / "nothing", masks)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InpaintError, match="no image files"):
        build_eval_set(tmp_path / "empty", masks)
    with pytest.raises(InpaintError, match="no mask"):
        build_eval_set(images, tmp_path / "empty")


@needs_data
def test_pairing_is_deterministic_and_prefix_stable():
    folder = MaskFolder(MASKS, size=256)
    names = [f"img{i}" for i in range(3)]
    pairs, _, mismatches = select_pairs(names, folder, 1, seed=0)
    again, _, _ = select_pairs(names, folder, 1, seed=0)
    assert pairs == again
    fewer, _, _ = select_pairs(names[:2], folder, 1, seed=0)
    assert set(fewer) <= set(pairs)  # image i's masks do not depend on how many images
    other, _, _ = select_pairs(names, folder, 1, seed=1)
    assert {p.mask for p in other} != {p.mask for p in pairs}
    assert mismatches == []
    # each bucket's masks really have that hole ratio, the NVIDIA numbering agrees
    for p in pairs:
        lo, hi = BUCKETS[p.bucket]
        assert lo <= p.hole_ratio <= hi
        assert int(Path(p.mask).stem) // 2000 == p.bucket
    assert len({p.mask for p in pairs}) == 18  # distinct masks per image & bucket


@needs_data
def test_val_pairs_of_the_recorded_protocol():
    """The first pairs of ``inpaintkit eval --limit 20`` as recorded before the evaluation
    package existed (metrics/evaluate.py): same images, masks and ratios."""
    data = build_eval_set(VAL, MASKS, size=256, images=20)
    assert len(data.pairs) == 120
    first = [(p.image, p.mask, p.bucket) for p in data.pairs[:4]]
    assert first == [("bsds_101085.jpg", "00236.png", 0), ("bsds_101087.jpg", "01761.png", 0),
                     ("bsds_102061.jpg", "01758.png", 0), ("bsds_103070.jpg", "01130.png", 0)]
