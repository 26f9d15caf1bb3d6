"""Objective of ``patchmatch_lfnet`` (``method: lowfreq``; :mod:`inpaintkit.models.patchmatch_lfnet`).

Per image b, with ``y`` the composited result, ``x`` the photo and ``p`` the composited
PatchMatch fill (the model's base):

    loss = mean_b [ log(MSE_b(y, x) + eps) + band_weight * F_b(y, p) / sg(MSE_b(y, x) + eps) ]

The first term is the mean PSNR of the evaluation up to sign and scale (a plain MSE would
let the images with large holes outweigh the others). ``F_b``
(:func:`~inpaintkit.losses.reconstruction.fine_band_change`) is how much the result moved
the two finest Laplacian bands away from PatchMatch's, the bands the hole realism metric
reads; ``sg`` stops the gradient, so per image the network minimises
``MSE + band_weight * F``: a change of those bands is allowed only where it buys
``band_weight`` times as much squared error. Without it the correction, cut at the hole
border by the composite, moves those bands (measured without it: realism 101 -> 126 in the
10-20 % bucket); with it (10 or 30) the correction stays near zero (configs/default_lfnet.yaml
has the measurements). Nothing adversarial: the texture is PatchMatch's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inpaintkit.conventions import composite
from inpaintkit.losses.reconstruction import fine_band_change
from inpaintkit.training.objectives.base import Objective


@dataclass(frozen=True)
class LowFreqArgs:
    band_weight: float = 30.0  # price of a fine-band change, in units of squared error
    eps: float = 1e-6  # floor of the per-image MSE, squared [-1,1] units


class LowFreqObjective(Objective):
    args_class = LowFreqArgs

    def build_discriminator(self) -> nn.Module | None:
        return None  # nothing adversarial: the texture is PatchMatch's

    def generate(self, generator, image, mask, coarse=None):
        """(result, PatchMatch base), both composited (B,3,H,W)."""
        result = composite(generator(image, mask, coarse=coarse), image, mask)
        return result, composite(coarse[:, :3].to(image.dtype), image, mask)

    def discriminator_loss(self, discriminator, image, mask, out):
        raise RuntimeError("the lowfreq objective has no discriminator")

    def generator_loss(self, discriminator, image, mask, out):
        result, base = out
        a = self.args
        mse = (result - image).square().flatten(1).mean(1) + a.eps  # (B,)
        log_mse = torch.log(mse).mean()
        band = (fine_band_change(result, base) / mse.detach()).mean()
        loss = log_mse + a.band_weight * band
        return loss, {"log_mse": log_mse.detach(), "band": band.detach(), "g_loss": loss.detach()}

    def prediction(self, out):
        return out[0]
