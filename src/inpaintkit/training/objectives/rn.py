"""Region Normalization objective (Yu et al., AAAI 2020; official code geekyutao/RN,
``main.py`` / ``models.py``, derived from EdgeConnect's inpainting stage, Nazeri et al. 2019).

With x the image, M the hole mask (1 = hole), y = G(x, M) and y_c = composite(y, x, M)::

    L_G = l1 * mean|y_c - x| / mean(M)                    (official RN: on the composite)
        + gan * BCE(D(y), 1)                              (non-saturating GAN)
        + perceptual * sum_l mean|phi_l(y) - phi_l(x)|    (EdgeConnect; VGG19 relu1_1..relu5_1)
        + style * sum_l mean|Gram(phi_l(y*M)) - Gram(phi_l(x*M))|   (relu2_2, 3_4, 4_4, 5_2)
    L_D = (BCE(D(x), 1) + BCE(D(y.detach()), 0)) / 2

Weights: l1 1, gan 0.1 (RN ``--gan_weight``), perceptual 0.1, style 250 (EdgeConnect's
CONTENT/STYLE_LOSS_WEIGHT). Optimiser (configs/rn.yaml): Adam(0, 0.9), lr 1e-4 for G and
0.1 x that (1e-5) for D, as ``main.py`` builds ``InpaintingModel(d_lr=0.1 * lr)``.

Choices made against the sources, and why:

* D sees the raw output ``y``, not the composite (both RN and EdgeConnect feed ``prediction``
  / ``outputs``); ``d_input="composite"`` is the alternative.
* The official D ends in a sigmoid and uses ``nn.BCELoss``; here the EdgePatchGAN is built
  with ``use_sigmoid=False`` and the loss is BCE-with-logits (``losses.gan.nsgan``): the
  same function, without log(sigmoid) underflowing to -inf for confident scores.
* The official RN training script has only the L1 and GAN terms; the perceptual and style
  terms are EdgeConnect's, kept here because RN inherits its loss, and enabled only when
  ``vgg_weights`` names a local VGG file (a VGG16 file uses relu3_3 / relu4_3 for style).
  Our VGG sees ImageNet-normalised inputs, EdgeConnect's saw raw [0, 1] pixels, so the
  style term's scale differs somewhat from EdgeConnect's at the same weight.
* ``l1_target="output"`` gives EdgeConnect's L1 (on ``y`` itself, known pixels included).
* Not reproduced: the official 0.8x learning-rate decay per epoch (the loop's schedules are
  constant / cosine / linear) and its ``initialize_weights(model, 0.1)`` re-initialisation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from inpaintkit.conventions import composite
from inpaintkit.errors import InpaintError
from inpaintkit.losses.gan import GAN_LOSSES
from inpaintkit.losses.perceptual import (
    EDGECONNECT_CONTENT,
    edgeconnect_layers,
    load_vgg_or_none,
    perceptual_loss,
    style_loss,
)
from inpaintkit.losses.reconstruction import l1_over_mask_mean
from inpaintkit.models import DISCRIMINATORS, create_discriminator
from inpaintkit.training.objectives.base import Logs, Objective


@dataclass(frozen=True)
class RNArgs:
    l1_weight: float = 1.0
    gan_weight: float = 0.1
    perceptual_weight: float = 0.1
    style_weight: float = 250.0
    vgg_weights: str | None = None  # local torchvision VGG16/19 state dict; None = no VGG terms
    gan: str = "nsgan"  # on logits; any of losses.gan.GAN_LOSSES
    l1_target: str = "composite"  # "composite" (official RN) | "output" (EdgeConnect)
    d_input: str = "output"  # "output" (official) | "composite"

    def __post_init__(self) -> None:
        if self.gan not in GAN_LOSSES:
            raise ValueError(f"gan must be one of {sorted(GAN_LOSSES)}, got '{self.gan}'")
        for name in ("l1_target", "d_input"):
            if getattr(self, name) not in ("composite", "output"):
                raise ValueError(f"{name} must be 'composite' or 'output'")


def _vgg_layers(arch: str) -> tuple[str, ...]:
    return EDGECONNECT_CONTENT + edgeconnect_layers(arch)


class RNObjective(Objective):
    args_class = RNArgs

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        a = self.args
        wants_vgg = a.perceptual_weight > 0 or a.style_weight > 0
        self.vgg = load_vgg_or_none(a.vgg_weights, _vgg_layers, "rn") if wants_vgg else None
        self.style_layers = edgeconnect_layers(self.vgg.arch) if self.vgg is not None else ()

    def build_discriminator(self) -> nn.Module | None:
        if self.args.gan_weight <= 0 or not self.cfg.discriminator:
            return None
        cls = DISCRIMINATORS.get(self.cfg.discriminator)
        fields = {f.name for f in dataclasses.fields(cls.config_class)} if cls else set()
        kwargs = dict(self.cfg.disc_args)
        if "use_sigmoid" in fields:
            # The losses take logits; a sigmoid here would be applied twice.
            if kwargs.get("use_sigmoid"):
                raise InpaintError("disc_args.use_sigmoid: the RN objective's GAN losses take "
                                   "logits (BCE-with-logits); set it to false")
            kwargs["use_sigmoid"] = False
        return create_discriminator(self.cfg.discriminator, tiny=self.cfg.tiny, **kwargs)

    def generate(self, generator, image, mask, coarse=None):
        return generator(image, mask)  # (B,3,H,W) in [-1, 1]

    def _d_input(self, out: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return composite(out, image, mask) if self.args.d_input == "composite" else out

    def discriminator_loss(self, discriminator, image, mask, out):
        real = discriminator(image)
        fake = discriminator(self._d_input(out.detach(), image, mask))
        # The official sums BCE(real) and BCE(fake) and halves the sum.
        d_loss = 0.5 * GAN_LOSSES[self.args.gan][0](real, fake)
        return d_loss, {"d_loss": d_loss.detach()}

    def generator_loss(self, discriminator, image, mask, out):
        a = self.args
        target = composite(out, image, mask) if a.l1_target == "composite" else out
        l1 = a.l1_weight * l1_over_mask_mean(target, image, mask)
        loss = l1
        logs: Logs = {"l1": l1.detach()}
        if discriminator is not None and a.gan_weight > 0:
            g_gan = a.gan_weight * GAN_LOSSES[a.gan][1](discriminator(self._d_input(out, image, mask)))
            loss = loss + g_gan
            logs["g_gan"] = g_gan.detach()
        if self.vgg is not None:
            perc, style = self._vgg_terms(image, mask, out)
            loss = loss + a.perceptual_weight * perc + a.style_weight * style
            logs["perceptual"] = a.perceptual_weight * perc.detach()
            logs["style"] = a.style_weight * style.detach()
        logs["g_loss"] = loss.detach()
        return loss, logs

    def _vgg_terms(self, image: torch.Tensor, mask: torch.Tensor,
                   out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.vgg.mean.device != image.device:
            self.vgg.to(image.device)
        b = image.shape[0]
        hole = (mask > 0.5).to(out.dtype)
        # one VGG pass for the content input and the hole-only style input of each side
        f_out = self.vgg(torch.cat([out, out * hole]))
        with torch.no_grad():
            f_gt = self.vgg(torch.cat([image, image * hole]))
        perc = perceptual_loss({k: f_out[k][:b] for k in EDGECONNECT_CONTENT},
                               {k: f_gt[k][:b] for k in EDGECONNECT_CONTENT})
        style = style_loss({k: f_out[k][b:] for k in self.style_layers},
                           {k: f_gt[k][b:] for k in self.style_layers})
        return perc, style

    def prediction(self, out):
        return out
