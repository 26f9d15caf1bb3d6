"""Partial-convolution objective (Liu et al., ECCV 2018, "Image Inpainting for Irregular
Holes Using Partial Convolutions", Sec. 3.4).

With I_gt the image, M the hole mask (1 = hole; the paper's M is 1 on *valid* pixels),
I_out = G(I_gt, M), I_comp = composite(I_out, I_gt, M), N = number of elements, and
psi_p the VGG16 pool1, pool2, pool3 activations::

    L_valid = |(1-M) * (I_out - I_gt)|_1 / N          L_hole = |M * (I_out - I_gt)|_1 / N
    L_perc  = sum_p mean|psi_p(I_out) - psi_p(I_gt)| + sum_p mean|psi_p(I_comp) - psi_p(I_gt)|
    L_style_out/comp = sum_p mean|Gram(psi_p(I_out/comp)) - Gram(psi_p(I_gt))|,
                       Gram(f) = f f^T / (C H W)
    L_tv    = TV of I_comp over the 1-pixel dilation of the hole
    L_total = 1 L_valid + 6 L_hole + 0.05 L_perc + 120 (L_style_out + L_style_comp) + 0.1 L_tv

(weights chosen by the paper's hyper-parameter search on 100 validation images). No
discriminator in the paper; ``gan_weight > 0`` (with ``discriminator: sn_patchgan``) adds
DeepFill v2's hinge term on ``[I_comp, M]`` (ours, not the paper's: issue 26's quality floor
asks for realism, which PConv's L1 + TV objective trades away for PSNR)::

    L_total += gan_weight * -mean D(I_comp, M)       L_D = hinge(D(I_gt, M), D(I_comp, M))
 The VGG terms need ``objective_args.vgg_weights`` (a local torchvision VGG16
state dict); without it they are off, with a warning, and L_total keeps the pixel terms.

Training schedule (paper): Adam, lr 2e-4 with batch norm everywhere, then fine-tuning at
lr 5e-5 with the encoder's batch norms frozen (``freeze_encoder_bn: true`` sets
``PConvUNet.freeze_encoder_bn``, which keeps those layers in eval mode; their affine
parameters still train, as in the public re-implementations). Fine-tune by resuming the
run with ``--set lr_g=5e-5 --set objective_args.freeze_encoder_bn=true --resume auto``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inpaintkit.conventions import composite
from inpaintkit.errors import InpaintError
from inpaintkit.losses.gan import GAN_LOSSES
from inpaintkit.losses.perceptual import PCONV_LAYERS, load_vgg_or_none, perceptual_loss, style_loss
from inpaintkit.losses.reconstruction import region_l1, total_variation
from inpaintkit.training.objectives.base import Logs, Objective


@dataclass(frozen=True)
class PConvArgs:
    valid_weight: float = 1.0
    hole_weight: float = 6.0
    perceptual_weight: float = 0.05
    style_weight: float = 120.0  # on L_style_out + L_style_comp
    tv_weight: float = 0.1
    vgg_weights: str | None = None  # local torchvision VGG16 state dict; None = no VGG terms
    freeze_encoder_bn: bool = False  # the paper's fine-tuning stage
    gan_weight: float = 0.0  # > 0: hinge adversarial term (ours; module docstring)
    gan: str = "hinge"


class PConvObjective(Objective):
    args_class = PConvArgs

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        a = self.args
        wants_vgg = a.perceptual_weight > 0 or a.style_weight > 0
        self.vgg = load_vgg_or_none(a.vgg_weights, PCONV_LAYERS, "pconv") if wants_vgg else None

    def build_generator(self) -> nn.Module:
        model = super().build_generator()
        if self.args.freeze_encoder_bn:
            if not hasattr(model, "freeze_encoder_bn"):
                raise InpaintError(f"objective_args.freeze_encoder_bn: model '{self.cfg.model}' "
                                   "has no encoder batch norms to freeze")
            model.freeze_encoder_bn = True
        return model

    def build_discriminator(self) -> nn.Module | None:
        if self.args.gan_weight <= 0 or not self.cfg.discriminator:
            return None  # the paper's PConv: no adversarial loss
        from inpaintkit.models import create_discriminator

        return create_discriminator(self.cfg.discriminator, tiny=self.cfg.tiny, **self.cfg.disc_args)

    def generate(self, generator, image, mask, coarse=None):
        out = generator(image, mask)
        return out, composite(out, image, mask)

    def discriminator_loss(self, discriminator, image, mask, out):
        if discriminator is None:
            raise RuntimeError("the PConv objective has no discriminator (objective_args.gan_weight is 0)")
        real, fake = discriminator(image, mask), discriminator(out[1].detach(), mask)
        d_loss = GAN_LOSSES[self.args.gan][0](real, fake)
        return d_loss, {"d_loss": d_loss.detach()}

    def generator_loss(self, discriminator, image, mask, out):
        a = self.args
        raw, comp = out
        hole = (mask > 0.5).to(raw.dtype)
        l_hole, l_valid = region_l1(raw, image, hole)
        l_tv = total_variation(comp, hole)
        terms = {"valid": a.valid_weight * l_valid, "hole": a.hole_weight * l_hole,
                 "tv": a.tv_weight * l_tv}
        if self.vgg is not None:
            if self.vgg.mean.device != image.device:
                self.vgg.to(image.device)
            b = image.shape[0]
            f = self.vgg(torch.cat([raw, comp]))
            with torch.no_grad():
                f_gt = self.vgg(image)
            f_out = {k: v[:b] for k, v in f.items()}
            f_comp = {k: v[b:] for k, v in f.items()}
            terms["perceptual"] = a.perceptual_weight * (
                perceptual_loss(f_out, f_gt) + perceptual_loss(f_comp, f_gt))
            terms["style"] = a.style_weight * (style_loss(f_out, f_gt) + style_loss(f_comp, f_gt))
        if discriminator is not None and a.gan_weight > 0:
            terms["g_gan"] = a.gan_weight * GAN_LOSSES[a.gan][1](discriminator(comp, mask))
        loss = sum(terms.values())
        logs: Logs = {k: v.detach() for k, v in terms.items()}
        logs["g_loss"] = loss.detach()
        return loss, logs

    def prediction(self, out):
        return out[0]
