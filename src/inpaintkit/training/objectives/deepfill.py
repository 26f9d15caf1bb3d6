"""DeepFill v2 objective (Yu et al., ICCV 2019, Sec. 3.3 and the official ``build_graph``).

Generator: ``l1_coarse * |x - coarse| + l1_refined * |x - refined|`` (plain L1 over the
whole image in the paper; ``hole_weight`` > 1 puts more weight on the hole) plus
``gan_weight`` * SN-PatchGAN hinge loss; ``l2_refined`` adds a squared-error term on the
refined output (not in the paper: it targets PSNR). Discriminator: hinge loss on the
completed image (known pixels from x, hole from the refined output) with the mask.
With ``coarse="telea"`` the coarse output is not learned and its L1 term is skipped.

User guidance (Sec. 3.4): for a generator with sketch channels (``in_extra=1``) each
sample of the batch gets, with probability ``sketch_prob``, the Canny strokes of its own
image (:func:`inpaintkit.data.sketch.extract_sketch`, computed here on the batch: ~10 ms
CPU for 8 images at 128 px), else zeros, so one model works with and without a sketch.
The generator sees ``sketch * mask`` (it masks it itself); the SN-PatchGAN sees
``[image, mask, sketch * mask]`` for real and completed images alike, as in the paper, so
it can punish a fill that ignores the strokes. The draw uses the global torch RNG, which
checkpoints save: a resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inpaintkit.conventions import composite
from inpaintkit.data.sketch import extract_sketch
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
    sketch_prob: float = 0.5  # generators with sketch channels: share of samples given one

    def __post_init__(self) -> None:
        if not 0.0 <= self.sketch_prob <= 1.0:
            raise ValueError(f"sketch_prob must be in [0, 1], got {self.sketch_prob}")


def sketch_channels(generator: nn.Module) -> int:
    """The sketch channels of a generator, DDP-wrapped or not."""
    return int(getattr(getattr(generator, "module", generator), "sketch_channels", 0))


class DeepFillObjective(Objective):
    args_class = DeepFillArgs

    def build_discriminator(self) -> nn.Module | None:
        if self.args.gan_weight <= 0 or not self.cfg.discriminator:
            return None
        extra = int(self.cfg.model_args.get("in_extra", 0))
        given = self.cfg.disc_args.get("in_extra", extra)
        if given != extra:
            from inpaintkit.errors import InpaintError

            raise InpaintError(f"disc_args.in_extra={given} but the generator has in_extra={extra} "
                               "(the discriminator sees the same sketch; leave disc_args.in_extra out)")
        from inpaintkit.models import create_discriminator

        args = {**self.cfg.disc_args, **({"in_extra": extra} if extra else {})}
        return create_discriminator(self.cfg.discriminator, tiny=self.cfg.tiny, **args)

    def sketch_for(self, generator: nn.Module, image: torch.Tensor) -> torch.Tensor | None:
        """(B,e,H,W) strokes for a share ``sketch_prob`` of the samples, zeros for the
        others; None for a generator without sketch channels."""
        channels = sketch_channels(generator)
        if not channels:
            return None
        given = torch.rand(image.shape[0], 1, 1, 1, device=image.device) < self.args.sketch_prob
        if not given.any():
            return image.new_zeros(image.shape[0], channels, *image.shape[-2:])
        return (extract_sketch(image) * given).to(image.dtype).expand(-1, channels, -1, -1)

    def generate(self, generator, image, mask, coarse=None, sketch=None):
        """(coarse, refined), plus ``sketch * mask`` for a generator with sketch channels;
        ``sketch`` given: used as it is (tests), else drawn by :meth:`sketch_for`."""
        if sketch is None:
            sketch = self.sketch_for(generator, image)
        coarse, refined = generator(image, mask, sketch=sketch, coarse=coarse)  # each (B,3,H,W)
        return (coarse, refined) if sketch is None else (coarse, refined, sketch * mask)

    def _disc(self, discriminator, image, mask, out):
        return discriminator(image, mask) if len(out) < 3 else discriminator(image, mask, out[2])

    def discriminator_loss(self, discriminator, image, mask, out):
        completed = composite(out[1].detach(), image, mask)
        real = self._disc(discriminator, image, mask, out)
        fake = self._disc(discriminator, completed, mask, out)
        d_loss = GAN_LOSSES[self.args.gan][0](real, fake)
        return d_loss, {"d_loss": d_loss.detach()}

    def generator_loss(self, discriminator, image, mask, out):
        coarse, refined = out[0], out[1]
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
            fake = self._disc(discriminator, composite(refined, image, mask), mask, out)
            g_gan = a.gan_weight * GAN_LOSSES[a.gan][1](fake)
            loss = loss + g_gan
            logs["g_gan"] = g_gan.detach()
        logs["g_loss"] = loss.detach()
        return loss, logs

    def prediction(self, out):
        return out[1]
