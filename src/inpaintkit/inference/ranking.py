"""Ranking K completions with the model's discriminator (PIC-Net, Zheng et al. 2019: the
paper shows the samples its discriminator scores highest; the official test code scores
them but keeps the drawing order).

The composited uint8 results are scored at about the model's native size (INTER_AREA; the
hole mask scaled conservatively, as the Inpainter's ``resize`` strategy does): the
discriminator was trained at that scale, and its attention layer grows with the square of
the pixels. Scores are LSGAN outputs averaged over the hole's patches (higher = more real).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn

from inpaintkit.conventions import image_to_tensor, mask_to_tensor
from inpaintkit.models.pic_discriminator import sample_scores


def rank_results(discriminator: nn.Module, results: list[np.ndarray], hole: np.ndarray,
                 native_size: int) -> tuple[list[int], list[float]]:
    """(order, scores): indices of ``results`` (K uint8 (H,W,3) images, already composited)
    best first, and each result's score in the original order."""
    h, w = hole.shape
    scale = min(1.0, native_size / (h * w) ** 0.5)
    side = getattr(discriminator, "min_size", 1)
    sh, sw = max(round(h * scale), side), max(round(w * scale), side)
    if (sh, sw) != (h, w):
        small = [cv2.resize(r, (sw, sh), interpolation=cv2.INTER_AREA) for r in results]
        hole = cv2.resize(hole.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0
    else:
        small = results
    param = next(discriminator.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    stack = torch.cat([image_to_tensor(r) for r in small])[None].to(device)  # (1,K,3,h,w)
    with torch.inference_mode():
        scores = sample_scores(stack, discriminator, mask_to_tensor(hole).to(device))[0]
    values = [float(v) for v in scores.cpu()]
    order = sorted(range(len(values)), key=lambda i: -values[i])
    return order, values
