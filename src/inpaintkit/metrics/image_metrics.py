"""Full-reference image metrics of the inpainting papers: PSNR, SSIM and L1.

All three take two batches ``(B, C, H, W)`` (C is 3 for RGB) and return one value per
image, shape ``(B,)``, float64. Inputs are either

* ``torch.uint8`` tensors holding 0..255 pixel values, used as they are, or
* floating tensors in [-1, 1] (the project convention), mapped to 0..255 by
  ``(x + 1) * 127.5`` and, with ``quantize=True`` (the default), rounded and clipped to
  integers exactly as :func:`inpaintkit.conventions.tensor_to_image` does. The papers
  (partial convolutions, Liu et al. 2018; region normalization, Yu et al. 2020) score the
  saved 8-bit images, so the default reproduces that; ``quantize=False`` scores the raw
  float values (useful for quick validation during training).

Every metric is computed on 0..255 values with data range R = 255 (PSNR and L1 in float64;
SSIM filters in float32 after centring, within 1e-5 of scikit-image's float64):

* PSNR  = 10 log10(R^2 / MSE), MSE the mean over all pixels and channels of one image.
  Identical images give ``inf`` (as scikit-image); ``max_db`` caps it.
* SSIM  (Wang et al. 2004) with an 11x11 gaussian window, sigma 1.5, population
  covariances, K1 = 0.01, K2 = 0.03: per channel the SSIM map
  ``(2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2))``,
  averaged over the pixels at least 5 px from the border and over channels. This is
  ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, channel_axis=-1, data_range=255)``: scikit-image filters the
  whole image and then drops the 5-px border, so only valid (unpadded) windows count,
  which is what the valid convolution here computes directly.
* L1    = 100 * mean |a - b| / 255: mean absolute error in percent of the range, over the
  whole image and all channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DATA_RANGE = 255.0
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # int(3.5 * 1.5 + 0.5): scikit-image's truncate=3.5 gives an 11-tap window
SSIM_K1 = 0.01
SSIM_K2 = 0.03
_SSIM_CHUNK_PIXELS = 1 << 16


def to_pixels(x: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """A uint8 or [-1, 1] float batch as float64 0..255 values (see the module docstring)."""
    if x.dtype == torch.uint8:
        return x.to(torch.float64)
    if not x.is_floating_point():
        raise TypeError(f"expected a uint8 or floating tensor, got {x.dtype}")
    if not quantize:
        return (x.detach().to(torch.float64) + 1.0) * 127.5
    # float32 arithmetic on purpose: the same rounding as conventions.tensor_to_image, so a
    # metric on a tensor equals the metric on the image file written from it.
    y = ((x.detach().float() + 1.0) * 127.5).round().clamp(0.0, 255.0)
    return y.to(torch.float64)


def _pair(pred: torch.Tensor, target: torch.Tensor, quantize: bool) -> tuple[torch.Tensor, ...]:
    if pred.ndim != 4 or pred.shape != target.shape:
        raise ValueError(
            f"expected two (B,C,H,W) batches of one shape, got {tuple(pred.shape)} and "
            f"{tuple(target.shape)}"
        )
    return to_pixels(pred, quantize), to_pixels(target.to(pred.device), quantize)


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    quantize: bool = True,
    max_db: float | None = None,
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, (B,) float64.

    ``inf`` where the two images are identical, unless ``max_db`` is given: then every
    value is clamped to at most ``max_db`` (the evaluation protocol uses 100 dB so bucket
    means stay finite; at 256x256 a single 8-bit step on one channel already gives 101 dB).
    """
    return _psnr(*_pair(pred, target, quantize), max_db)


def l1(pred: torch.Tensor, target: torch.Tensor, *, quantize: bool = True) -> torch.Tensor:
    """Mean absolute error in percent of 255 per image, (B,) float64."""
    return _l1(*_pair(pred, target, quantize))


def compute_metrics(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    quantize: bool = True,
    max_db: float | None = None,
) -> dict[str, torch.Tensor]:
    """``{"psnr", "ssim", "l1"}`` per image, converting the inputs once (the evaluation
    loop's call; identical to the three separate functions)."""
    a, b = _pair(pred, target, quantize)
    return {"psnr": _psnr(a, b, max_db), "ssim": _ssim_pixels(a, b), "l1": _l1(a, b)}


def _psnr(a: torch.Tensor, b: torch.Tensor, max_db: float | None) -> torch.Tensor:
    mse = (a - b).square_().mean(dim=(1, 2, 3))
    value = 10.0 * torch.log10(DATA_RANGE**2 / mse)  # mse == 0 -> +inf (no warning in torch)
    if max_db is not None:
        value = value.clamp(max=max_db)
    return value


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs_().mean(dim=(1, 2, 3)) * (100.0 / DATA_RANGE)


def _gaussian_window(device: torch.device) -> torch.Tensor:
    """The 11x11 window (outer product of the normalised 1-D gaussian), float32."""
    x = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=torch.float64, device=device)
    g = torch.exp(-0.5 * (x / SSIM_SIGMA) ** 2)
    g = g / g.sum()
    return torch.outer(g, g).float()


def ssim(pred: torch.Tensor, target: torch.Tensor, *, quantize: bool = True) -> torch.Tensor:
    """Structural similarity per image, (B,) float64 (see the module docstring).

    Images must be at least 11x11 (the window), as in scikit-image.
    """
    return _ssim_pixels(*_pair(pred, target, quantize))


def _ssim_pixels(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    win = 2 * SSIM_RADIUS + 1
    if a.shape[-1] < win or a.shape[-2] < win:
        raise ValueError(f"ssim needs images of at least {win}x{win}, got {tuple(a.shape[-2:])}")
    # A few images at a time: the fifteen float32 moment maps of one 256x256 image (4 MB)
    # stay in cache, which makes a large batch almost twice as fast per image.
    step = max(1, _SSIM_CHUNK_PIXELS // (a.shape[-1] * a.shape[-2]))
    parts = [_ssim(a[i:i + step], b[i:i + step], win) for i in range(0, len(a), step)]
    return torch.cat(parts) if parts else a.new_zeros(0)


def _ssim(a: torch.Tensor, b: torch.Tensor, win: int) -> torch.Tensor:
    # float32 from here on (float64 convolutions are ~10x slower on CPU and this runs on
    # every evaluated image). Centring each image's channels on their own means first keeps
    # the squares small, so the cancellation in E[x^2] - E[x]^2 costs no accuracy that
    # matters: the tests hold it to scikit-image's float64 SSIM within 1e-5.
    c = a.shape[1]
    off_a = a.mean(dim=(2, 3), keepdim=True)
    off_b = b.mean(dim=(2, 3), keepdim=True)
    # Channels-last makes oneDNN's depthwise convolution about twice as fast on CPU.
    cl = torch.channels_last
    da = (a - off_a).float().contiguous(memory_format=cl)
    db = (b - off_b).float().contiguous(memory_format=cl)
    stack = torch.cat([da, db, da * da, db * db, da * db], dim=1)
    window = _gaussian_window(a.device).expand(5 * c, 1, win, win).contiguous(memory_format=cl)
    moments = F.conv2d(stack, window, groups=5 * c)  # valid windows only
    mu_a, mu_b, aa, bb, ab = moments.contiguous().split(c, dim=1)
    # (Co)variances are shift-invariant, so the centred moments give them directly. In-place
    # arithmetic from here: this runs on every evaluated image.
    var_sum = (aa + bb).sub_(mu_a.square()).sub_(mu_b.square())  # s_a^2 + s_b^2
    cov = ab - mu_a * mu_b
    mu_a = mu_a + off_a.float()
    mu_b = mu_b + off_b.float()
    c1 = (SSIM_K1 * DATA_RANGE) ** 2
    c2 = (SSIM_K2 * DATA_RANGE) ** 2
    num = (mu_a * mu_b).mul_(2.0).add_(c1).mul_(cov.mul_(2.0).add_(c2))
    den = mu_a.square().add_(mu_b.square()).add_(c1).mul_(var_sum.add_(c2))
    return num.div_(den).mean(dim=(1, 2, 3), dtype=torch.float64)

