"""The tensor convention, stated once.

* image: ``(B, 3, H, W)`` float32, RGB, values in [-1, 1]
* mask:  ``(B, 1, H, W)`` float32, values in {0, 1}, **1 = hole** (pixels to fill)
* mask files: white (> 127) = hole; optionally the alpha channel (transparent = hole)

Every model, loss, metric and entry point takes and returns tensors in this form;
conversions to and from uint8 arrays live here and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

# torch is imported inside the functions that use it: `inpaintkit.io` reads MASK_THRESHOLD
# from here, and the CLI's --help / --version must not pay torch's import (about a second).

MASK_THRESHOLD = 127  # a mask pixel > 127 (of 255) is a hole


def composite(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Known pixels from ``image``, hole pixels from ``pred``.

    pred, image: (B,3,H,W); mask: (B,1,H,W), 1 = hole. Uses ``torch.where`` rather than
    ``pred*m + image*(1-m)`` so that known pixels are bit-identical to the input (no
    floating-point round trip) and so NaNs in ``pred`` outside the hole cannot leak.
    """
    if pred.shape[-2:] != image.shape[-2:] or mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"composite: sizes differ: pred {tuple(pred.shape)}, image {tuple(image.shape)}, "
            f"mask {tuple(mask.shape)}"
        )
    import torch

    return torch.where(mask > 0.5, pred.to(image.dtype), image)


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The image with its hole zeroed (0 is mid-grey in [-1, 1]).

    Models call this first so that nothing inside the hole can reach their output.
    """
    import torch

    return torch.where(mask > 0.5, torch.zeros_like(image), image)


# --- uint8 arrays <-> tensors -------------------------------------------------------

def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H,W,3) uint8 RGB -> (1,3,H,W) float32 in [-1, 1]."""
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected (H,W,3) uint8, got {array.shape} {array.dtype}")
    import torch

    t = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).float()
    return (t / 127.5 - 1.0).unsqueeze(0)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1,3,H,W) or (3,H,W) float in [-1, 1] -> (H,W,3) uint8 RGB (rounded, clipped).

    Exact inverse of :func:`image_to_tensor` for every uint8 value.
    """
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected a batch of one, got {tuple(tensor.shape)}")
        tensor = tensor[0]
    import torch

    t = ((tensor.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255)
    return t.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def mask_to_tensor(array: np.ndarray) -> torch.Tensor:
    """(H,W) bool or uint8 (nonzero/True = hole) -> (1,1,H,W) float32 in {0, 1}."""
    if array.ndim != 2:
        raise ValueError(f"expected an (H,W) mask, got {array.shape}")
    hole = array.astype(bool) if array.dtype == bool else array > 0
    import torch

    return torch.from_numpy(hole.astype(np.float32))[None, None]


def tensor_to_mask(tensor: torch.Tensor) -> np.ndarray:
    """(1,1,H,W) / (1,H,W) / (H,W) float -> (H,W) uint8, 255 = hole (the file convention)."""
    t = tensor.detach().cpu().reshape(tensor.shape[-2:])
    return np.where(t.numpy() > 0.5, 255, 0).astype(np.uint8)


def hole_ratio(mask: torch.Tensor | np.ndarray) -> float:
    """Fraction of hole pixels in one mask (tensor in {0,1} or array, nonzero = hole)."""
    if isinstance(mask, np.ndarray):
        return float((mask > 0).mean())
    import torch

    if isinstance(mask, torch.Tensor):
        return float((mask > 0.5).float().mean())
    return float((np.asarray(mask) > 0).mean())
