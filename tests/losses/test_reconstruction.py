"""Reconstruction losses (:mod:`inpaintkit.losses.reconstruction`) against their formulas
written out as plain Python loops over every element of small tensors."""

from __future__ import annotations

import itertools

import pytest
import torch

from inpaintkit.losses.reconstruction import (
    fine_band_change,
    gram_matrix,
    l1_over_mask_mean,
    masked_l1,
    masked_mse,
    region_l1,
    total_variation,
)

B, C, H, W = 2, 3, 5, 6


def _tensors(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    pred = torch.rand(B, C, H, W, generator=g, dtype=torch.float64) * 2 - 1
    target = torch.rand(B, C, H, W, generator=g, dtype=torch.float64) * 2 - 1
    mask = torch.zeros(B, 1, H, W, dtype=torch.float64)
    mask[0, 0, 1:3, 2:5] = 1  # an inner hole
    mask[1, 0, 3:, :2] = 1  # a hole on the corner
    return pred, target, mask


def _cells() -> itertools.product:
    return itertools.product(range(B), range(C), range(H), range(W))


def _weighted_mean(pred, target, mask, power: int, hole_w: float, valid_w: float) -> float:
    total = 0.0
    for b, c, y, x in _cells():
        weight = hole_w if mask[b, 0, y, x] > 0.5 else valid_w
        total += weight * abs(pred[b, c, y, x].item() - target[b, c, y, x].item()) ** power
    return total / (B * C * H * W)


@pytest.mark.parametrize(("hole_w", "valid_w"), [(1.0, 1.0), (6.0, 1.0), (0.0, 2.5), (3.0, 0.0)])
def test_masked_l1_and_mse_weight_each_region(hole_w: float, valid_w: float) -> None:
    pred, target, mask = _tensors()
    l1 = masked_l1(pred, target, mask, hole_weight=hole_w, valid_weight=valid_w).item()
    mse = masked_mse(pred, target, mask, hole_weight=hole_w, valid_weight=valid_w).item()
    assert l1 == pytest.approx(_weighted_mean(pred, target, mask, 1, hole_w, valid_w), rel=1e-12)
    assert mse == pytest.approx(_weighted_mean(pred, target, mask, 2, hole_w, valid_w), rel=1e-12)


def test_default_weights_are_the_plain_means() -> None:
    pred, target, mask = _tensors(1)
    diff = [pred[i].item() - target[i].item() for i in _cells()]
    assert masked_l1(pred, target, mask).item() == pytest.approx(sum(map(abs, diff)) / len(diff))
    assert masked_mse(pred, target, mask).item() == pytest.approx(sum(d * d for d in diff) / len(diff))


def test_region_l1_divides_each_region_by_the_whole_size() -> None:
    pred, target, mask = _tensors(2)
    hole = valid = 0.0
    for b, c, y, x in _cells():
        d = abs(pred[b, c, y, x].item() - target[b, c, y, x].item())
        if mask[b, 0, y, x] > 0.5:
            hole += d
        else:
            valid += d
    n = B * C * H * W
    got_hole, got_valid = region_l1(pred, target, mask)
    assert got_hole.item() == pytest.approx(hole / n, rel=1e-12)
    assert got_valid.item() == pytest.approx(valid / n, rel=1e-12)


def test_l1_over_mask_mean() -> None:
    pred, target, mask = _tensors(3)
    l1 = _weighted_mean(pred, target, mask, 1, 1.0, 1.0)
    hole_fraction = (3 * 2 + 2 * 2) / (B * H * W)  # the two holes of _tensors
    assert mask.mean().item() == pytest.approx(hole_fraction)
    got = l1_over_mask_mean(pred, target, mask).item()
    assert got == pytest.approx(l1 / hole_fraction, rel=1e-12)
    # No hole: the denominator is clamped to 1e-3 instead of dividing by zero.
    empty = l1_over_mask_mean(pred, target, torch.zeros_like(mask)).item()
    assert empty == pytest.approx(l1 / 1e-3, rel=1e-12)


def _dilated(mask: torch.Tensor, b: int, y: int, x: int) -> float:
    """max of the mask over the 3x3 neighbourhood inside the image."""
    return max(mask[b, 0, j, i].item() for j in range(max(0, y - 1), min(H, y + 2))
               for i in range(max(0, x - 1), min(W, x + 2)))


def _tv(image: torch.Tensor, mask: torch.Tensor | None) -> float:
    def weight(b: int, p: tuple[int, int], q: tuple[int, int]) -> float:
        return 1.0 if mask is None else max(_dilated(mask, b, *p), _dilated(mask, b, *q))

    vertical = horizontal = 0.0
    for b, c, y, x in _cells():
        if y + 1 < H:
            d = abs(image[b, c, y + 1, x].item() - image[b, c, y, x].item())
            vertical += weight(b, (y, x), (y + 1, x)) * d
        if x + 1 < W:
            d = abs(image[b, c, y, x + 1].item() - image[b, c, y, x].item())
            horizontal += weight(b, (y, x), (y, x + 1)) * d
    return vertical / (B * C * (H - 1) * W) + horizontal / (B * C * H * (W - 1))


def test_total_variation_whole_image_and_near_the_hole() -> None:
    image, _, mask = _tensors(4)
    assert total_variation(image).item() == pytest.approx(_tv(image, None), rel=1e-12)
    near_hole = total_variation(image, mask).item()
    assert near_hole == pytest.approx(_tv(image, mask), rel=1e-12)
    assert 0 < near_hole < total_variation(image).item()
    assert total_variation(image, torch.zeros_like(mask)).item() == 0.0


def test_gram_matrix() -> None:
    g = torch.Generator().manual_seed(5)
    feats = torch.randn(2, 4, 3, 5, generator=g, dtype=torch.float64)
    b, c, h, w = feats.shape
    got = gram_matrix(feats)
    assert got.shape == (b, c, c)
    for n, i, j in itertools.product(range(b), range(c), range(c)):
        dot = sum(feats[n, i, y, x].item() * feats[n, j, y, x].item()
                  for y in range(h) for x in range(w))
        assert got[n, i, j].item() == pytest.approx(dot / (c * h * w), rel=1e-12)


def test_fine_band_change_is_the_band_energy_of_the_difference_by_opencv() -> None:
    import numpy as np

    from inpaintkit.metrics.realism import laplacian_levels

    g = torch.Generator().manual_seed(3)
    pred, ref = torch.rand(2, 3, 32, 40, generator=g), torch.rand(2, 3, 32, 40, generator=g)
    got = fine_band_change(pred, ref)
    assert got.shape == (2,)
    for b in range(2):
        diff = (pred[b] - ref[b]).permute(1, 2, 0).numpy()
        ref_bands = laplacian_levels(diff, 2)  # OpenCV's pyramid (the borders differ slightly)
        want = sum(float(np.mean(band**2)) for band in ref_bands)
        assert float(got[b]) == pytest.approx(want, rel=0.05)
    assert torch.equal(fine_band_change(ref, ref), torch.zeros(2))
    smooth = ref + torch.linspace(0, 1, 40).expand(2, 3, 32, 40)  # a ramp: no fine bands inside
    assert float(fine_band_change(smooth, ref).max()) < 0.02 * float(got.min())
