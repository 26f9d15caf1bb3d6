"""Sample diversity of pluralistic completion (Zheng et al., "Pluralistic Image Completion",
CVPR 2019, sec. 5: mean pairwise LPIPS between completions of the same input).

For K samples s_1..s_K of one input (K >= 2), over the K(K-1)/2 unordered pairs:

* with an LPIPS model: mean_{i<j} LPIPS(s_i, s_j) over the whole image;
* without one: mean_{i<j} of the mean absolute difference inside the hole, in percent of 255
  (the same unit as :func:`inpaintkit.metrics.l1`); the whole image if no mask is given.

Samples should be composited (known pixels from the input), so only the hole can differ.
Shapes: samples (B,K,3,H,W) in [-1,1] (or uint8); mask (B,1,H,W), 1 = hole. Returns (B,)
float64, one score per input; higher = more diverse.
"""

from __future__ import annotations

import itertools

import torch

from inpaintkit.metrics.image_metrics import to_pixels
from inpaintkit.metrics.lpips import LPIPS, lpips_distance


def sample_diversity(
    samples: torch.Tensor,
    mask: torch.Tensor | None = None,
    lpips: LPIPS | None = None,
    *,
    quantize: bool = True,
) -> torch.Tensor:
    """Mean pairwise LPIPS (if ``lpips``) or mean pairwise hole L1 (%), per input (B,)."""
    if samples.ndim != 5 or samples.shape[1] < 2:
        raise ValueError(f"expected samples (B,K,3,H,W) with K >= 2, got {tuple(samples.shape)}")
    b, k = samples.shape[:2]
    pairs = list(itertools.combinations(range(k), 2))
    left = samples[:, [i for i, _ in pairs]].flatten(0, 1)
    right = samples[:, [j for _, j in pairs]].flatten(0, 1)
    if lpips is not None:
        return lpips_distance(lpips, left, right).view(b, len(pairs)).mean(1)

    diff = (to_pixels(left, quantize) - to_pixels(right, quantize)).abs().mean(1)  # (BP,H,W)
    diff = diff.view(b, len(pairs), *diff.shape[-2:])
    if mask is None:
        per_pair = diff.mean(dim=(2, 3))
    else:
        if mask.shape != (b, 1, *samples.shape[-2:]):
            raise ValueError(f"mask {tuple(mask.shape)} does not fit samples {tuple(samples.shape)}")
        hole = (mask.to(diff.device) > 0.5).to(diff.dtype)  # (B,1,H,W) broadcasts over pairs
        area = hole.sum(dim=(1, 2, 3)).clamp(min=1.0)
        per_pair = (diff * hole).sum(dim=(2, 3)) / area[:, None]
    return per_pair.mean(1) * (100.0 / 255.0)
