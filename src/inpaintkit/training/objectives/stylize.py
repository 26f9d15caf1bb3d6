"""Fast stylization objective (Johnson et al. 2016; Ulyanov et al. 2016, instance norm).

One style image s, content crops x from the data folder, y = G(x) (``models.stylizer``)::

    L = content * mean (phi_c(y) - phi_c(x))^2
      + style   * sum_l ||Gram(phi_l(y)) - Gram(phi_l(s))||_F^2
      + tv      * TV(y)

(:mod:`inpaintkit.losses.style_transfer`). phi is the loss network: VGG from
``vgg_weights`` (a local torchvision-layout file) or, without one, the seeded random
multi-scale filters of :class:`~inpaintkit.losses.style_transfer.RandomFeatures` (same
taps). No discriminator. The style image is read once, resized so that its shorter side is
``style_size`` (0: the crop size), and its Gram matrices are computed once.

The data items are ``(image, mask)`` like every method's (``masks: full`` in the configs:
every pixel is output, so the TensorBoard grid shows the stylized crop); the mask is ignored.

Default weights were set on the random-feature network at 128 px (configs/cpu/stylize_*.yaml,
a 30-step look at the balance: style clearly dominant); with a VGG file check the balance
(``--set objective_args.style_weight=...``), its feature scales differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from inpaintkit.conventions import image_to_tensor
from inpaintkit.errors import InpaintError
from inpaintkit.io import read_image
from inpaintkit.losses.style_transfer import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    content_loss,
    gram_style_loss,
    loss_network,
    style_grams,
    total_variation,
)
from inpaintkit.models import create_stylizer
from inpaintkit.training.objectives.base import Logs, Objective


@dataclass(frozen=True)
class StylizeArgs:
    style: str = ""  # the style image (required)
    style_size: int = 0  # shorter side of the style image; 0 = the crop size
    vgg_weights: str | None = None  # local torchvision VGG16/19 file; None = random features
    feature_seed: int = 0  # seed of the random-feature loss network
    content_weight: float = 1.0
    style_weight: float = 50.0
    tv_weight: float = 0.0
    content_layer: str = CONTENT_LAYER
    style_layers: tuple[str, ...] = STYLE_LAYERS

    def __post_init__(self) -> None:
        if not self.style:
            raise ValueError("style: the style image is required (objective_args.style or --style)")
        if self.style_size < 0:
            raise ValueError(f"style_size must be >= 0, got {self.style_size}")


def resize_shorter(image: torch.Tensor, side: int) -> torch.Tensor:
    """(1,3,H,W) resized (antialiased bicubic) so that min(H, W) == side."""
    h, w = image.shape[-2:]
    scale = side / min(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    out = nn.functional.interpolate(image, size=size, mode="bicubic", align_corners=False, antialias=True)
    return out.clamp(-1.0, 1.0)


class StylizeObjective(Objective):
    args_class = StylizeArgs

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        a = self.args
        style = image_to_tensor(read_image(a.style))
        self.style_image = resize_shorter(style, a.style_size or cfg.size)
        try:
            self.net = loss_network(a.vgg_weights, (a.content_layer, *a.style_layers), seed=a.feature_seed)
            self.content_net = loss_network(a.vgg_weights, (a.content_layer,), seed=a.feature_seed)
        except ValueError as exc:
            raise InpaintError(f"objective_args: {exc}") from None
        with torch.no_grad():
            self.target = style_grams(self.net(self.style_image), a.style_layers)

    def build_generator(self) -> nn.Module:
        return create_stylizer(self.cfg.model, tiny=self.cfg.tiny, **self.cfg.model_args)

    def build_discriminator(self) -> nn.Module | None:
        return None

    def generate(self, generator, image, mask, coarse=None):
        return generator(image)

    def _to(self, device: torch.device) -> None:
        if self.net.mean.device != device:
            self.net.to(device)
            self.content_net.to(device)
            self.target = {k: v.to(device) for k, v in self.target.items()}

    def generator_loss(self, discriminator, image, mask, out):
        a = self.args
        self._to(out.device)
        feats = self.net(out)
        with torch.no_grad():
            goal = self.content_net(image)[a.content_layer]
        content = a.content_weight * content_loss(feats[a.content_layer], goal)
        style = a.style_weight * gram_style_loss(feats, self.target)
        loss = content + style
        logs: Logs = {"content": content.detach(), "style": style.detach()}
        if a.tv_weight > 0:
            tv = a.tv_weight * total_variation(out)
            loss = loss + tv
            logs["tv"] = tv.detach()
        logs["g_loss"] = loss.detach()
        return loss, logs

    def prediction(self, out):
        return out
