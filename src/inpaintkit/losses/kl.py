"""KL divergences between diagonal Gaussians (pure functions, element-wise).

For N1 = N(mu1, sigma1^2) and N2 = N(mu2, sigma2^2), per element:

    KL(N1 || N2) = log(sigma2 / sigma1) + (sigma1^2 + (mu1 - mu2)^2) / (2 sigma2^2) - 1/2
    KL(N1 || N(0, 1)) = -log(sigma1) + (sigma1^2 + mu1^2) / 2 - 1/2

A diagonal Gaussian's KL is the sum of these over its elements; the functions return the
element-wise values (broadcast shapes, like ``torch.distributions.kl_divergence`` on
``Normal``) and leave the reduction to the caller. Arguments are standard deviations,
not variances or log-variances, and must be > 0.

PIC-Net (Zheng et al., CVPR 2019) uses the symmetric sum KL(a||b) + KL(b||a) for both of
its paths: :func:`symmetric_kl_normal`.
"""

from __future__ import annotations

import torch


def kl_normal(
    mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor
) -> torch.Tensor:
    """Element-wise KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)); any broadcastable shapes."""
    var_ratio = (sigma1 / sigma2).pow(2)
    mean_term = ((mu1 - mu2) / sigma2).pow(2)
    # 0.5 * (r - 1 - log r) + 0.5 * d^2 with r = var ratio: same formula, written so that
    # log is taken of one ratio (stable when both sigmas are tiny).
    return 0.5 * (var_ratio + mean_term - 1.0 - var_ratio.log())


def kl_standard_normal(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Element-wise KL(N(mu, sigma^2) || N(0, 1))."""
    var = sigma.pow(2)
    return 0.5 * (var + mu.pow(2) - 1.0 - var.log())


def symmetric_kl_normal(
    mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor
) -> torch.Tensor:
    """Element-wise KL(N1 || N2) + KL(N2 || N1) (the official PIC-Net KL terms)."""
    return kl_normal(mu1, sigma1, mu2, sigma2) + kl_normal(mu2, sigma2, mu1, sigma1)
