"""VGG feature losses: perceptual (content) and style, with a VGG read from a local file.

Perceptual loss (Johnson et al. 2016; PConv, Liu et al. 2018; EdgeConnect, Nazeri et al.
2019), for feature maps psi_p of a frozen VGG at taps p::

    L_perc(a, b)  = sum_p mean |psi_p(a) - psi_p(b)|
    L_style(a, b) = sum_p mean |G(psi_p(a)) - G(psi_p(b))|,   G(f) = f f^T / (C H W)

(``G`` is :func:`inpaintkit.losses.reconstruction.gram_matrix`; with the mean over the
C x C entries this is PConv's K_p = 1/(C_p H_p W_p) normalisation and 1/C_p^2 average.)

The network is VGG16 or VGG19 (Simonyan & Zisserman 2015) as an ``nn.Sequential`` named
``features`` with torchvision's layer indices, so a torchvision state dict
(``features.N.weight`` / ``features.N.bias``; ``classifier.*`` is ignored) loads as is.
No torchvision, no download: :func:`load_vgg` reads a local ``.safetensors`` file or a
``.pth`` through ``torch.load(weights_only=True)``. The architecture (16 or 19) and the
conv widths are read from the file, so tests use tiny random stand-ins of the same layout.
Only the layers up to the deepest requested tap are built.

Inputs are images (B,3,H,W) in [-1, 1]; they are mapped to [0, 1] and normalised with the
ImageNet mean/std that torchvision's weights expect. Taps are named ``convB_K``,
``reluB_K`` and ``poolB`` (block B, layer K, both from 1): PConv uses pool1..pool3 of
VGG16 (:data:`PCONV_LAYERS`); EdgeConnect / RN use relu1_1..relu5_1 of VGG19 for the
perceptual term and relu2_2, relu3_4, relu4_4, relu5_2 for style
(:func:`edgeconnect_layers`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.io import read_state_dict
from inpaintkit.losses.reconstruction import gram_matrix

# Conv widths per block (torchvision's cfg "D" and "E"); a pool follows every block.
_BLOCKS = {
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "vgg19": ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

PCONV_LAYERS = ("pool1", "pool2", "pool3")
EDGECONNECT_CONTENT = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def edgeconnect_layers(arch: str) -> tuple[str, ...]:
    """EdgeConnect's style taps (relu2_2, relu3_4, relu4_4, relu5_2 of VGG19); VGG16 has
    three convs in blocks 3 and 4, so its last ReLUs there (relu3_3, relu4_3) stand in."""
    if arch == "vgg19":
        return ("relu2_2", "relu3_4", "relu4_4", "relu5_2")
    return ("relu2_2", "relu3_3", "relu4_3", "relu5_2")


def vgg_layout(arch: str) -> list[tuple[str, int]]:
    """[(tap name, torchvision index)] for every layer of ``arch``'s ``features``."""
    if arch not in _BLOCKS:
        raise ValueError(f"unknown VGG '{arch}' (vgg16, vgg19)")
    out, index = [], 0
    for b, block in enumerate(_BLOCKS[arch], start=1):
        for k in range(1, len(block) + 1):
            out += [(f"conv{b}_{k}", index), (f"relu{b}_{k}", index + 1)]
            index += 2
        out.append((f"pool{b}", index))
        index += 1
    return out


def _plan(arch: str, layers: Sequence[str]) -> tuple[dict[int, str], int]:
    """({torchvision index: tap name}, deepest index) for ``layers`` of ``arch``."""
    index_of = dict(vgg_layout(arch))
    unknown = [name for name in layers if name not in index_of]
    if unknown or not layers:
        raise ValueError(f"{arch} has no layer(s) {unknown or '(none given)'}")
    taps = {index_of[name]: name for name in layers}
    return taps, max(taps)


class VGGFeatures(nn.Module):
    """Frozen VGG trunk returning the activations at ``layers``.

    ``widths``: the conv output widths in order (default: the real VGG's); the module is
    built only up to the deepest tap. ``forward(x)`` with x (B,3,H,W) in [-1, 1] returns a
    dict ``{tap: (B, C_tap, H_tap, W_tap)}`` in the order of ``layers``.
    """

    def __init__(self, arch: str = "vgg16", layers: Sequence[str] = PCONV_LAYERS,
                 widths: Sequence[int] | None = None) -> None:
        super().__init__()
        self.arch, self.layers = arch, tuple(layers)
        self._taps, last = _plan(arch, self.layers)
        defaults = [w for block in _BLOCKS[arch] for w in block]
        widths = list(widths) if widths is not None else defaults
        if len(widths) != len(defaults):
            raise ValueError(f"{arch} has {len(defaults)} convolutions, got {len(widths)} widths")
        modules: list[nn.Module] = []
        cin, conv = 3, iter(widths)
        for name, index in vgg_layout(arch):
            if index > last:
                break
            if name.startswith("conv"):
                cout = next(conv)
                modules.append(nn.Conv2d(cin, cout, 3, padding=1))
                cin = cout
            elif name.startswith("relu"):
                # not in-place: a tapped activation must survive the next layer
                modules.append(nn.ReLU())
            else:
                modules.append(nn.MaxPool2d(2, stride=2))
        self.features = nn.Sequential(*modules)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGFeatures:
        # Always an evaluator: no layer depends on the mode, but keep it explicit.
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"VGGFeatures: expected (B,3,H,W), got {tuple(x.shape)}")
        x = ((x + 1.0) * 0.5 - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._taps:
                out[self._taps[index]] = x
        return {name: out[name] for name in self.layers}


LayerSpec = Sequence[str] | Callable[[str], Sequence[str]]


def load_vgg(path: str | Path, layers: LayerSpec, arch: str | None = None,
             device: str | torch.device = "cpu") -> VGGFeatures:
    """A frozen :class:`VGGFeatures` with the weights of a local torchvision-format file.

    ``arch`` None infers VGG19 from a conv at index 16 (a pool in VGG16); ``layers`` may
    be a function of the architecture (e.g. ``lambda a: EDGECONNECT_CONTENT +
    edgeconnect_layers(a)``). Keys may carry
    torchvision's ``features.`` prefix or none; other keys (``classifier.*``) are ignored.
    Raises InpaintError naming the file when it cannot be read or does not fit.
    """
    path = Path(path)
    raw = read_state_dict(path)
    state = {}
    for key, value in raw.items():
        key = key.removeprefix("module.").removeprefix("features.")
        head = key.split(".", 1)[0]
        if head.isdigit() and key.endswith((".weight", ".bias")):
            state[key] = value
    if "0.weight" not in state:
        raise InpaintError(f"{path} is not a VGG state dict (no features.0.weight)")
    if arch is None:
        arch = "vgg19" if "16.weight" in state else "vgg16"
    if callable(layers):
        layers = layers(arch)
    try:
        _, last = _plan(arch, layers)
    except ValueError as exc:
        raise InpaintError(f"VGG layers for {path}: {exc}") from None
    needed = [i for name, i in vgg_layout(arch) if name.startswith("conv") and i <= last]
    widths, cin = [], 3
    for i in needed:
        w, b = state.get(f"{i}.weight"), state.get(f"{i}.bias")
        if w is None or b is None:
            raise InpaintError(f"{path}: no features.{i}.weight/bias: not a complete {arch} "
                               "(torchvision layout) for the requested layers")
        if w.ndim != 4 or tuple(w.shape[1:]) != (cin, 3, 3) or tuple(b.shape) != (w.shape[0],):
            raise InpaintError(f"{path}: features.{i}.weight has shape {tuple(w.shape)}, expected "
                               f"(C, {cin}, 3, 3): not a {arch} in torchvision layout")
        cin = w.shape[0]
        widths.append(cin)
    all_widths = widths + [cin] * (sum(len(b) for b in _BLOCKS[arch]) - len(widths))
    with torch.device("meta"):  # no throw-away random init; the file provides every weight
        model = VGGFeatures(arch, layers, widths=all_widths)
    model.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    model.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    wanted = {f"{i}.{p}": state[f"{i}.{p}"].float() for i in needed for p in ("weight", "bias")}
    model.features.load_state_dict(wanted, strict=True, assign=True)
    return model.requires_grad_(False).to(device).eval()


def load_vgg_or_none(path: str | Path | None, layers: LayerSpec, purpose: str) -> VGGFeatures | None:
    """:func:`load_vgg`, or None with a warning saying which loss terms are off when no
    file is given (the library never downloads weights)."""
    if not path:
        warnings.warn(f"{purpose}: no VGG weights file given (objective_args.vgg_weights), so "
                      "the perceptual and style loss terms are disabled; pass a local "
                      "torchvision VGG state dict (.safetensors or .pth) to enable them",
                      stacklevel=2)
        return None
    return load_vgg(path, layers)


def _pairs(feats_a: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
           feats_b: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]):
    if isinstance(feats_a, Mapping):
        if not isinstance(feats_b, Mapping) or set(feats_a) != set(feats_b):
            raise ValueError("feature dicts must have the same taps")
        return [(feats_a[k], feats_b[k]) for k in feats_a]
    if len(feats_a) != len(feats_b):
        raise ValueError(f"feature lists differ in length: {len(feats_a)} vs {len(feats_b)}")
    return list(zip(feats_a, feats_b, strict=True))


def perceptual_loss(feats_a: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
                    feats_b: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]) -> torch.Tensor:
    """sum over taps of the mean absolute feature difference (scalar)."""
    pairs = _pairs(feats_a, feats_b)
    return sum((F.l1_loss(a.float(), b.float()) for a, b in pairs), torch.zeros((), device=pairs[0][0].device))


def style_loss(feats_a: Mapping[str, torch.Tensor] | Sequence[torch.Tensor],
               feats_b: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]) -> torch.Tensor:
    """sum over taps of the mean absolute Gram-matrix difference (scalar); Gram matrices in
    float32 (a bf16 sum over H*W positions loses most of its digits)."""
    pairs = _pairs(feats_a, feats_b)
    return sum((F.l1_loss(gram_matrix(a.float()), gram_matrix(b.float())) for a, b in pairs),
               torch.zeros((), device=pairs[0][0].device))


__all__ = [
    "EDGECONNECT_CONTENT", "IMAGENET_MEAN", "IMAGENET_STD", "PCONV_LAYERS", "VGGFeatures",
    "edgeconnect_layers", "load_vgg", "load_vgg_or_none", "perceptual_loss", "style_loss",
    "vgg_layout",
]
