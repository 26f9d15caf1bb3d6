"""Gaussian / Laplacian pyramids in torch, with OpenCV's kernel (Burt & Adelson 1983).

``pyr_down``: blur with the 5x5 binomial kernel ``k k^T``, ``k = [1,4,6,4,1] / 16``
(reflect-101 borders, as ``cv2.pyrDown``), keep the even pixels: (B,C,H,W) ->
(B,C,ceil(H/2),ceil(W/2)). ``pyr_up``: insert zeros, blur with ``4 k k^T``: (B,C,h,w) ->
(B,C,2h,2w), ``cv2.pyrUp`` away from the outer two pixels (replicated borders here).
``laplacian_bands``: ``L_l = G_l - pyr_up(G_{l+1})`` cropped to ``G_l``'s size, the bands
the hole realism metric (:mod:`inpaintkit.metrics.realism`) compares.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def _kernel(x: torch.Tensor, gain: float) -> torch.Tensor:
    k1 = torch.tensor(_BINOMIAL, dtype=x.dtype, device=x.device) / 16.0
    return (gain * k1[:, None] * k1[None, :]).expand(x.shape[1], 1, 5, 5).contiguous()


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """(B,C,H,W) -> (B,C,ceil(H/2),ceil(W/2)), as ``cv2.pyrDown`` (H, W >= 3)."""
    blurred = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), _kernel(x, 1.0), groups=x.shape[1])
    return blurred[..., ::2, ::2]


def pyr_up(x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
    """(B,C,h,w) -> (B,C,2h,2w), as ``cv2.pyrUp`` except the outer two pixels. ``kernel``:
    the (C,1,5,5) kernel when the caller holds it (:class:`PyrUp`: a fixed shape that ONNX
    export can trace); None builds it."""
    if kernel is None:
        kernel = _kernel(x, 4.0)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")  # (B,C,h+2,w+2)
    # conv_transpose puts padded[j]'s kernel centre at 2j + 2, so x[i] lands at 2i + 4.
    up = F.conv_transpose2d(padded, kernel, stride=2, groups=kernel.shape[0])  # (B,C,2h+7,2w+7)
    return up[..., 4 : 4 + 2 * x.shape[-2], 4 : 4 + 2 * x.shape[-1]]


class PyrUp(nn.Module):
    """:func:`pyr_up` for ``channels`` channels, its kernel a (non-persistent) buffer."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("kernel", _kernel(torch.empty(1, channels), 4.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pyr_up(x, self.kernel)


def laplacian_bands(x: torch.Tensor, levels: int = 2) -> list[torch.Tensor]:
    """The ``levels`` finest Laplacian bands of (B,C,H,W): [(B,C,H,W), (B,C,ceil(H/2),..), ...]."""
    bands, g = [], x
    for _ in range(levels):
        smaller = pyr_down(g)
        bands.append(g - pyr_up(smaller)[..., : g.shape[-2], : g.shape[-1]])
        g = smaller
    return bands


__all__ = ["PyrUp", "laplacian_bands", "pyr_down", "pyr_up"]
