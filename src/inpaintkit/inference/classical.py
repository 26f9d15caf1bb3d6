"""Classical (non-learned) inpainting behind the generator protocol: ``telea``, ``ns``
and ``smooth`` (the fills themselves, with references, are in :mod:`inpaintkit.classical`).

:class:`ClassicalInpainter` follows the generator protocol of
:mod:`inpaintkit.models.base` (``inpaint(image (B,3,H,W) in [-1,1], mask (B,1,H,W)) ->
(B,3,H,W)``, ``multiple = 1``) so that it can stand wherever a neural model stands, and
adds :meth:`ClassicalInpainter.inpaint_array`, a fast path on uint8 arrays that skips the
float round trip (the :class:`~inpaintkit.inference.Inpainter` uses it).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from inpaintkit.classical import CLASSICAL_METHODS, classical_fill
from inpaintkit.errors import InpaintError
from inpaintkit.models.base import InpaintModel

METHODS = CLASSICAL_METHODS


@dataclasses.dataclass(frozen=True)
class ClassicalConfig:
    method: str = "telea"
    radius: int = 3


class ClassicalInpainter(InpaintModel):
    """OpenCV inpainting behind the generator protocol (no parameters, deterministic)."""

    config_class = ClassicalConfig
    pluralistic = False
    stochastic = False

    def __init__(self, method: str = "telea", radius: int = 3) -> None:
        if method not in METHODS:
            raise InpaintError(f"unknown classical method '{method}' (known: {', '.join(METHODS)})")
        if radius < 1:
            raise InpaintError(f"inpainting radius must be >= 1, got {radius}")
        super().__init__(ClassicalConfig(method=method, radius=int(radius)))
        self.method = method
        self.radius = int(radius)

    @property
    def multiple(self) -> int:
        return 1

    @property
    def name(self) -> str:
        return self.method

    def extra_repr(self) -> str:
        return f"method={self.method}, radius={self.radius}"

    def inpaint_array(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """(H,W,3) uint8 + (H,W) bool (True = hole) -> (H,W,3) uint8.

        OpenCV treats the three channels independently, so RGB vs BGR order is irrelevant.
        Known pixels come back unchanged (cv2.inpaint only writes inside the mask).
        """
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InpaintError(f"expected an (H,W,3) uint8 image, got {image.shape} {image.dtype}")
        if mask.shape != image.shape[:2]:
            raise InpaintError(f"mask is {mask.shape[::-1]} but image is {image.shape[1::-1]}")
        hole = np.ascontiguousarray((np.asarray(mask) > 0).astype(np.uint8) * 255)
        if not hole.any():
            return image.copy()
        return classical_fill(np.ascontiguousarray(image), hole, self.method, self.radius)

    def inpaint(
        self, image: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """(B,3,H,W) in [-1,1] + (B,1,H,W) -> (B,3,H,W) in [-1,1]; ``generator`` is unused.

        Each sample is quantised to uint8 (OpenCV works on 8-bit images), inpainted and
        converted back, so known pixels come back exactly only for uint8-valued inputs.
        """
        if image.ndim != 4 or image.shape[1] != 3 or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"expected image (B,3,H,W) and mask (B,1,H,W), got {tuple(image.shape)} "
                f"and {tuple(mask.shape)}"
            )
        arrays = ((image.detach().float().cpu() + 1.0) * 127.5).round().clamp(0, 255)
        arrays = arrays.to(torch.uint8).permute(0, 2, 3, 1).numpy()
        holes = (mask.detach().cpu().reshape(mask.shape[0], *mask.shape[-2:]) > 0.5).numpy()
        out = np.stack([self.inpaint_array(a, h) for a, h in zip(arrays, holes, strict=True)])
        result = torch.from_numpy(out).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return result.to(image.device)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.inpaint(image, mask)
