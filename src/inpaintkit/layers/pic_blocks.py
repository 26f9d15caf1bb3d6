"""PIC-Net's residual building blocks (generator, discriminator, attention merge).

Zheng, Cham, Cai, "Pluralistic Image Completion", CVPR 2019 (arXiv:1903.04227); the
official blocks are ``ResBlock``, ``ResBlockEncoderOptimized``, ``ResBlockDecoder`` and
``Output`` in lyndonzheng/Pluralistic-Inpainting (model/base_function.py). a = LeakyReLU
with the given slope, every conv optionally spectral-normalised (Miyato et al. 2018):

* :class:`ResBlock`   x (B,C_in,H,W) -> conv3(a(conv3(a(x)))) + conv1(x)  (B,C_out,H,W),
  then 2x average pooling when ``down`` (B,C_out,H/2,W/2);
* :class:`FirstBlock` x (B,C_in,H,W) -> pool(conv3(a(conv3(x)))) + conv1(pool(x))
  (B,C_out,H/2,W/2): no activation on the raw image;
* :class:`UpBlock`    x (B,C_in,H,W) -> convT(a([IN] conv3(a([IN] x)))) + convT(x)
  (B,C_out,2H,2W), convT = 3x3 transposed conv, stride 2 (IN = affine instance norm);
* :func:`to_rgb`      x (B,C,H,W) -> tanh(conv3(reflect_pad(a(x))))  (B,3,H,W) in [-1,1];
* :func:`pic_widths`  the channel schedule base * min(2^i, cap / base).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """``module`` with spectral normalisation on its weight when ``enabled``."""
    return _spectral_norm(module) if enabled else module


def pic_widths(base: int, cap: int, n: int) -> list[int]:
    """base * min(2^i, cap // base) for i < n: the official channel schedule."""
    return [base * min(2**i, cap // base) for i in range(n)]


class ResBlock(nn.Module):
    """Pre-activation residual block without normalisation (E, D and the attention merge).

    cin -> hidden -> cout through two 3x3 convs, 1x1 conv shortcut; ``down`` pools by 2.
    """

    def __init__(self, cin: int, cout: int, hidden: int, slope: float, sn: bool,
                 down: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(slope), maybe_spectral_norm(nn.Conv2d(cin, hidden, 3, padding=1), sn),
            nn.LeakyReLU(slope), maybe_spectral_norm(nn.Conv2d(hidden, cout, 3, padding=1), sn),
        )
        self.shortcut = maybe_spectral_norm(nn.Conv2d(cin, cout, 1), sn)
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x) + self.shortcut(x)
        # Pooling the sum equals the official pool(body) + pool(shortcut): it is linear.
        return F.avg_pool2d(out, 2) if self.down else out


class FirstBlock(nn.Module):
    """conv act conv pool (+ pool 1x1 shortcut): the first, downsampling block."""

    def __init__(self, cin: int, cout: int, slope: float, sn: bool) -> None:
        super().__init__()
        self.body = nn.Sequential(
            maybe_spectral_norm(nn.Conv2d(cin, cout, 3, padding=1), sn),
            nn.LeakyReLU(slope),
            maybe_spectral_norm(nn.Conv2d(cout, cout, 3, padding=1), sn),
            nn.AvgPool2d(2),
        )
        self.shortcut = nn.Sequential(nn.AvgPool2d(2),
                                      maybe_spectral_norm(nn.Conv2d(cin, cout, 1), sn))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class UpBlock(nn.Module):
    """[norm] act conv3x3 [norm] act convT3x3/2 (+ convT3x3/2 shortcut): 2x upsampling."""

    def __init__(self, cin: int, cout: int, slope: float, sn: bool, norm: bool) -> None:
        super().__init__()

        def up(a: int, b: int) -> nn.Module:
            conv = nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=1)
            return maybe_spectral_norm(conv, sn)

        layers: list[nn.Module] = []
        if norm:
            layers.append(nn.InstanceNorm2d(cin, affine=True))
        layers += [nn.LeakyReLU(slope), maybe_spectral_norm(nn.Conv2d(cin, cout, 3, padding=1), sn)]
        if norm:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
        layers += [nn.LeakyReLU(slope), up(cout, cout)]
        self.body = nn.Sequential(*layers)
        self.shortcut = up(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def to_rgb(cin: int, slope: float, sn: bool) -> nn.Module:
    """The output head: act, reflection pad, 3x3 conv to 3 channels, tanh."""
    return nn.Sequential(nn.LeakyReLU(slope), nn.ReflectionPad2d(1),
                         maybe_spectral_norm(nn.Conv2d(cin, 3, 3), sn), nn.Tanh())


__all__ = ["FirstBlock", "ResBlock", "UpBlock", "maybe_spectral_norm", "pic_widths", "to_rgb"]
