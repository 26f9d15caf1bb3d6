"""LPIPS, the learned perceptual image patch similarity (Zhang et al., "The Unreasonable
Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018), version 0.1.

For images x, y in [-1, 1] (B,3,H,W):

    x' = (x - shift) / scale            shift = (-.030, -.088, -.188), scale = (.458, .448, .450)
    f_l = trunk activations at 5 ReLU taps, each unit-normalised over channels
          (f / (||f||_2 + 1e-10))
    LPIPS(x, y) = sum_l mean_{h,w} w_l . (f_l(x) - f_l(y))^2       -> (B,)

with w_l the non-negative per-channel weights of the linear heads ("lin0".."lin4"). Trunks:
AlexNet (taps after conv1..conv5 ReLUs; 64, 192, 384, 256, 256 channels) or VGG16 (taps
relu1_2, relu2_2, relu3_3, relu4_3, relu5_3; 64, 128, 256, 512, 512).

No weights are downloaded. :func:`load_lpips` reads one or more local files whose union holds

* the trunk with torchvision's names ``features.<i>.weight/.bias`` (``classifier.*`` is
  ignored), or the lpips package's ``net.slice<k>.<i>.weight`` names; and
* the heads with the lpips package's names ``lin<k>.model.1.weight`` (shape (1,C,1,1)).

Channel counts are read from the file, so tests use tiny random trunks of the same layout.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.io import read_state_dict

# torchvision `features` layout: index -> ("conv", kernel, stride, padding) | "relu" | "pool";
# TAPS are the indices whose outputs LPIPS compares.
_ALEX = {0: ("conv", 11, 4, 2), 1: "relu", 2: "pool", 3: ("conv", 5, 1, 2), 4: "relu",
         5: "pool", 6: ("conv", 3, 1, 1), 7: "relu", 8: ("conv", 3, 1, 1), 9: "relu",
         10: ("conv", 3, 1, 1), 11: "relu"}
_VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_VGG_POOLS = (4, 9, 16, 23)
_VGG = {i: ("conv", 3, 1, 1) if i in _VGG_CONVS else ("pool" if i in _VGG_POOLS else "relu")
        for i in range(30)}
LAYOUTS = {"alex": (_ALEX, (1, 4, 7, 9, 11)), "vgg": (_VGG, (3, 8, 15, 22, 29))}

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


class _LinHead(nn.Module):
    """1x1 conv to one channel; the Identity keeps the lpips names (``model.1.weight``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))


class LPIPS(nn.Module):
    """LPIPS v0.1 with an AlexNet or VGG16 trunk; ``convs`` are the trunk's conv widths."""

    def __init__(self, net: str = "alex", convs: tuple[int, ...] | None = None) -> None:
        super().__init__()
        if net not in LAYOUTS:
            raise ValueError(f"unknown LPIPS trunk '{net}' (use one of {', '.join(LAYOUTS)})")
        layout, self.taps = LAYOUTS[net]
        conv_ids = [i for i, kind in layout.items() if kind not in ("relu", "pool")]
        default = (64, 192, 384, 256, 256) if net == "alex" else (
            64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)
        convs = tuple(convs or default)
        if len(convs) != len(conv_ids):
            raise ValueError(f"{net} trunk has {len(conv_ids)} convolutions, got {len(convs)}")
        self.net = net
        layers: list[nn.Module] = []
        cin, widths = 3, iter(convs)
        tap_channels = []
        for i in range(max(layout) + 1):
            kind = layout[i]
            if kind == "relu":
                layers.append(nn.ReLU())
                if i in self.taps:
                    tap_channels.append(cin)
            elif kind == "pool":
                layers.append(nn.MaxPool2d(kernel_size=3 if net == "alex" else 2,
                                           stride=2))
            else:
                _, k, s, p = kind
                cout = next(widths)
                layers.append(nn.Conv2d(cin, cout, k, stride=s, padding=p))
                cin = cout
        self.features = nn.Sequential(*layers)
        for k, c in enumerate(tap_channels):
            self.add_module(f"lin{k}", _LinHead(c))
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                # Unit length over channels; eps as lpips' normalize_tensor.
                out.append(x / (x.square().sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Distances (B,) between (B,3,H,W) batches in [-1,1] (uint8 0..255 also accepted)."""
        if x.shape != y.shape or x.ndim != 4:
            raise ValueError(f"LPIPS: expected two (B,3,H,W) batches, got {tuple(x.shape)}, "
                             f"{tuple(y.shape)}")
        x, y = (t.float() / 127.5 - 1.0 if t.dtype == torch.uint8 else t.float() for t in (x, y))
        # One trunk pass over both images.
        feats = self._taps((torch.cat([x, y]) - self.shift) / self.scale)
        total = x.new_zeros(x.shape[0])
        for k, f in enumerate(feats):
            fx, fy = f.chunk(2)
            head = getattr(self, f"lin{k}").model
            total = total + head((fx - fy).square()).mean(dim=(1, 2, 3))
        return total


_SLICE_KEY = re.compile(r"^net\.slice\d+\.(\d+)\.(weight|bias)$")


def load_lpips(*paths: str | Path, device: str | torch.device = "cpu") -> LPIPS:
    """LPIPS from local weight files (trunk and heads, in one file or several).

    The trunk type is inferred from the first convolution (11x11: AlexNet, 3x3: VGG16).
    """
    if not paths:
        raise InpaintError("load_lpips needs at least one weights file")
    state: dict[str, torch.Tensor] = {}
    for path in paths:
        for key, value in read_state_dict(path).items():
            m = _SLICE_KEY.match(key)
            if m:  # the lpips package keeps torchvision's indices inside its slices
                key = f"features.{m.group(1)}.{m.group(2)}"
            if key.startswith(("features.", "lin")):
                state[key] = value
    names = ", ".join(str(p) for p in paths)
    first = state.get("features.0.weight")
    if first is None or first.ndim != 4:
        raise InpaintError(f"no LPIPS trunk (features.0.weight) in {names}")
    net = {11: "alex", 3: "vgg"}.get(first.shape[-1])
    if net is None:
        raise InpaintError(f"unknown LPIPS trunk in {names}: first kernel {tuple(first.shape)}")
    layout, _ = LAYOUTS[net]
    conv_ids = [i for i, kind in layout.items() if kind not in ("relu", "pool")]
    try:
        convs = tuple(state[f"features.{i}.weight"].shape[0] for i in conv_ids)
    except KeyError as exc:
        raise InpaintError(f"LPIPS {net} trunk incomplete in {names}: no {exc.args[0]}") from None
    model = LPIPS(net, convs)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InpaintError(f"LPIPS weights in {names} do not fit the {net} layout: {exc}") from None
    return model.to(device).eval()


def lpips_distance(model: LPIPS, x: torch.Tensor, y: torch.Tensor, batch_size: int = 16
                   ) -> torch.Tensor:
    """LPIPS per pair (B,) float64 without gradients, in chunks of ``batch_size``."""
    device = next(model.parameters()).device
    with torch.no_grad():
        parts = [model(a.to(device), b.to(device)).double().cpu()
                 for a, b in zip(x.split(batch_size), y.split(batch_size), strict=True)]
    return torch.cat(parts)

