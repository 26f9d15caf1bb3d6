"""Adversarial losses as pure functions of discriminator outputs.

* hinge (SN-PatchGAN, DeepFill v2, Yu et al. 2019): D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))],
  G: -E[D(G(z))]. Every element of a patch-score map counts as one GAN (hence "PatchGAN").
* lsgan (Mao et al. 2017; Pluralistic, Zheng et al. 2019): D: E[(D(x)-1)^2] + E[D(G(z))^2],
  G: E[(D(G(z))-1)^2]; the official PIC code halves the D sum.
* nsgan (non-saturating, Goodfellow et al. 2014; EdgeConnect / RN use it with BCE on logits).

``real``/``fake`` are raw discriminator outputs of any shape (B, ...).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g_loss(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def lsgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (((real - 1.0) ** 2).mean() + (fake**2).mean())


def lsgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    return ((fake - 1.0) ** 2).mean()


def nsgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # BCE-with-logits, numerically safe form of -log(sigmoid(real)) - log(1 - sigmoid(fake)).
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def nsgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()


GAN_LOSSES = {
    "hinge": (hinge_d_loss, hinge_g_loss),
    "lsgan": (lsgan_d_loss, lsgan_g_loss),
    "nsgan": (nsgan_d_loss, nsgan_g_loss),
}
