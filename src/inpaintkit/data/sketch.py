"""Pen-like sketches from the images themselves: the Canny edge detector in torch.

DeepFill v2 (Yu et al., ICCV 2019, Sec. 3.4) trains its user-guided model on edge maps
extracted from the training images (the paper used HED; offline here, with no pretrained
edge network, we use Canny, J. Canny, "A Computational Approach to Edge Detection", PAMI
1986). For an image ``x`` (B,3,H,W) in [-1, 1]::

    g   = G_sigma * luma((x + 1) / 2)                  (B,1,H,W) grey in [0, 1], smoothed
    d   = Sobel(g) / 8                                 grey levels per pixel (x and y)
    |d| kept where it is a local maximum across the edge (non-maximum suppression, the
        gradient direction quantised to 0/45/90/135 degrees)
    stroke = hysteresis(|d| >= high, |d| >= low)       weak pixels kept when connected
                                                       (8-neighbours) to a strong one

The result is a 1-px wide line along each edge (2 px where a diagonal staircase touches
corners), like a thin pen. Thresholds are absolute (grey levels per pixel after the blur),
so flat or noisy-but-weak areas stay empty instead of being normalised up to strokes.
Tensor code on the batch's device except the hysteresis (connected components,
OpenCV on the CPU): it runs on a training batch in the objective, and on uint8 photos
through :func:`sketch_from_uint8`.

Convention: sketch ``(B,1,H,W)`` float32 in {0, 1}, 1 = stroke (uint8 files: white = stroke).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

# Chosen on the val photos at 128-256 px (docs/sketch_extraction.png, made by
# benchmarks/sketch_extraction.py): the main contours and strong texture lines, not grass.
SIGMA = 1.5
LOW = 0.03
HIGH = 0.07

_LUMA = (0.299, 0.587, 0.114)


def _gaussian_blur(grey: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian of ``sigma`` pixels (radius 3 sigma), reflected borders."""
    radius = max(1, math.ceil(3 * sigma))
    pos = torch.arange(-radius, radius + 1, dtype=grey.dtype, device=grey.device)
    kernel = torch.exp(-0.5 * (pos / sigma) ** 2)
    kernel = kernel / kernel.sum()
    pad = min(radius, grey.shape[-1] - 1, grey.shape[-2] - 1)
    if pad < radius:  # reflection needs the pad to be smaller than the side
        grey = F.pad(grey, (radius, radius, radius, radius), mode="replicate")
    else:
        grey = F.pad(grey, (radius, radius, radius, radius), mode="reflect")
    grey = F.conv2d(grey, kernel.view(1, 1, 1, -1))
    return F.conv2d(grey, kernel.view(1, 1, -1, 1))


def _sobel(grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dx, dy) in grey levels per pixel (Sobel / 8), replicated borders: no edge at the frame."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                      dtype=grey.dtype, device=grey.device) / 8.0
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    dx = F.conv2d(padded, kx.view(1, 1, 3, 3))
    dy = F.conv2d(padded, kx.t().contiguous().view(1, 1, 3, 3))
    return dx, dy


def _shift(t: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[y, x] = t[y + dy, x + dx]``, zero outside."""
    padded = F.pad(t, (1, 1, 1, 1))
    h, w = t.shape[-2:]
    return padded[..., 1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w]


def _non_max_suppression(mag: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """True where ``mag`` is a ridge across the edge. Ties (a step edge between two pixels
    gives them equal magnitudes) go to the pixel before the edge (> behind, >= ahead), so
    the line stays 1 px wide."""
    angle = torch.rad2deg(torch.atan2(dy, dx)) % 180.0
    sector = (((angle + 22.5) // 45.0) % 4).long()  # 0: horizontal gradient, 1: 45, 2: vertical, 3: 135
    keep = torch.zeros_like(mag, dtype=torch.bool)
    # the neighbour along +gradient for each sector (y down, so 45 degrees is (+1, +1))
    for s, (oy, ox) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):
        ahead, behind = _shift(mag, oy, ox), _shift(mag, -oy, -ox)
        keep |= (sector == s) & (mag >= ahead) & (mag > behind)
    return keep


def _hysteresis(strong: torch.Tensor, weak: torch.Tensor) -> torch.Tensor:
    """The 8-connected regions of ``weak`` that hold a ``strong`` pixel (OpenCV's labelling
    on the CPU: growing by max-pooling needs one pass per pixel of the longest chain)."""
    out = torch.zeros_like(weak)
    weak_np = weak[:, 0].cpu().numpy().astype(np.uint8)
    strong_np = (strong & weak)[:, 0].cpu().numpy()
    for i in range(weak_np.shape[0]):
        n, labels = cv2.connectedComponents(weak_np[i], connectivity=8)
        if n > 1:
            seeded = np.zeros(n, dtype=bool)
            seeded[labels[strong_np[i]]] = True
            seeded[0] = False  # the background
            out[i, 0] = torch.from_numpy(seeded[labels])
    return out


def extract_sketch(image: torch.Tensor, sigma: float = SIGMA, low: float = LOW,
                   high: float = HIGH) -> torch.Tensor:
    """Canny strokes of ``image`` (B,3,H,W) in [-1, 1] -> (B,1,H,W) float in {0, 1}.

    ``sigma``: Gaussian blur in pixels; ``low`` / ``high``: hysteresis thresholds on the
    gradient magnitude in grey levels (0..1) per pixel. No gradient flows through it."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"extract_sketch: expected (B,3,H,W), got {tuple(image.shape)}")
    if not 0 <= low <= high:
        raise ValueError(f"extract_sketch: need 0 <= low <= high, got {low}, {high}")
    with torch.no_grad():
        x = (image.float() + 1.0) * 0.5
        luma = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        grey = (x * luma).sum(dim=1, keepdim=True)  # (B,1,H,W)
        grey = _gaussian_blur(grey, sigma) if sigma > 0 else grey
        dx, dy = _sobel(grey)
        mag = torch.sqrt(dx * dx + dy * dy)
        ridge = _non_max_suppression(mag, dx, dy)
        strokes = _hysteresis(ridge & (mag >= high), ridge & (mag >= low))
    return strokes.to(image.dtype if image.is_floating_point() else torch.float32)


def sketch_from_uint8(image: np.ndarray, **kwargs: float) -> np.ndarray:
    """The sketch of one (H,W,3) uint8 RGB image as (H,W) uint8, 255 = stroke (the file
    convention of ``inpaintkit fill --sketch``)."""
    t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    return (extract_sketch(t, **kwargs)[0, 0].numpy() > 0.5).astype(np.uint8) * 255
