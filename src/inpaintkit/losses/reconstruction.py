"""Pixel-space reconstruction losses (pure functions).

Shapes: pred, target (B,C,H,W); mask (B,1,H,W), 1 = hole.
"""

from __future__ import annotations

import torch

from inpaintkit.layers.pyramid import laplacian_bands


def _region_weight(mask: torch.Tensor, hole_weight: float, valid_weight: float) -> torch.Tensor:
    """(B,1,H,W): ``hole_weight`` in the hole, ``valid_weight`` outside."""
    return valid_weight + (hole_weight - valid_weight) * mask


def masked_l1(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    hole_weight: float = 1.0,
    valid_weight: float = 1.0,
) -> torch.Tensor:
    """Mean |pred - target| with per-region weights (hole_weight = valid_weight = 1 is
    plain L1 over the whole image, as DeepFill v2's ``ae_loss``)."""
    return (_region_weight(mask, hole_weight, valid_weight) * (pred - target).abs()).mean()


def masked_mse(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    hole_weight: float = 1.0,
    valid_weight: float = 1.0,
) -> torch.Tensor:
    """Mean (pred - target)^2 with per-region weights, as :func:`masked_l1`. Its minimiser is
    the conditional mean (L1's is the median), the estimate that maximises PSNR."""
    return (_region_weight(mask, hole_weight, valid_weight) * (pred - target).square()).mean()


def fine_band_change(pred: torch.Tensor, ref: torch.Tensor, levels: int = 2) -> torch.Tensor:
    """(B,): per image, the summed mean squared difference of the ``levels`` finest
    Laplacian bands (:func:`~inpaintkit.layers.pyramid.laplacian_bands`) of ``pred`` and
    ``ref``: how much ``pred`` changed the bands the hole realism metric reads."""
    diffs = laplacian_bands(pred - ref, levels)  # the bands are linear in the image
    return sum(d.square().flatten(1).mean(1) for d in diffs)


def region_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(hole L1, valid L1), each normalised by the whole tensor size as in Liu et al. 2018
    (so a larger hole carries proportionally more weight)."""
    diff = (pred - target).abs()
    return (diff * mask).mean(), (diff * (1 - mask)).mean()


def l1_over_mask_mean(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Region Normalization's reconstruction term: L1 / mean(mask) (Yu et al. 2020), which
    scales the loss up for small holes. ``mean(mask)`` is clamped to avoid division by 0."""
    return (pred - target).abs().mean() / mask.mean().clamp_min(1e-3)


def total_variation(image: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Anisotropic TV (mean absolute neighbour difference). With ``mask``, only pairs that
    touch the 1-pixel dilated hole count, as the PConv paper's TV term."""
    dh = (image[:, :, 1:, :] - image[:, :, :-1, :]).abs()
    dw = (image[:, :, :, 1:] - image[:, :, :, :-1]).abs()
    if mask is None:
        return dh.mean() + dw.mean()
    region = torch.nn.functional.max_pool2d(mask, 3, stride=1, padding=1)
    rh = torch.maximum(region[:, :, 1:, :], region[:, :, :-1, :])
    rw = torch.maximum(region[:, :, :, 1:], region[:, :, :, :-1])
    return (dh * rh).mean() + (dw * rw).mean()


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B,C,H,W) -> (B,C,C) normalised by C*H*W (Gatys et al.; PConv's style loss)."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)
