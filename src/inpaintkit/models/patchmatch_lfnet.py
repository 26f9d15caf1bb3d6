"""``patchmatch_lfnet``: PatchMatch's texture with *learned* low frequencies.

Why this model exists (README "Default model"): a fill is judged on accuracy (PSNR) and on
realism (the hole patch SWD of :mod:`inpaintkit.metrics.realism`, which reads only the two
finest Laplacian bands). PatchMatch (Barnes et al. 2009) copies real texture into the hole,
so its fine bands look right, but the colour and shading it copies are often off; those
live in the coarse bands, which carry most of the squared error and none of the realism
metric. ``patchmatch_lf`` replaces them with ``smooth``'s, a fixed guess. This network
learns the correction instead, from the masked image and three classical fills, and adds
it to PatchMatch only at coarse scales, so the texture stays PatchMatch's:

    s       = AvgPool_f([x, m, pm, smooth, telea, smooth - pm, A_5(m'), A_9(m')])
                                                   (B, 18, H/f, W/f), m' = AvgPool_f(m)
    c       = U(s)                                 (B, 3, H/f, W/f), a small U-Net
    delta   = pyrUp^{log2 f}(c)                    (B, 3, H, W), binomial 5x5 upsampling
    refined = clamp(pm + m * delta, -1, 1)

``x`` the masked image, ``m`` the hole (1 = hole), ``A_k`` a k x k box mean (how deep in the
hole a cell is), ``pm``/``smooth``/``telea`` the classical fills of
:mod:`inpaintkit.models.classical` given as the ``coarse`` input (B, 9, H, W) in [-1, 1],
PatchMatch first. ``U``: a 3x3 conv at H/f, two stride-2 convs to H/4f, residual dilated
convs (dilation 2, 4, 8: the receptive field spans about 3/4 of a 256 px image), then
bilinear upsampling with skip connections back to H/f and a zero-initialised output conv,
so an untrained network *is* PatchMatch. The correction is built by OpenCV's ``pyrUp``
kernel (the metric's own), so it has almost no energy in the bands the realism metric reads.

Training objective (``method: lowfreq``): the mean over the batch of ``log MSE`` of the
composited image, i.e. the mean PSNR the evaluation reports, with no adversarial term (the
fine texture is PatchMatch's; the network cannot change it).

Shapes: image (B,3,H,W), mask (B,1,H,W), coarse (B,9,H,W); H and W divisible by
``4 * factor``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.conventions import masked_input
from inpaintkit.layers.pyramid import PyrUp
from inpaintkit.models.base import InpaintModel


@dataclass(frozen=True)
class PatchMatchLFNetConfig:
    """coarse: the classical fills given as input, the base first (the correction is added
    to it); factor: the network works at 1/factor resolution (a power of two >= 2); width:
    channels at that resolution (twice as many at the coarser ones)."""

    coarse: str = "patchmatch+smooth+telea"
    factor: int = 4
    width: int = 48

    def __post_init__(self) -> None:
        if len(set(self.coarse.split("+"))) != 3:  # the names are checked where the fills are made
            raise ValueError(f"PatchMatchLFNetConfig: coarse needs three distinct fills joined by '+', "
                             f"got '{self.coarse}'")
        if self.factor < 2 or self.factor & (self.factor - 1):
            raise ValueError(f"PatchMatchLFNetConfig: factor must be a power of two >= 2, got {self.factor}")
        if self.width < 1:
            raise ValueError(f"PatchMatchLFNetConfig: width must be >= 1, got {self.width}")


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation)


class PatchMatchLFNet(InpaintModel):
    """The ``patchmatch_lfnet`` generator (module docstring)."""

    config_class: ClassVar[type] = PatchMatchLFNetConfig
    tiny: ClassVar[dict] = {"width": 8}
    IN_CHANNELS: ClassVar[int] = 18

    def __init__(self, config: PatchMatchLFNetConfig) -> None:
        super().__init__(config)
        w = config.width
        self.enc1 = _conv(self.IN_CHANNELS, w)  # H/f
        self.enc2 = _conv(w, 2 * w, stride=2)  # H/2f
        self.enc3 = _conv(2 * w, 2 * w, stride=2)  # H/4f
        self.middle = nn.ModuleList(_conv(2 * w, 2 * w, dilation=d) for d in (2, 4, 8))
        self.dec2 = _conv(4 * w, 2 * w)  # H/2f, after the skip from enc2
        self.dec1 = _conv(3 * w, w)  # H/f, after the skip from enc1
        self.out = _conv(w, 3)
        nn.init.zeros_(self.out.weight)  # untrained = the PatchMatch fill, exactly
        nn.init.zeros_(self.out.bias)
        self.pyr_up = PyrUp(3)

    @property
    def multiple(self) -> int:
        return 4 * self.config.factor

    @property
    def coarse_input(self) -> str | None:
        return self.config.coarse

    @property
    def native_size(self) -> int | None:
        # PatchMatch's (classical.PatchMatch): the Inpainter's crop windows of a large photo
        # run at full resolution up to 512 px, so the copied texture is not upscaled.
        return 512

    def _features(self, image: torch.Tensor, mask: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        base, second = coarse[:, :3], coarse[:, 3:6]
        full = torch.cat([masked_input(image, mask), mask, coarse, second - base], dim=1)  # (B,16,H,W)
        small = F.avg_pool2d(full, self.config.factor)  # (B,16,H/f,W/f)
        hole = small[:, 3:4]  # each cell's hole fraction
        depth = [F.avg_pool2d(hole, k, stride=1, padding=k // 2, count_include_pad=False) for k in (5, 9)]
        return torch.cat([small, *depth], dim=1)  # (B,18,H/f,W/f)

    def correction(self, image: torch.Tensor, mask: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """``delta`` of the module docstring: (B,3,H,W), before the hole mask."""
        s = self._features(image, mask, coarse)
        a = F.gelu(self.enc1(s))  # (B,w,H/f,W/f)
        b = F.gelu(self.enc2(a))  # (B,2w,H/2f,W/2f)
        c = F.gelu(self.enc3(b))  # (B,2w,H/4f,W/4f)
        for layer in self.middle:
            c = c + F.gelu(layer(c))
        c = F.interpolate(c, size=b.shape[-2:], mode="bilinear", align_corners=False)
        b = F.gelu(self.dec2(torch.cat([b, c], dim=1)))  # (B,2w,H/2f,W/2f)
        b = F.interpolate(b, size=a.shape[-2:], mode="bilinear", align_corners=False)
        delta = self.out(F.gelu(self.dec1(torch.cat([a, b], dim=1))))  # (B,3,H/f,W/f)
        for _ in range(int(math.log2(self.config.factor))):
            delta = self.pyr_up(delta)
        return delta  # (B,3,H,W)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, coarse: torch.Tensor | None = None) -> torch.Tensor:
        """image (B,3,H,W) in [-1,1], mask (B,1,H,W) 1 = hole, coarse (B,9,H,W): the fills
        of ``config.coarse`` -> the refined fill (B,3,H,W) in [-1,1], not composited."""
        h, w = image.shape[-2:]
        if not torch.jit.is_tracing() and (h % self.multiple or w % self.multiple):
            raise ValueError(f"PatchMatchLFNet: image size {h}x{w} is not divisible by {self.multiple}")
        self.check_extra_inputs(image, coarse, None)
        coarse = coarse.to(image.dtype)
        return (coarse[:, :3] + mask * self.correction(image, mask, coarse)).clamp(-1.0, 1.0)

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, generator: torch.Generator | None = None,
                *, coarse: torch.Tensor | None = None, sketch: torch.Tensor | None = None) -> torch.Tensor:
        """The refined fill (B,3,H,W) in [-1,1]; deterministic (``generator`` unused)."""
        self.check_extra_inputs(image, coarse, sketch)
        return self.forward(image, mask, coarse)
