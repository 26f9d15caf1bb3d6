"""DeepFill v2: two-stage gated-convolution generator with contextual attention.

Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019 (architecture
of the official ``inpaint_model.py``, v2 branch); contextual attention from Yu et al.,
"Generative Image Inpainting with Contextual Attention", CVPR 2018.

With ``x = masked_input(image, mask)`` (hole zeroed), ``1`` a ones channel, ``m`` the mask
and ``s`` the optional sketch (``s * m``)::

    coarse  = tanh(CoarseNet([x, 1, m, s]))                       (B, 3, H, W)
    x2      = composite(coarse, x, m)                             coarse inside the hole
    hallu   = DilatedBranch([x2, 1, m, s])                        (B, 4c, H/4, W/4)
    pm      = AttentionBranch([x2, 1, m, s])                      (B, 4c, H/4, W/4)
    refined = tanh(Decoder([hallu, pm]))                          (B, 3, H, W)
            | clamp(x2 + Decoder([hallu, pm]), -1, 1)             with ``residual=True``

Channel plan as the official code (``gen_conv(x, n)`` convolves to ``n`` channels split into
``n/2`` features and ``n/2`` gates: ``GatedConv2d(in, n/2)`` here). With ``c = cnum/2`` the
widths are c, 2c and 4c ("wide"; ``slim=True``: 2c); the RGB output layers are plain convs.
Parameters: default 4,057,278 (``refine_sees_mask=False``: 4,052,478; paper: 4.1M);
``slim`` 1,359,486; ``tiny`` (cnum 16) 456,174; ``coarse="telea"`` 2,426,127.

Our choices (defaults) that differ from the official code:

* the refinement stage also sees ones, mask and sketch (``refine_sees_mask``; official:
  the 3-channel composite only), ~5k parameters: a residual refinement over a fixed
  classical coarse fill knows where the hole is;
* contextual attention: cosine similarity, max-pooled mask (``attention="cosine"``);
* a classical coarse fill instead of the coarse network (``coarse="telea"``, ``"ns"``,
  ``"smooth"``, ...): *data* given as the ``coarse`` input (B,3,H,W) in [-1, 1], computed
  on uint8 by the caller (:func:`~inpaintkit.models.classical.coarse_batch`; data workers /
  Inpainter), no gradient, a third ONNX input; ``coarse_input`` names it;
* ``residual=True``: refined = ``clamp(x2 + delta, -1, 1)``, last layer zero-initialised
  (an untrained model returns ``x2``), no tanh.

Compatibility settings (imported official weights, :mod:`inpaintkit.official.deepfill_port`):
``refine_sees_mask=False``, ``attention="official"`` (the official attention arithmetic,
:mod:`~inpaintkit.layers.contextual_attention_official`), ``attention_fuse``,
``attention_resize`` and ``padding="tf"`` (TensorFlow "SAME" padding of the stride-2
convs). The port's ``networks.py`` needs the first two, its ``networks_tf.py`` (the
TensorFlow release converted) all of them with ``attention_fuse=False``. Pre/post-processing
is ours already: [-1, 1] RGB, hole zeroed, ``[x, 1, m]``, tanh outputs.

``gated=False``: plain conv + ELU, same widths (``deepfill_v2_vanilla``); ``partial=True``:
partial conv + ELU (``deepfill_v2_partial``), one valid mask ``1 - m`` updated by Liu et
al.'s rule along each branch (hole content such as the coarse result is zeroed by each
stage's first layer; the attention output and decoder start all-valid / from the
hallucination branch's mask). The last attention flow is kept (detached) in
``self.last_flow`` (B, 2, H/4, W/4) (``contextual_attention.flow_to_image``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.conventions import composite, masked_input
from inpaintkit.layers.contextual_attention import ContextualAttention
from inpaintkit.layers.contextual_attention_official import RESIZES, OfficialContextualAttention
from inpaintkit.layers.gated_conv import PADDINGS, GatedConv2d, GatedDeconv2d
from inpaintkit.layers.partial_conv import PartialConvAct
from inpaintkit.models.base import InpaintModel

ATTENTIONS = ("cosine", "official")
# The classical fills of inpaintkit.models.classical, named here so that this module
# does not import OpenCV.
COARSE_MODES = ("learned", "telea", "ns", "smooth", "patchmatch", "patchmatch_lf", "mean", "patchmatch+smooth")


@dataclass(frozen=True)
class DeepFillV2Config:
    """DeepFill v2 options (defaults: the official model).

    cnum: official base width (each gated conv's ``cnum`` is split into feature and gate
        halves); multiple of 4.
    slim: bottleneck width 2c instead of 4c (c = cnum/2): about 3x fewer parameters.
    in_extra: extra input channels (1 = a user sketch / edge map, used inside the hole).
    gated: gated convolutions; False = plain convs (the vanilla ablation).
    partial: partial convolutions (needs ``gated=False``; the partial-conv ablation).
    coarse: "learned" (coarse network) or a classical fill with no parameters: "telea",
        "ns" or "smooth" (radius 3; see :mod:`inpaintkit.models.classical`), given to
        ``forward`` / ``inpaint`` as the ``coarse`` input.
    residual: refined = clamp(coarse + delta, -1, 1) with a zero-initialised last layer.
    refine_sees_mask: feed ones + mask (+ sketch) to the refinement stage too.
    lowfreq: run the refinement stage at 1/lowfreq resolution (1 = full, the paper) and
        upsample its residual bilinearly: a low-frequency correction of a classical coarse
        fill that cannot touch the fill's fine texture (needs ``residual`` and a classical
        ``coarse``; power of two).
    padding / attention / attention_fuse / attention_resize: compatibility settings (module
        docstring): "torch" | "tf" padding, "cosine" | "official" attention, its fuse step,
        "floor" | "align_corners" | "tf" (+ two-step mask) nearest downsampling in the official attention.
    """

    cnum: int = 48
    slim: bool = False
    in_extra: int = 0
    gated: bool = True
    partial: bool = False
    coarse: str = "learned"
    residual: bool = False
    refine_sees_mask: bool = True
    lowfreq: int = 1
    padding: str = "torch"
    attention: str = "cosine"
    attention_fuse: bool = True
    attention_resize: str = "floor"

    def __post_init__(self) -> None:
        if self.cnum < 4 or self.cnum % 4:
            raise ValueError(f"DeepFillV2Config: cnum must be a multiple of 4, got {self.cnum}")
        if self.in_extra < 0:
            raise ValueError(f"DeepFillV2Config: in_extra must be >= 0, got {self.in_extra}")
        if self.partial and self.gated:
            raise ValueError("DeepFillV2Config: partial=True needs gated=False")
        if self.lowfreq < 1 or self.lowfreq & (self.lowfreq - 1):
            raise ValueError(f"DeepFillV2Config: lowfreq must be a power of two, got {self.lowfreq}")
        if self.lowfreq > 1 and (not self.residual or self.coarse == "learned"):
            raise ValueError("DeepFillV2Config: lowfreq > 1 needs residual=True and a classical coarse")
        for name, value, known in (("coarse", self.coarse, COARSE_MODES), ("padding", self.padding, PADDINGS),
                                   ("attention", self.attention, ATTENTIONS),
                                   ("attention_resize", self.attention_resize, RESIZES)):
            if value not in known:
                raise ValueError(f"DeepFillV2Config: {name} must be one of {', '.join(known)}, got '{value}'")
        if self.padding != "torch" and self.partial:
            raise ValueError("DeepFillV2Config: padding='tf' needs gated or plain convolutions")
        if self.attention_resize != "floor" and self.attention != "official":
            raise ValueError("DeepFillV2Config: attention_resize needs attention='official'")


@dataclass(frozen=True)
class DeepFillV2VanillaConfig(DeepFillV2Config):
    """The same options with plain convolutions by default (``gated=False``)."""

    gated: bool = False


@dataclass(frozen=True)
class DeepFillV2PartialConfig(DeepFillV2Config):
    """The same options with partial convolutions by default."""

    gated: bool = False
    partial: bool = True


def _kind(config: DeepFillV2Config) -> str:
    kind = "partial" if config.partial else "gated" if config.gated else "plain"
    return kind + (":tf" if config.padding == "tf" else "")


# A layer kind: "gated", "plain" or "partial", with ":tf" for TensorFlow padding.
def _conv(kind: str, i: int, o: int, k: int = 3, s: int = 1, d: int = 1,
          activation: str | None = "elu") -> nn.Module:
    kind, _, pad = kind.partition(":")
    if kind == "partial":
        return PartialConvAct(i, o, k, stride=s, dilation=d, activation=activation)
    return GatedConv2d(i, o, k, stride=s, dilation=d, activation=activation, gate=kind == "gated",
                       padding=pad or "torch")


def _deconv(kind: str, i: int, o: int) -> nn.Module:
    kind, _, pad = kind.partition(":")
    if kind == "partial":
        return PartialConvAct(i, o, 3, upsample=True)
    return GatedDeconv2d(i, o, gate=kind == "gated", padding=pad or "torch")


class _Chain(nn.Sequential):
    """A Sequential that threads the valid mask (B,1,h,w) through partial-conv layers and
    ignores it for the others; the state-dict keys are those of ``nn.Sequential``."""

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        for layer in self:
            if isinstance(layer, PartialConvAct):
                if valid is None:
                    valid = x.new_ones(x.shape[0], 1, *x.shape[-2:])
                x, valid = layer(x, valid)
            else:
                x = layer(x)
        return x, valid


def _rgb_out(in_ch: int, zero: bool = False) -> nn.Conv2d:
    """The official output layer: a plain 3x3 conv to RGB (no gate)."""
    conv = nn.Conv2d(in_ch, 3, 3, padding=1)
    if zero:
        nn.init.zeros_(conv.weight)
        nn.init.zeros_(conv.bias)
    return conv


class CoarseNet(nn.Module):
    """Stage 1: encoder (stride 4), dilated convs (2, 4, 8, 16), decoder; every layer of
    the given kind (gated, plain or partial)."""

    def __init__(self, in_ch: int, c: int, wide: int, kind: str) -> None:
        super().__init__()

        def g(i: int, o: int, k: int = 3, s: int = 1, d: int = 1) -> nn.Module:
            return _conv(kind, i, o, k, s, d)

        self.body = _Chain(
            g(in_ch, c, 5), g(c, 2 * c, s=2), g(2 * c, 2 * c), g(2 * c, wide, s=2),  # encoder
            g(wide, wide), g(wide, wide), *(g(wide, wide, d=d) for d in (2, 4, 8, 16)), g(wide, wide), g(wide, wide),
            _deconv(kind, wide, 2 * c), g(2 * c, 2 * c), _deconv(kind, 2 * c, c), g(c, c // 2), _rgb_out(c // 2),
        )

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """x (B,in,H,W); valid (B,1,H,W) 1 = known, used by partial layers only."""
        return torch.tanh(self.body(x, valid)[0])


class RefineNet(nn.Module):
    """Stage 2: a dilated (hallucination) branch and a contextual-attention branch, both at
    1/4 resolution, concatenated and decoded. Returns the raw (pre-activation) output."""

    def __init__(self, in_ch: int, c: int, wide: int, kind: str, zero_out: bool,
                 attention: ContextualAttention) -> None:
        super().__init__()

        def g(i: int, o: int, k: int = 3, s: int = 1, d: int = 1, **kw: str) -> nn.Module:
            return _conv(kind, i, o, k, s, d, **kw)

        self.hallucinate = _Chain(
            g(in_ch, c, 5), g(c, c, s=2), g(c, 2 * c), g(2 * c, 2 * c, s=2), g(2 * c, wide), g(wide, wide),
            *(g(wide, wide, d=d) for d in (2, 4, 8, 16)),
        )
        self.attention_in = _Chain(
            g(in_ch, c, 5),
            g(c, c, s=2),
            g(c, 2 * c),
            g(2 * c, wide, s=2),
            g(wide, wide),
            g(wide, wide, activation="relu"),  # official: ReLU before the attention
        )
        self.attention = attention
        self.attention_out = _Chain(g(wide, wide), g(wide, wide))
        self.decoder = _Chain(
            g(2 * wide, wide),
            g(wide, wide),
            _deconv(kind, wide, 2 * c),
            g(2 * c, 2 * c),
            _deconv(kind, 2 * c, c),
            g(c, c // 2),
            _rgb_out(c // 2, zero=zero_out),
        )

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B,in,H,W), mask (B,1,H,W) 1 = hole; valid (B,1,H,W) for partial layers."""
        hallu, valid_h = self.hallucinate(x, valid)  # (B, wide, H/4, W/4)
        pm, _ = self.attention_in(x, valid)  # (B, wide, H/4, W/4)
        # (B, 1, H/4, W/4), any hole pixel; the official layer downsamples the full mask
        official = isinstance(self.attention, OfficialContextualAttention)
        mask_q = mask if official else F.max_pool2d(mask, 4)
        pm, flow = self.attention(pm, pm, mask_q)  # (B, wide, H/4, W/4), (B, 2, H/4, W/4)
        pm, _ = self.attention_out(pm)  # every position filled: starts all valid
        out, _ = self.decoder(torch.cat([hallu, pm], dim=1), valid_h)  # (B, 3, H, W)
        return out, flow


class DeepFillV2(InpaintModel):
    """DeepFill v2 generator (see the module docstring)."""

    config_class: ClassVar[type] = DeepFillV2Config
    tiny: ClassVar[dict[str, object]] = {"cnum": 16}  # widths 8-16-32

    def __init__(self, config: DeepFillV2Config) -> None:
        super().__init__(config)
        c = config.cnum // 2
        wide = 2 * c if config.slim else 4 * c
        in_ch = 5 + config.in_extra  # masked image, ones, mask, sketch
        self.coarse_net = (
            CoarseNet(in_ch, c, wide, _kind(config)) if config.coarse == "learned" else None
        )
        # Fills after the first of a stacked coarse input ("patchmatch+smooth") are extra
        # refinement inputs; the first is the base the residual is added to.
        guides = 3 * (len(config.coarse.split("+")) - 1) if config.coarse != "learned" else 0
        refine_in = (in_ch if config.refine_sees_mask else 3) + guides
        attention = (
            OfficialContextualAttention(3, 1, 2, fuse=config.attention_fuse, resize=config.attention_resize)
            if config.attention == "official" else ContextualAttention(3, 1, 2, fuse=config.attention_fuse)
        )
        self.refine_net = RefineNet(refine_in, c, wide, _kind(config), config.residual, attention)
        self.last_flow: torch.Tensor | None = None

    @property
    def sketch_channels(self) -> int:
        return self.config.in_extra

    @property
    def multiple(self) -> int:
        return 8 * self.config.lowfreq  # the refinement stage works at H/lowfreq, stride 4

    @property
    def coarse_input(self) -> str | None:
        return None if self.config.coarse == "learned" else self.config.coarse

    def _inputs(
        self, x: torch.Tensor, mask: torch.Tensor, sketch: torch.Tensor | None
    ) -> torch.Tensor:
        """``[x, ones, mask, sketch*mask]``: (B, 5 + in_extra, H, W)."""
        parts = [x, torch.ones_like(mask), mask]
        extra = self.config.in_extra
        if extra:
            if sketch is None:
                sketch = x.new_zeros(x.shape[0], extra, *x.shape[-2:])
            parts.append(sketch * mask)  # guidance only counts inside the hole (official)
        return torch.cat(parts, dim=1)

    def forward(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        sketch: torch.Tensor | None = None,
        coarse: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """image (B,3,H,W) in [-1,1], mask (B,1,H,W) 1 = hole, H and W divisible by 8;
        ``coarse`` (B,3,H,W) in [-1,1], the classical fill, iff ``coarse_input`` is set.

        Returns ``(coarse, refined)``, both (B,3,H,W) in [-1, 1], not composited.
        """
        h, w = image.shape[-2:]
        if not torch.jit.is_tracing() and (h % self.multiple or w % self.multiple):
            raise ValueError(f"DeepFillV2: image size {h}x{w} is not divisible by {self.multiple}")
        self.check_extra_inputs(image, coarse, sketch)
        x = masked_input(image, mask)  # (B, 3, H, W), hole = 0
        full_in = self._inputs(x, mask, sketch)  # (B, 5+e, H, W)
        valid = (1.0 - mask) if self.config.partial else None  # partial layers only

        if self.coarse_net is None:
            coarse = coarse.to(image.dtype)  # (B, 3k, H, W), data: no gradient
            coarse, guides = coarse[:, :3], coarse[:, 3:]  # base (B,3,H,W), rest (B,3k-3,H,W)
        else:
            coarse = self.coarse_net(full_in, valid)  # (B, 3, H, W)
            guides = coarse[:, :0]

        x2 = composite(coarse, x, mask)  # coarse inside the hole, input outside
        parts = [x2, composite(guides, x, mask)] if guides.shape[1] else [x2]
        if self.config.refine_sees_mask:
            parts.append(full_in[:, 3:])
        refine_in = torch.cat(parts, dim=1)  # (B, 3k [+ 2 + e], H, W)
        f = self.config.lowfreq
        if f > 1:
            # Inputs average-pooled (the mask channel becomes each cell's hole fraction);
            # the attention's mask max-pooled: a cell with any hole pixel is no source.
            small_valid = None if valid is None else 1.0 - F.max_pool2d(mask, f)
            out, flow = self.refine_net(
                F.avg_pool2d(refine_in, f), F.max_pool2d(mask, f), small_valid
            )
            out = F.interpolate(out, scale_factor=f, mode="bilinear", align_corners=False)
        else:
            out, flow = self.refine_net(refine_in, mask, valid)  # (B,3,H,W), (B,2,H/4,W/4)
        self.last_flow = flow
        if self.config.residual:
            refined = (x2 + out).clamp(-1.0, 1.0)
        else:
            refined = torch.tanh(out)
        return coarse, refined

    def inpaint(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        coarse: torch.Tensor | None = None,
        sketch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The refined result (B,3,H,W) in [-1, 1]; deterministic (``generator`` unused)."""
        return self.forward(image, mask, sketch, coarse)[1]


class DeepFillV2Vanilla(DeepFillV2):
    """The ``deepfill_v2_vanilla`` ablation: DeepFill v2 with plain convolutions."""

    config_class: ClassVar[type] = DeepFillV2VanillaConfig

    def __init__(self, config: DeepFillV2Config) -> None:
        if config.gated:
            raise ValueError("DeepFillV2Vanilla needs gated=False (use DeepFillV2 instead)")
        super().__init__(config)


class DeepFillV2Partial(DeepFillV2):
    """The ``deepfill_v2_partial`` ablation: DeepFill v2 with partial convolutions."""

    config_class: ClassVar[type] = DeepFillV2PartialConfig

    def __init__(self, config: DeepFillV2Config) -> None:
        if not config.partial:
            raise ValueError("DeepFillV2Partial needs partial=True (use DeepFillV2 instead)")
        super().__init__(config)
