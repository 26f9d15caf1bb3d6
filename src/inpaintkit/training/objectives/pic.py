"""Pluralistic Image Completion objective (Zheng, Cham, Cai, CVPR 2019; official
lyndonzheng/Pluralistic-Inpainting ``model/pluralistic_model.py``, ``train_paths="two"``).

:meth:`PICNet.forward` runs both paths: the reconstructive one (posterior p from the hole
content, outputs rec_1..rec_S coarse to fine) and the generative one (prior q from the
visible part, outputs gen_1..gen_S). With x the image, V = 1 - M the visible mask, x_s and
V_s their bilinear pyramids (:func:`scale_pyramid`), S = output_scale (4), and means over
all elements::

    KL_rec = mean KL(N(0, s(M)^2) || p)          s(M) = 1 / (1 + exp(8 (visible - 0.8)))
    KL_g   = mean KL(stopgrad(p) || q)
    app_rec = sum_s mean|rec_s - x_s|             app_g = sum_s mean|gen_s V_s - x_s V_s|
    ad_g   = mean (D_g(gen_S) - 1)^2             ad_rec = mean (D_r(rec_S) - D_r(x))^2
    L_G = lambda_kl S (KL_rec + KL_g) + lambda_rec (app_rec + app_g) + lambda_g (ad_g + ad_rec)
    L_D = 1/2 [mean (D_g(x) - 1)^2 + mean D_g(gen_S)^2] + 1/2 [same for D_r, rec_S]   (LSGAN)

lambda_kl = lambda_rec = 20, lambda_g = 1, Adam(0, 0.999) at 1e-4 for E+G and for both
discriminators, batch 8, 256 px (configs/pic_net.yaml). The two discriminators are one
module (:class:`PICDiscriminators`, an ``nn.ModuleDict`` with a ``forward(path, x)`` so that
DDP can wrap it) stepped by one optimiser, as the official ``optimizer_D``.

Which official version: the current code uses the one-directional KLs above (and D at the
G learning rate); the first public release summed both directions, KL(a||b) + KL(b||a),
for both terms and gave D twice the learning rate. ``symmetric_kl: true`` selects the
former (the lr is a config value). The D's see the raw outputs gen_S / rec_S, not
composites, as in the official code. ``mask_prior: false`` uses N(0, 1) for the
reconstructive prior instead of s(M) (commented out in the official code).

``paths: cvae`` is the paper's baseline without the two-path design (Sec. 3.1, "the
classical CVAE"): one path, z from the posterior p of the hole content, the decoder
reconstructs the whole image from it, and the learned conditional prior q of the visible
part is pulled towards p with gradients to both (no fixed prior for p, no stop-gradient)::

    L_G = lambda_kl S KL(p || q) + lambda_rec app_rec + lambda_g mean (D_r(rec_S) - 1)^2

At test time both designs sample z from q (``sample``/``inpaint``). The network still
computes the generative path's outputs (unused here), so the two arms cost the same per
step and an equal CPU budget gives them about equal steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inpaintkit.losses.gan import GAN_LOSSES
from inpaintkit.losses.kl import kl_normal, symmetric_kl_normal
from inpaintkit.models import create_discriminator
from inpaintkit.models.pic_net import PICNetOutput, reconstructive_prior_sigma, scale_pyramid
from inpaintkit.training.objectives.base import Logs, Objective

PATHS = ("gen", "rec")


@dataclass(frozen=True)
class PICArgs:
    lambda_rec: float = 20.0
    lambda_kl: float = 20.0
    lambda_g: float = 1.0
    gan: str = "lsgan"
    symmetric_kl: bool = False  # True: the first public release's KL(a||b) + KL(b||a)
    mask_prior: bool = True  # reconstructive prior N(0, s(M)^2); False: N(0, 1)
    paths: str = "two"  # "two" (PIC-Net) | "cvae" (the single-path CVAE baseline)

    def __post_init__(self) -> None:
        if self.paths not in ("two", "cvae"):
            raise ValueError(f"paths must be 'two' or 'cvae', got '{self.paths}'")
        if self.gan not in GAN_LOSSES:
            raise ValueError(f"gan must be one of {sorted(GAN_LOSSES)}, got '{self.gan}'")


class PICDiscriminators(nn.ModuleDict):
    """The generative-path ('gen') and reconstructive-path ('rec') discriminators."""

    def forward(self, path: str, x: torch.Tensor) -> torch.Tensor:
        return self[path](x)


class PICObjective(Objective):
    args_class = PICArgs

    def build_discriminator(self) -> nn.Module | None:
        if self.args.lambda_g <= 0 or not self.cfg.discriminator:
            return None
        return PICDiscriminators({
            path: create_discriminator(self.cfg.discriminator, tiny=self.cfg.tiny, **self.cfg.disc_args)
            for path in PATHS
        })

    def generate(self, generator, image, mask, coarse=None) -> PICNetOutput:
        return generator(image, mask)

    def discriminator_loss(self, discriminator, image, mask, out: PICNetOutput):
        d_fn = GAN_LOSSES[self.args.gan][0]
        logs: Logs = {}
        total = image.new_zeros(())
        fakes = (("gen", out.gen[-1]), ("rec", out.rec[-1]))
        for path, fake in fakes if self.args.paths == "two" else fakes[1:]:
            d = d_fn(discriminator(path, image), discriminator(path, fake.detach()))
            logs[f"d_{path}"] = d.detach()
            total = total + d
        logs["d_loss"] = total.detach()
        return total, logs

    def kl_terms(self, out: PICNetOutput, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(KL_rec, KL_g), each the mean over latent elements (unweighted)."""
        a = self.args
        p, q = out.posterior, out.prior
        zero = torch.zeros_like(p.mu)
        s = reconstructive_prior_sigma(mask).to(p.mu.dtype) if a.mask_prior else torch.ones(())
        s = s.to(p.mu.device).expand_as(p.mu)
        p_mu, p_sigma = p.mu.detach(), p.sigma.detach()  # q learns towards p, not back
        if a.symmetric_kl:
            kl_rec = symmetric_kl_normal(zero, s, p.mu, p.sigma)
            kl_g = symmetric_kl_normal(p_mu, p_sigma, q.mu, q.sigma)
        else:
            kl_rec = kl_normal(zero, s, p.mu, p.sigma)
            kl_g = kl_normal(p_mu, p_sigma, q.mu, q.sigma)
        return kl_rec.float().mean(), kl_g.float().mean()

    def cvae_loss(self, discriminator, image, out: PICNetOutput):
        """The single-path CVAE baseline's generator loss (module docstring)."""
        a = self.args
        p, q = out.posterior, out.prior
        scales = len(out.rec)
        kl = kl_normal(p.mu, p.sigma, q.mu, q.sigma).float().mean()
        targets = scale_pyramid(image, scales)
        terms = {
            "kl_cvae": a.lambda_kl * scales * kl,
            "app_rec": a.lambda_rec * sum((r - t).abs().mean() for r, t in zip(out.rec, targets, strict=True)),
        }
        if discriminator is not None and a.lambda_g > 0:
            terms["ad_rec"] = a.lambda_g * GAN_LOSSES[a.gan][1](discriminator("rec", out.rec[-1]))
        loss = sum(terms.values())
        logs: Logs = {k: v.detach() for k, v in terms.items()}
        logs["g_loss"] = loss.detach()
        return loss, logs

    def generator_loss(self, discriminator, image, mask, out: PICNetOutput):
        a = self.args
        if a.paths == "cvae":
            return self.cvae_loss(discriminator, image, out)
        scales = len(out.rec)
        kl_rec, kl_g = self.kl_terms(out, mask)
        visible = (mask <= 0.5).to(image.dtype)
        targets = scale_pyramid(image, scales)
        vis = scale_pyramid(visible, scales)
        app_rec = sum((r - t).abs().mean() for r, t in zip(out.rec, targets, strict=True))
        app_g = sum((g * v - t * v).abs().mean() for g, t, v in zip(out.gen, targets, vis, strict=True))
        terms = {
            "kl_rec": a.lambda_kl * scales * kl_rec,
            "kl_g": a.lambda_kl * scales * kl_g,
            "app_rec": a.lambda_rec * app_rec,
            "app_g": a.lambda_rec * app_g,
        }
        if discriminator is not None and a.lambda_g > 0:
            terms["ad_g"] = a.lambda_g * GAN_LOSSES[a.gan][1](discriminator("gen", out.gen[-1]))
            with torch.no_grad():  # a target: the official D is frozen here
                real = discriminator("rec", image)
            fake = discriminator("rec", out.rec[-1])
            terms["ad_rec"] = a.lambda_g * (fake - real).float().pow(2).mean()
        loss = sum(terms.values())
        logs: Logs = {k: v.detach() for k, v in terms.items()}
        logs["g_loss"] = loss.detach()
        return loss, logs

    def prediction(self, out: PICNetOutput):
        return out.gen[-1]
