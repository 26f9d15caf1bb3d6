"""DeepFill v2 objective (Yu et al., ICCV 2019, Sec. 3.3 and the official ``build_graph``).

Generator: ``l1_coarse * |x - coarse| + l1_refined * |x - refined|`` (plain L1 over the
whole image in the paper; ``hole_weight`` > 1 puts more weight on the hole) plus
``gan_weight`` * SN-PatchGAN hinge loss; ``l2_refined`` adds a squared-error term on the
refined output (not in the paper: it targets PSNR). Discriminator: hinge loss on the
completed image (known pixels from x, hole from the refined output) with the mask.
With ``coarse="telea"`` the coarse output is not learned and its L1 term is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from inpaintkit.conventions import composite
from inpaintkit.losses.gan import GAN_LOSSES
from inpaintkit.losses.reconstruction import masked_l1, masked_mse
from inpaintkit.training.objectives.base import Logs, Objective


@dataclass(frozen=True)
class DeepFillArgs:
    l1_coarse: float = 1.0
    l1_refined: float = 1.0
    l2_refined: float = 0.0
    hole_weight: float = 1.0
    valid_weight: float = 1.0
    gan_weight: float = 1.0
    gan: str = "hinge"


class DeepFillObjective(Objective):
    args_class = DeepFillArgs

    def build_discriminator(self) -> nn.Module | None:
        return super().build_discriminator() if self.args.gan_weight > 0 else None

    def generate(self, generator, image, mask, coarse=None):
        coarse, refined = generator(image, mask, coarse=coarse)  # each (B,3,H,W)
        return coarse, refined

    def discriminator_loss(self, discriminator, image, mask, out):
        completed = composite(out[1].detach(), image, mask)
        real = discriminator(image, mask)
        fake = discriminator(completed, mask)
        d_loss = GAN_LOSSES[self.args.gan][0](real, fake)
        return d_loss, {"d_loss": d_loss.detach()}

    def generator_loss(self, discriminator, image, mask, out):
        coarse, refined = out
        a = self.args
        loss = a.l1_refined * masked_l1(refined, image, mask, a.hole_weight, a.valid_weight)
        logs: Logs = {"l1_refined": loss.detach()}
        if a.l2_refined > 0:
            l2 = a.l2_refined * masked_mse(refined, image, mask, a.hole_weight, a.valid_weight)
            loss = loss + l2
            logs["l2_refined"] = l2.detach()
        if coarse.requires_grad and a.l1_coarse > 0:
            l1c = a.l1_coarse * masked_l1(coarse, image, mask, a.hole_weight, a.valid_weight)
            loss = loss + l1c
            logs["l1_coarse"] = l1c.detach()
        if discriminator is not None and a.gan_weight > 0:
            fake = discriminator(composite(refined, image, mask), mask)
            g_gan = a.gan_weight * GAN_LOSSES[a.gan][1](fake)
            loss = loss + g_gan
            logs["g_gan"] = g_gan.detach()
        logs["g_loss"] = loss.detach()
        return loss, logs

    def prediction(self, out):
        return out[1]
