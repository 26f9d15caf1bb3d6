"""Region-normalization inpainting generator (Yu et al., AAAI 2020, "Region Normalization
for Image Inpainting") on the EdgeConnect backbone (Nazeri et al., 2019), and EdgeConnect's
PatchGAN discriminator.

Generator (C = ``channels``, 64 in the paper; shapes for an (H, W) input)::

    in  = [masked image (3); hole mask (1) if mask_input; edge map (1) if edge]
    encoder  reflpad3 conv7x7 in->C        RN-B  ReLU    (C,  H,   W)
             conv4x4/2 C->2C               RN-B  ReLU    (2C, H/2, W/2)
             conv4x4/2 2C->4C              RN-B  ReLU    (4C, H/4, W/4)
    middle   n x [reflpad_d conv3x3 dil d  RN-L  ReLU  reflpad1 conv3x3  RN-L] + skip
    decoder  conv3x3 4C->8C pixelshuffle2  RN-L  ReLU    (2C, H/2, W/2)
             conv3x3 2C->4C pixelshuffle2  RN-L  ReLU    (C,  H,   W)
             reflpad3 conv7x7 C->3  tanh                 (3,  H,   W) in [-1, 1]

RN placement follows the official code (geekyutao/RN ``networks.py``): RN-B (hole/known
regions from the input mask) in the encoder, where the hole still has its own feature
statistics; RN-L (learned regions, threshold 0.8) in both norm slots of every residual
block and after both decoder up-samplings, where the hole has been filled and the mask is
no longer meaningful. The official decoder up-samples with conv3x3 + PixelShuffle
(``upsample="pixelshuffle"``, default) where EdgeConnect uses 4x4 stride-2 transposed convs
(``upsample="transpose"``); with C = 64 and the mask input channel this gives 11.60M
parameters (11.60M with RN, 11.59M with IN), against 10.78M for EdgeConnect's inpainting
generator, which ``norm="instance", upsample="transpose", mask_input=False, edge=True``
reproduces layer for layer.

Deviations from the official code, for the library's conventions:

* images in [-1, 1], holes zeroed by :func:`~inpaintkit.conventions.masked_input` (the
  official fills the hole with 1, white in [0, 1]); output ``tanh`` in [-1, 1] (the
  official ``(tanh + 1) / 2`` in [0, 1] is the same map, rescaled);
* the hole mask is an extra input channel by default (``mask_input``): with zero-filled
  holes it is the only way the ``norm="instance"`` baseline can tell where the hole is.
  ``mask_input=False`` reproduces the official 3-channel input;
* RN statistics per sample (``rn_mode="instance"``, the paper's equations); the official
  code pools them over the batch (``rn_mode="batch"``); see
  :mod:`inpaintkit.layers.region_norm` for the trade-off.

Compatibility settings (defaults keep the behaviour above; the config of weights imported
from the official release, :mod:`inpaintkit.official.rn`, turns them on and sets
``mask_input=False``, ``rn_mode="batch"``):

* ``input_fill="white"``: the official input, the image mapped to [0, 1] with the hole
  set to 1, ``x01 * (1 - m) + m`` (3 channels; 8-bit levels map to the official
  ``u / 255`` bits, in a contiguous tensor: see :func:`_unit_range`); ``inpaint`` still
  takes and returns [-1, 1]: the official output ``(tanh(o) + 1) / 2`` is ``tanh(o)``
  rescaled;
* ``rn_stats="official"``: RN's statistics computed as the official code does (BatchNorm
  of the mean-filled region; effectively eps * N / |R|), to the same float32 bits: RN-L
  thresholds responses of these features;
* ``rn_bias="sum"``: RN-B adds the hole and the known beta at every pixel, as the
  official ``RN_B``.

``norm="rn"`` (default) is the paper's model; ``norm="instance"`` the paper's IN
baseline (EdgeConnect's norm) with the same architecture; any kind of
:func:`~inpaintkit.layers.norm.make_norm` may be used in every slot. ``edge=True`` adds the
edge-map input channel of EdgeConnect's second stage (``forward(..., edge=...)``; in the
generator protocol it is the ``sketch`` input of ``inpaint``, ``sketch_channels = 1``). PyTorch's
default initialisation is kept, as in the official RN code.

Discriminator (:class:`EdgePatchGAN`, EdgeConnect ``Discriminator``): five 4x4 convs
(stride 2, 2, 2, 1, 1; widths C, 2C, 4C, 8C, 1) with spectral norm and LeakyReLU(0.2);
70x70 receptive field; no bias under spectral norm; optional sigmoid (EdgeConnect/RN use
it with BCE ("nsgan"); use logits for hinge or BCE-with-logits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from inpaintkit.conventions import masked_input
from inpaintkit.layers.norm import NORM_KINDS, make_norm
from inpaintkit.layers.region_norm import BIAS_MODES, RN_MODES, STATS
from inpaintkit.models.base import InpaintModel


@dataclass(frozen=True)
class RNInpaintConfig:
    channels: int = 64  # encoder widths C, 2C, 4C
    residual_blocks: int = 8
    dilation: int = 2  # of the first conv of each residual block
    norm: str = "rn"  # "rn" (RN-B encoder, RN-L elsewhere) or one make_norm kind everywhere
    rn_mode: str = "instance"  # "instance" (paper) | "batch" (official code)
    threshold: float = 0.8  # RN-L region threshold
    mask_input: bool = True  # hole mask as an input channel
    edge: bool = False  # edge map as an input channel (EdgeConnect stage 2)
    upsample: str = "pixelshuffle"  # "pixelshuffle" (official RN) | "transpose" (EdgeConnect)
    # Compatibility with the official code (geekyutao/RN), see the module docstring.
    input_fill: str = "zero"  # "zero" ([-1,1], hole 0) | "white" (official: [0,1], hole 1)
    rn_stats: str = "direct"  # "direct" | "official" (BatchNorm of mean-filled regions)
    rn_bias: str = "region"  # RN-B betas: "region" | "sum" (official: both, everywhere)

    def __post_init__(self) -> None:
        if self.norm != "rn" and self.norm not in NORM_KINDS:
            raise ValueError(f"RNInpaintConfig.norm must be 'rn' or one of {NORM_KINDS}")
        if self.rn_mode not in RN_MODES:
            raise ValueError(f"RNInpaintConfig.rn_mode must be one of {RN_MODES}")
        if self.upsample not in ("pixelshuffle", "transpose"):
            raise ValueError("RNInpaintConfig.upsample must be 'pixelshuffle' or 'transpose'")
        if self.input_fill not in ("zero", "white"):
            raise ValueError("RNInpaintConfig.input_fill must be 'zero' or 'white'")
        if self.rn_stats not in STATS:
            raise ValueError(f"RNInpaintConfig.rn_stats must be one of {STATS}")
        if self.rn_bias not in BIAS_MODES:
            raise ValueError(f"RNInpaintConfig.rn_bias must be one of {BIAS_MODES}")
        if self.channels < 1 or self.residual_blocks < 0 or self.dilation < 1:
            raise ValueError("RNInpaintConfig: channels, dilation >= 1, residual_blocks >= 0")


def _norm(config: RNInpaintConfig, slot: str, channels: int) -> nn.Module:
    """The norm for ``slot`` ('encoder' | 'middle' | 'decoder')."""
    kind = config.norm
    if kind == "rn":
        kind = "rn_b" if slot == "encoder" else "rn_l"
    # The compatibility options are passed only when set, so any norm kind keeps working.
    compat: dict[str, Any] = {"stats": config.rn_stats} if config.rn_stats != "direct" else {}
    if kind == "rn_b":
        if config.rn_bias != "region":
            compat["bias_mode"] = config.rn_bias
        return make_norm(kind, channels, mode=config.rn_mode, **compat)
    if kind == "rn_l":
        return make_norm(kind, channels, mode=config.rn_mode, threshold=config.threshold, **compat)
    return make_norm(kind, channels)


def _upsampler(kind: str, in_ch: int, out_ch: int) -> nn.Module:
    """x2 up-sampling: conv3x3 to 4*out_ch + PixelShuffle, or a 4x4 stride-2 transposed conv."""
    if kind == "pixelshuffle":
        return nn.Sequential(nn.Conv2d(in_ch, 4 * out_ch, 3, padding=1), nn.PixelShuffle(2))
    return nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1)


def _unit_range(image: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]. A value that is an 8-bit level ``u / 127.5 - 1`` (what
    :func:`~inpaintkit.conventions.image_to_tensor` gives) becomes ``u / 255``, the official
    ``to_tensor`` bits; ``(x + 1) / 2`` is 1 ulp off for a quarter of the levels, enough to
    move an RN-L response across its threshold. Other values: ``(x + 1) / 2``."""
    level = torch.round((image + 1.0) * 127.5)
    on_grid = (level / 127.5 - 1.0) == image
    return torch.where(on_grid, level / 255.0, (image + 1.0) / 2.0)


class _ResBlock(nn.Module):
    """x + N(conv3x3(relu(N(conv3x3_dilated(x))))), reflection padding, no final ReLU."""

    def __init__(self, config: RNInpaintConfig, dim: int) -> None:
        super().__init__()
        d = config.dilation
        self.pad1 = nn.ReflectionPad2d(d)
        self.conv1 = nn.Conv2d(dim, dim, 3, dilation=d)
        self.norm1 = _norm(config, "middle", dim)
        self.pad2 = nn.ReflectionPad2d(1)
        self.conv2 = nn.Conv2d(dim, dim, 3)
        self.norm2 = _norm(config, "middle", dim)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm1(self.conv1(self.pad1(x)), mask))
        h = self.norm2(self.conv2(self.pad2(h)), mask)
        return x + h


class RNInpaint(InpaintModel):
    """EdgeConnect-style generator with region normalization; see the module docstring.

    ``forward(image, mask, edge=None) -> (B,3,H,W)`` in [-1, 1]; H, W divisible by 4.
    ``edge`` (B,1,H,W), required iff ``config.edge``.
    """

    config_class = RNInpaintConfig
    tiny: ClassVar[dict[str, Any]] = {"channels": 8, "residual_blocks": 2}

    def __init__(self, config: RNInpaintConfig) -> None:
        super().__init__(config)
        c = config.channels
        in_ch = 3 + int(config.mask_input) + int(config.edge)
        self.enc_pad = nn.ReflectionPad2d(3)
        self.enc1 = nn.Conv2d(in_ch, c, 7)
        self.enc_norm1 = _norm(config, "encoder", c)
        self.enc2 = nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)
        self.enc_norm2 = _norm(config, "encoder", 2 * c)
        self.enc3 = nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1)
        self.enc_norm3 = _norm(config, "encoder", 4 * c)
        self.middle = nn.ModuleList(_ResBlock(config, 4 * c) for _ in range(config.residual_blocks))
        self.dec1 = _upsampler(config.upsample, 4 * c, 2 * c)
        self.dec_norm1 = _norm(config, "decoder", 2 * c)
        self.dec2 = _upsampler(config.upsample, 2 * c, c)
        self.dec_norm2 = _norm(config, "decoder", c)
        self.out_pad = nn.ReflectionPad2d(3)
        self.out = nn.Conv2d(c, 3, 7)
        self.act = nn.ReLU(inplace=True)

    @property
    def multiple(self) -> int:
        return 4

    def _inputs(
        self, image: torch.Tensor, mask: torch.Tensor, edge: torch.Tensor | None
    ) -> torch.Tensor:
        if image.ndim != 4 or image.shape[1] != 3 or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"RNInpaint: expected image (B,3,H,W) and mask (B,1,H,W), got "
                f"{tuple(image.shape)} and {tuple(mask.shape)}"
            )
        h, w = image.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"RNInpaint: H and W must be divisible by {self.multiple}, got {h}x{w}")
        if self.config.input_fill == "white":
            # The official pre-processing: [0, 1], hole filled with 1 (white), in a
            # contiguous NCHW tensor as to_tensor's: image_to_tensor's permuted
            # (channels-last) strides make the first conv use another kernel (other bits).
            parts = [(_unit_range(image) * (1.0 - mask) + mask).contiguous()]
        else:
            parts = [masked_input(image, mask)]
        if self.config.mask_input:
            parts.append(mask.to(image.dtype))
        if self.config.edge:
            if edge is None:
                raise ValueError("RNInpaint was built with edge=True: pass edge=(B,1,H,W)")
            parts.append(edge.to(image.dtype))
        elif edge is not None:
            raise ValueError("RNInpaint was built with edge=False: it takes no edge map")
        return torch.cat(parts, dim=1)

    def forward(
        self, image: torch.Tensor, mask: torch.Tensor, edge: torch.Tensor | None = None
    ) -> torch.Tensor:
        mask = (mask > 0.5).to(image.dtype)
        x = self._inputs(image, mask, edge)
        x = self.act(self.enc_norm1(self.enc1(self.enc_pad(x)), mask))
        x = self.act(self.enc_norm2(self.enc2(x), mask))
        x = self.act(self.enc_norm3(self.enc3(x), mask))
        for block in self.middle:
            x = block(x, mask)
        x = self.act(self.dec_norm1(self.dec1(x), mask))
        x = self.act(self.dec_norm2(self.dec2(x), mask))
        return torch.tanh(self.out(self.out_pad(x)))

    @property
    def sketch_channels(self) -> int:
        return int(self.config.edge)

    def inpaint(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        coarse: torch.Tensor | None = None,
        sketch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The completed image in [-1, 1], not composited (deterministic: no sampling).
        ``sketch`` is the edge map (B,1,H,W), required iff ``config.edge``."""
        self.check_extra_inputs(image, coarse, sketch)
        return self.forward(image, mask, sketch)


@dataclass(frozen=True)
class EdgePatchGANConfig:
    in_channels: int = 3
    channels: int = 64
    use_sigmoid: bool = True  # True for BCE ("nsgan"); False for hinge / BCE-with-logits
    spectral_norm: bool = True


class EdgePatchGAN(nn.Module):
    """EdgeConnect's 5-layer 4x4 PatchGAN with spectral norm (see the module docstring).

    ``forward(x) -> (B,1,h,w)`` scores (probabilities if ``use_sigmoid``);
    ``forward_features(x) -> (scores, [f1..f5])`` also returns every layer's activation
    (f5 = pre-sigmoid logits), for EdgeConnect's feature-matching loss. For 256x256 inputs
    h = w = 30.
    """

    config_class = EdgePatchGANConfig
    tiny: ClassVar[dict[str, Any]] = {"channels": 4}

    def __init__(self, config: EdgePatchGANConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        widths = [config.in_channels, c, 2 * c, 4 * c, 8 * c, 1]
        strides = [2, 2, 2, 1, 1]
        self.layers = nn.ModuleList()
        for i, stride in enumerate(strides):
            # Spectral norm already fixes the scale, so EdgeConnect drops the bias with it.
            conv = nn.Conv2d(
                widths[i], widths[i + 1], 4, stride=stride, padding=1, bias=not config.spectral_norm
            )
            self.layers.append(spectral_norm(conv) if config.spectral_norm else conv)
        self.act = nn.LeakyReLU(0.2)

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for i, conv in enumerate(self.layers):
            x = conv(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
            features.append(x)
        out = torch.sigmoid(x) if self.config.use_sigmoid else x
        return out, features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)[0]
