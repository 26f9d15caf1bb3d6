"""Losses of fast stylization (Johnson et al. 2016; Ulyanov et al. 2016), on a "loss network".

For a loss network with feature maps phi_l (B, C_l, H_l, W_l) at taps l, an output y, its
content image x and the style image s::

    G(f)       = f f^T / (C H W)                        (f reshaped to (C, H W))
    L_content  = mean (phi_c(y) - phi_c(x))^2            (Johnson: 1/(C H W) ||.||_2^2)
    L_style    = sum_l || G(phi_l(y)) - G(phi_l(s)) ||_F^2   (squared Frobenius norm)
    L_tv       = mean (y[i+1, j] - y[i, j])^2 + mean (y[i, j+1] - y[i, j])^2

each averaged over the batch. With G normalised by C H W, ||G(y) - G(s)||_F^2 is exactly 4x
Gatys et al.'s E_l = 1/(4 C^2 (HW)^2) sum (G - A)^2 of unnormalised Gram matrices.

Taps: content ``relu2_2`` (:data:`CONTENT_LAYER`, Johnson et al.'s choice; Ulyanov et al.
used relu4_2), style ``relu1_1 .. relu5_1`` (:data:`STYLE_LAYERS`).

Two loss networks, one interface (``forward(x) -> {tap: (B,C,H,W)}``, attributes
``layers`` and ``kind``), so an objective never asks which one it has:

* a VGG-19 (or VGG-16) from a user's local torchvision-layout file (:func:`load_vgg`);
* without one, :class:`RandomFeatures`: a fixed, seeded multi-scale network of random
  filters with the same tap names. Random filters give texture statistics too
  (Ustyuzhaninov et al. 2017, "What does it take to generate natural textures?", ICLR:
  a single layer of random multi-scale filters already synthesises many textures), but
  with less fidelity than VGG features: expect colour and local texture, weaker
  long-range structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from inpaintkit.losses.perceptual import IMAGENET_MEAN, IMAGENET_STD, load_vgg
from inpaintkit.losses.reconstruction import gram_matrix

CONTENT_LAYER = "relu2_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
_TAP = re.compile(r"^relu([1-5])_([1-4])$")


class RandomFeatures(nn.Module):
    """Random-feature texture statistics: a fixed multi-scale network of random filters.

    Level b (1..5) sees the (ImageNet-normalised) image average-pooled by 2^(b-1); its
    layer 1 is a random 5x5 conv (3 -> ``widths[b-1]``) + ReLU, its layer k > 1 a random
    3x3 conv on layer k-1 + ReLU. Tap ``relu{b}_{k}`` is layer k of level b, at
    H / 2^(b-1) like VGG's. Weights are He-normal with zero bias, each layer's drawn from
    its own ``torch.Generator().manual_seed(100 seed + 10 (b-1) + (k-1))``: the same
    ``seed`` always gives the same filters on any machine, whichever taps are asked for (a
    content-only network shares its weights with the full one). Frozen; always in eval mode.
    """

    kind = "random"

    def __init__(self, layers: Sequence[str] = (CONTENT_LAYER, *STYLE_LAYERS), seed: int = 0,
                 widths: Sequence[int] = (64, 128, 192, 256, 256)) -> None:
        super().__init__()
        self.layers = tuple(dict.fromkeys(layers))
        depth = [0] * 5
        for name in self.layers:
            m = _TAP.match(name)
            if m is None:
                raise ValueError(f"RandomFeatures: unknown tap '{name}' (relu<level 1-5>_<layer 1-4>)")
            b, k = int(m.group(1)), int(m.group(2))
            depth[b - 1] = max(depth[b - 1], k)
        self.levels = nn.ModuleList()
        for b in range(5):
            convs = []
            for k in range(depth[b]):
                cin = 3 if k == 0 else widths[b]
                size = 5 if k == 0 else 3
                conv = nn.Conv2d(cin, widths[b], size, padding=size // 2)
                # one generator per layer: a network asking for fewer taps has the same weights
                g = torch.Generator().manual_seed(seed * 100 + 10 * b + k)
                with torch.no_grad():
                    fan_in = cin * size * size
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                    conv.bias.zero_()
                convs.append(conv)
            self.levels.append(nn.ModuleList(convs))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> RandomFeatures:
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"RandomFeatures: expected (B,3,H,W), got {tuple(x.shape)}")
        x = ((x + 1.0) * 0.5 - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for b, convs in enumerate(self.levels, start=1):
            if not len(convs):
                continue
            h = nn.functional.avg_pool2d(x, 2 ** (b - 1)) if b > 1 else x
            for k, conv in enumerate(convs, start=1):
                h = torch.relu(conv(h))
                out[f"relu{b}_{k}"] = h
        return {name: out[name] for name in self.layers}


def loss_network(vgg: str | Path | None, layers: Sequence[str] = (CONTENT_LAYER, *STYLE_LAYERS),
                 seed: int = 0) -> nn.Module:
    """The loss network: the VGG of a local file when ``vgg`` names one (``kind`` is its
    architecture, e.g. "vgg19"), else :class:`RandomFeatures` (``kind`` "random")."""
    layers = tuple(dict.fromkeys(layers))
    if vgg:
        net = load_vgg(vgg, layers)
        net.kind = net.arch
        return net
    return RandomFeatures(layers, seed=seed)


def content_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference (Johnson et al.'s 1/(CHW) ||a - b||^2, batch mean)."""
    return torch.mean((a.float() - b.float()) ** 2)


def style_grams(feats: Mapping[str, torch.Tensor], layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """{tap: (B,C,C) Gram matrix}, computed in float32."""
    return {k: gram_matrix(feats[k].float()) for k in layers}


def gram_style_loss(feats: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """sum over the taps of ``target`` of the squared Frobenius distance between the Gram
    matrices of ``feats`` (B,C,H,W) and the target Gram matrices ((1|B),C,C), batch mean."""
    total = torch.zeros((), device=next(iter(target.values())).device)
    for name, g_target in target.items():
        diff = gram_matrix(feats[name].float()) - g_target
        total = total + diff.pow(2).sum(dim=(1, 2)).mean()
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertical plus horizontal neighbours."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.float().pow(2).mean() + dx.float().pow(2).mean()


__all__ = [
    "CONTENT_LAYER", "STYLE_LAYERS", "RandomFeatures", "content_loss", "gram_style_loss",
    "loss_network", "style_grams", "total_variation",
]
