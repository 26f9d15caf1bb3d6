"""Region normalization (Yu et al., AAAI 2020, "Region Normalization for Image
Inpainting").

Region normalization splits the spatial positions into regions R^k (here two: the hole
and the known part, or the detected and the undetected part) and normalizes each region
with its own statistics::

    RN(x)[n,c,p] = (x[n,c,p] - mu^k[n,c]) / sqrt(var^k[n,c] + eps)     for p in R^k[n]
    mu^k[n,c]    = mean of x[n,c,p] over p in R^k[n]
    var^k[n,c]   = (biased) variance of x[n,c,p] over p in R^k[n]

Two ways of pooling the statistics, selected by ``mode``:

* ``"instance"`` (the paper's equations): per sample and channel. Independent of the
  other samples in the batch (train = eval, batch-size independent), but a region with
  few pixels (a tiny hole, or a hole that vanished after down-sampling) gets noisy
  statistics.
* ``"batch"`` (the official code, geekyutao/RN): per channel, pooled over the batch and
  the region's pixels of every sample, always from the current batch (no running
  averages, like ``BatchNorm2d(track_running_stats=False)``). Smoother statistics for
  small regions, but a sample's output depends on the rest of its batch; at batch size 1
  it equals ``"instance"``.

The official code gets its statistics through a ``BatchNorm2d`` on the region's values
with the rest filled by the region mean, rescaled by ``sqrt(|R| / N)`` (N = the pixels
pooled over: H*W per sample, B*H*W over a batch); algebraically that is the formula above
with eps replaced by ``eps * N / |R|``. ``stats="official"`` (a compatibility setting
for imported official weights, :mod:`inpaintkit.official.rn`) computes it that way, op
for op (``batch_norm`` / ``instance_norm`` of the mean-filled region, rescaled, the two
regions summed): the same float32 results as the official code, which matters because
RN-L thresholds a response computed from these features (a 1-ulp difference can move a
pixel across the threshold). The default ``"direct"`` uses the formula above with eps as
given (one pass over the regions, no filled copies).

An empty region contributes nothing (its mean and variance are set to 0 and it has no
pixels to write), so no NaN/Inf appears.

* :class:`RegionNormB` (basic RN): regions = hole / known from the input mask (resized to
  the feature size with nearest neighbour), followed by a per-region, per-channel affine
  ``gamma^k[c] * RN(x) + beta^k[c]`` initialised to the identity. The official code
  writes ``(1 + gamma) * RN(x) + beta`` with zero-initialised gamma: the same function,
  except that it adds *both* regions' betas at every pixel
  (``mask * ((1 + gamma^h) RN) + beta^h + (1 - mask) * ((1 + gamma^k) RN) + beta^k``);
  ``bias_mode="sum"`` (compatibility setting) reproduces that, the default
  ``"region"`` adds each region's own beta.
* :class:`RegionNormL` (learnable RN): a spatial response map
  ``s = sigmoid(conv7x7([mean_c(x); max_c(x)]))`` (B,1,H,W); regions = ``s >= t``
  (thresholded without gradient); region-normalize without affine; then the pixel-wise
  affine ``RN(x) * (1 + gamma(s)) + beta(s)`` with ``gamma``, ``beta`` 7x7 convs of ``s``
  (shared over channels), through which the detector conv receives its gradient.

Shapes: x (B, C, H, W); mask (B, 1, h, w) float, 1 = hole (any h, w). Output (B, C, H, W).
Statistics are computed in float32 whatever the input dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

RN_MODES = ("instance", "batch")
BIAS_MODES = ("region", "sum")
STATS = ("direct", "official")


def _check_mode(mode: str, stats: str = "direct") -> None:
    if mode not in RN_MODES:
        raise ValueError(f"region norm mode must be one of {RN_MODES}, got {mode!r}")
    if stats not in STATS:
        raise ValueError(f"region norm stats must be one of {STATS}, got {stats!r}")


def region_normalize(
    x: torch.Tensor,
    region: torch.Tensor,
    mode: str = "instance",
    eps: float = 1e-5,
    stats: str = "direct",
) -> torch.Tensor:
    """Normalize ``region`` (B,1,H,W in {0,1}) and its complement separately, no affine.

    ``mode`` as in the module docstring. ``region`` must already have x's spatial size.
    ``stats``: ``"direct"`` or ``"official"`` (the official arithmetic, module docstring).
    """
    _check_mode(mode, stats)
    if region.shape[-2:] != x.shape[-2:] or region.shape[1] != 1:
        raise ValueError(
            f"region_normalize: region {tuple(region.shape)} does not fit x {tuple(x.shape)}"
        )
    if stats == "official":
        return _official_normalize(x, region, mode, eps)
    b, c, h, w = x.shape
    # Regions as one-hot columns R (B, 2, HW): every per-region sum is then one small bmm
    # against R^T, and scattering per-region values back to pixels one bmm with R, exact
    # because R is one-hot. Float32 with autocast off: bmm would otherwise run in fp16.
    with torch.autocast(x.device.type, enabled=False):
        xf = x.float().reshape(b, c, h * w)
        r = (region > 0.5).float().expand(b, 1, h, w).reshape(b, 1, h * w)
        one_hot = torch.cat([r, 1.0 - r], dim=1)  # (B, 2, HW)
        cols = one_hot.transpose(1, 2)  # (B, HW, 2)
        count = one_hot.sum(-1, keepdim=True).transpose(1, 2)  # (B, 1, 2)
        sums = torch.bmm(xf, cols)  # (B, C, 2)
        if mode == "batch":
            count, sums = count.sum(0, keepdim=True), sums.sum(0, keepdim=True)
        # An empty region has count 0: dividing by 1 instead gives mean = var = 0, finite,
        # and the region has no pixel to receive the (large) 1/sqrt(eps).
        count = count.clamp_min(1.0)
        mean = (sums / count).expand(b, c, 2)
        centred = xf - torch.bmm(mean, one_hot)
        var = torch.bmm(centred.square(), cols)
        if mode == "batch":
            var = var.sum(0, keepdim=True)
        inv_std = torch.rsqrt(var / count + eps).expand(b, c, 2)
        out = centred * torch.bmm(inv_std, one_hot)
    return out.reshape(b, c, h, w).to(x.dtype)


def _official_normalize(x: torch.Tensor, region: torch.Tensor, mode: str, eps: float) -> torch.Tensor:
    """The official arithmetic: per region R (then its complement), the values in R with
    the rest set to R's mean, normalized by batch (or instance) statistics, times
    sqrt(|R| / N); the two results summed. The mean fill makes the statistics' mean R's
    mean and their variance |R| / N times R's variance."""
    dims = (0, 2, 3) if mode == "batch" else (2, 3)
    with torch.autocast(x.device.type, enabled=False):
        xf = x.float()
        inside = (region > 0.5).float().expand_as(xf)
        pooled = inside[:1, :1].numel() * (xf.shape[0] if mode == "batch" else 1)
        out = None
        for m in (inside, 1.0 - inside):
            part = xf * m
            count = m.sum(dims, keepdim=True)
            count = torch.where(count == 0, torch.ones_like(count), count)  # empty: all zeros
            filled = part + (1.0 - m) * (part.sum(dims, keepdim=True) / count)
            if mode == "batch":
                normed = F.batch_norm(filled, None, None, training=True, eps=eps)
            else:
                normed = F.instance_norm(filled, eps=eps)
            term = normed * torch.sqrt(count / pooled)
            out = term if out is None else out + term
    return out.to(x.dtype)


def resize_mask(mask: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """(B,1,h,w) hole mask -> binary (B,1,*size), nearest neighbour (as the official RN)."""
    if mask.shape[-2:] != tuple(size):
        mask = F.interpolate(mask.float(), size=tuple(size), mode="nearest")
    return (mask > 0.5).float()


class RegionNormB(nn.Module):
    """Basic region normalization: hole and known regions from the input hole mask.

    Args:
        channels: C.
        mode: ``"instance"`` (paper, default) or ``"batch"`` (official code); see module doc.
        eps: added to the variance.
        affine: learn separate per-channel (gamma, beta) for the hole and the known region,
            initialised to (1, 0) so the layer starts as pure normalization.
        stats: ``"direct"`` or ``"official"`` (compatibility: module docstring).
        bias_mode: ``"region"`` (each region's beta) or ``"sum"`` (the official code:
            hole beta + known beta at every pixel).
    """

    def __init__(
        self,
        channels: int,
        mode: str = "instance",
        eps: float = 1e-5,
        affine: bool = True,
        stats: str = "direct",
        bias_mode: str = "region",
    ) -> None:
        super().__init__()
        _check_mode(mode, stats)
        if bias_mode not in BIAS_MODES:
            raise ValueError(f"RegionNormB bias_mode must be one of {BIAS_MODES}, got {bias_mode!r}")
        self.channels = channels
        self.mode = mode
        self.eps = eps
        self.affine = affine
        self.stats = stats
        self.bias_mode = bias_mode
        if affine:
            self.hole_weight = nn.Parameter(torch.ones(channels))
            self.hole_bias = nn.Parameter(torch.zeros(channels))
            self.known_weight = nn.Parameter(torch.ones(channels))
            self.known_bias = nn.Parameter(torch.zeros(channels))

    def extra_repr(self) -> str:
        compat = f", stats={self.stats}, bias_mode={self.bias_mode}" if self.stats != "direct" else ""
        return f"{self.channels}, mode={self.mode}, eps={self.eps}, affine={self.affine}{compat}"

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (B,C,H,W); mask: (B,1,h,w) hole mask (1 = hole), resized to (H,W)."""
        if mask is None:
            raise ValueError("RegionNormB needs the hole mask")
        hole = resize_mask(mask.detach(), x.shape[-2:]).to(x.device)
        out = region_normalize(x, hole, self.mode, self.eps, self.stats)
        if not self.affine:
            return out
        params = (self.hole_weight, self.hole_bias, self.known_weight, self.known_bias)
        hw, hb, kw, kb = (p.view(1, -1, 1, 1).to(out.dtype) for p in params)
        if self.bias_mode == "sum":
            # The official expression in its order of operations (bit-identical results):
            # both betas reach every pixel.
            hole = hole.to(out.dtype)
            return ((out * hole) * hw + hb) + ((out * (1.0 - hole)) * kw + kb)
        in_hole = hole > 0.5
        return out * torch.where(in_hole, hw, kw) + torch.where(in_hole, hb, kb)


class RegionNormL(nn.Module):
    """Learnable region normalization: regions found by a spatial response map.

    Args:
        channels: C (kept for a uniform constructor; the layer has no per-channel weights).
        threshold: t; pixels with response >= t form one region, the rest the other.
        mode, eps: as :class:`RegionNormB`.
        kernel_size: of the detector and affine convs (7 in the paper, 3 allowed).
        stats: ``"direct"`` or ``"official"`` (compatibility: module docstring).

    ``forward(x, mask=None)``: the mask argument is accepted and ignored so that every norm
    layer has the same signature. :meth:`response` gives the map itself (for visualisation).
    """

    def __init__(
        self,
        channels: int,
        threshold: float = 0.8,
        mode: str = "instance",
        eps: float = 1e-5,
        kernel_size: int = 7,
        stats: str = "direct",
    ) -> None:
        super().__init__()
        _check_mode(mode, stats)
        self.stats = stats
        if kernel_size not in (3, 7):
            raise ValueError(f"RegionNormL kernel_size must be 3 or 7, got {kernel_size}")
        pad = kernel_size // 2
        self.channels = channels
        self.threshold = threshold
        self.mode = mode
        self.eps = eps
        self.detector = nn.Conv2d(2, 1, kernel_size, padding=pad, bias=False)
        self.gamma_conv = nn.Conv2d(1, 1, kernel_size, padding=pad)
        self.beta_conv = nn.Conv2d(1, 1, kernel_size, padding=pad)

    def extra_repr(self) -> str:
        compat = f", stats={self.stats}" if self.stats != "direct" else ""
        return f"{self.channels}, threshold={self.threshold}, mode={self.mode}, eps={self.eps}{compat}"

    def response(self, x: torch.Tensor) -> torch.Tensor:
        """Spatial response map in (0, 1), (B,1,H,W)."""
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return torch.sigmoid(self.detector(pooled))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        s = self.response(x)
        # The threshold is a step function: the detector learns through gamma/beta only.
        region = (s.detach() >= self.threshold).to(x.dtype)
        out = region_normalize(x, region, self.mode, self.eps, self.stats)
        return out * (1.0 + self.gamma_conv(s)) + self.beta_conv(s)
