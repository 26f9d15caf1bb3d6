"""PIC-Net's residual building blocks (generator, discriminator, attention merge).

Zheng, Cham, Cai, "Pluralistic Image Completion", CVPR 2019 (arXiv:1903.04227); the
official blocks are ``ResBlock``, ``ResBlockEncoderOptimized``, ``ResBlockDecoder`` and
``Output`` in lyndonzheng/Pluralistic-Inpainting (model/base_function.py). a = LeakyReLU
with the given slope, every conv optionally spectral-normalised (Miyato et al. 2018):

* :class:`ResBlock`   x (B,C_in,H,W) -> conv3(a(conv3(a(x)))) + conv1(x)  (B,C_out,H,W),
  then 2x average pooling when ``down`` (B,C_out,H/2,W/2) (``pool_each``: each branch pooled
  before the sum, the official order);
* :class:`FirstBlock` x (B,C_in,H,W) -> pool(conv3(a(conv3(x)))) + conv1(pool(x))
  (B,C_out,H/2,W/2): no activation on the raw image;
* :class:`UpBlock`    x (B,C_in,H,W) -> convT(a([IN] conv3(a([IN] x)))) + convT(x)
  (B,C_out,2H,2W), convT = 3x3 transposed conv, stride 2 (IN = affine instance norm);
* :func:`to_rgb`      x (B,C,H,W) -> tanh(conv3(reflect_pad(a(x))))  (B,3,H,W) in [-1,1];
* :func:`pic_widths`  the channel schedule base * min(2^i, cap / base).

Spectral norm (``sn``): ``False`` none; ``True`` torch's parametrization (our default:
W (C_out, rest) for convs, (C_out, C_in*k*k) for transposed convs too, u then v, no power
iteration in eval mode); ``"official"`` :class:`OfficialSpectralNorm`, the arithmetic of
the official ``SpectralNorm`` wrapper (model/external_function.py), for imported weights:
W is always flattened along dim 0 (so a transposed conv's matrix is (C_in, C_out*k*k)),
each forward runs n power-iteration steps from the stored (u, v),

    v <- W^T u / (|W^T u| + 1e-12),  u <- W v / (|W v| + 1e-12),  sigma = u . W v,

and convolves with W / sigma. The official wrapper does one step per forward in train and
eval mode alike and keeps the new (u, v); here training keeps them too, while eval mode
leaves the stored vectors alone and runs ``iterations`` steps from them (see
:func:`power_iterations`), so an imported model gives the same output for the same seed
every time and can still reproduce the k-th forward after loading, as the official test
computes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


class OfficialSpectralNorm(nn.Module):
    """The official ``SpectralNorm`` wrapper's arithmetic (see the module docstring).

    The wrapped conv keeps its bias; the raw weight ``weight_bar`` and the power-iteration
    vectors ``weight_u`` (C_0,), ``weight_v`` (numel / C_0,) are registered on it, so the
    state dict keys are ``<name>.module.{bias,weight_bar,weight_u,weight_v}`` as in the
    official files. ``iterations``: power-iteration steps per forward (official: 1).
    """

    def __init__(self, module: nn.Module, eps: float = 1e-12) -> None:
        super().__init__()
        if not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            raise TypeError(f"OfficialSpectralNorm wraps Conv2d / ConvTranspose2d, got {type(module).__name__}")
        weight = module.weight.detach().clone()
        del module._parameters["weight"]
        rows = weight.shape[0]
        u, v = torch.randn(rows), torch.randn(weight.numel() // rows)
        module.register_parameter("weight_bar", nn.Parameter(weight))
        module.register_buffer("weight_u", u / (u.norm() + eps))
        module.register_buffer("weight_v", v / (v.norm() + eps))
        self.module = module
        self.eps = eps
        self.iterations = 1

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x / (x.norm() + self.eps)

    def normalized_weight(self) -> torch.Tensor:
        """W / sigma after ``iterations`` steps from the stored (u, v); training stores them."""
        m = self.module
        w = m.weight_bar
        rows = w.shape[0]
        u, v = m.weight_u, m.weight_v
        with torch.no_grad():
            # The same calls as the official code (mv of the transposed view, norm + eps)
            # so the float rounding matches too.
            for _ in range(self.iterations):
                v = self._normalize(torch.mv(torch.t(w.view(rows, -1).detach()), u))
                u = self._normalize(torch.mv(w.view(rows, -1).detach(), v))
            if self.training and self.iterations:
                m.weight_u.copy_(u)
                m.weight_v.copy_(v)
        sigma = u.dot(w.view(rows, -1).mv(v))
        return w / sigma.expand_as(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The conv called with W / sigma directly (the official wrapper stores it on the
        # module; a non-leaf attribute would break deepcopy, e.g. of the EMA copy).
        m, w = self.module, self.normalized_weight()
        if isinstance(m, nn.ConvTranspose2d):
            return F.conv_transpose2d(x, w, m.bias, m.stride, m.padding, m.output_padding, m.groups, m.dilation)
        return m._conv_forward(x, w, m.bias)


@contextlib.contextmanager
def power_iterations(module: nn.Module, n: int) -> Iterator[None]:
    """Run every :class:`OfficialSpectralNorm` inside ``module`` with ``n`` steps per
    forward for the duration (the official test's k-th generator call after loading has
    done k steps); restores the previous counts after."""
    layers = [m for m in module.modules() if isinstance(m, OfficialSpectralNorm)]
    before = [m.iterations for m in layers]
    for m in layers:
        m.iterations = n
    try:
        yield
    finally:
        for m, k in zip(layers, before, strict=True):
            m.iterations = k


def maybe_spectral_norm(module: nn.Module, enabled: bool | str) -> nn.Module:
    """``module`` with spectral normalisation on its weight: ``True`` torch's,
    ``"official"`` :class:`OfficialSpectralNorm`, ``False`` none."""
    if enabled == "official":
        return OfficialSpectralNorm(module)
    if isinstance(enabled, str):
        raise ValueError(f"spectral norm must be True, False or 'official', got {enabled!r}")
    return _spectral_norm(module) if enabled else module


def pic_widths(base: int, cap: int, n: int) -> list[int]:
    """base * min(2^i, cap // base) for i < n: the official channel schedule."""
    return [base * min(2**i, cap // base) for i in range(n)]


class ResBlock(nn.Module):
    """Pre-activation residual block without normalisation (E, D and the attention merge).

    cin -> hidden -> cout through two 3x3 convs, 1x1 conv shortcut; ``down`` pools by 2.
    """

    def __init__(self, cin: int, cout: int, hidden: int, slope: float, sn: bool | str,
                 down: bool = False, pool_each: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(slope), maybe_spectral_norm(nn.Conv2d(cin, hidden, 3, padding=1), sn),
            nn.LeakyReLU(slope), maybe_spectral_norm(nn.Conv2d(hidden, cout, 3, padding=1), sn),
        )
        self.shortcut = maybe_spectral_norm(nn.Conv2d(cin, cout, 1), sn)
        self.down = down
        self.pool_each = pool_each

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down and self.pool_each:  # the official order: pool each branch, then add
            return F.avg_pool2d(self.body(x), 2) + F.avg_pool2d(self.shortcut(x), 2)
        out = self.body(x) + self.shortcut(x)
        # Pooling the sum equals pool(body) + pool(shortcut) up to float rounding (~1e-7).
        return F.avg_pool2d(out, 2) if self.down else out


class FirstBlock(nn.Module):
    """conv act conv pool (+ pool 1x1 shortcut): the first, downsampling block."""

    def __init__(self, cin: int, cout: int, slope: float, sn: bool | str) -> None:
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

    def __init__(self, cin: int, cout: int, slope: float, sn: bool | str, norm: bool) -> None:
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


def to_rgb(cin: int, slope: float, sn: bool | str) -> nn.Module:
    """The output head: act, reflection pad, 3x3 conv to 3 channels, tanh."""
    return nn.Sequential(nn.LeakyReLU(slope), nn.ReflectionPad2d(1),
                         maybe_spectral_norm(nn.Conv2d(cin, 3, 3), sn), nn.Tanh())


__all__ = [
    "FirstBlock", "OfficialSpectralNorm", "ResBlock", "UpBlock", "maybe_spectral_norm", "pic_widths",
    "power_iterations", "to_rgb",
]
