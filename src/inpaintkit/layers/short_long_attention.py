"""Short+long term attention (PIC-Net).

Zheng, Cham, Cai, "Pluralistic Image Completion", CVPR 2019 (arXiv:1903.04227), Sec. 3.4;
the official layer is ``Auto_Attn`` in lyndonzheng/Pluralistic-Inpainting
(model/base_function.py).

Decoder features x (B,C,H,W), N = H*W positions (row-major). A 1x1 conv Q: C -> C/r.
The official code uses r = 4 and the *same* projection for query and key (the energy
matrix is symmetric); SAGAN (Zhang et al. 2019) uses C/8 with separate query and key convs,
which ``reduction=8, shared_qk=False`` reproduces. There is no value projection: the
values are the features themselves, and the energies are not scaled by sqrt(d).

    s_ij  = Q(x_i)^T K(x_j)                          K = Q when shared
    A_ij  = exp(s_ij) / sum_j' exp(s_ij')            (B,N,N), every row sums to 1
    y_i   = gamma * sum_j A_ij x_j + x_i             short term (self-attention)

Long term, when encoder features e (B,C_e,H,W) and the hole mask M (B,1,H,W), 1 = hole,
are given, the *same* map A carries visible encoder context into the hole:

    flow_i = sum_j A_ij e_j
    c_i    = alpha * M_i * flow_i + (1 - M_i) * e_i
    out    = ResBlock([y ; c])                      (C + C_e -> C, residual merge)

gamma = alpha = 0 at initialisation (as in the official code), so without encoder
features the layer starts as the exact identity, and with them the hole part of e cannot
reach the output until alpha leaves 0. A mask of another size is resized bilinearly
(align_corners=True, like the official ``scale_pyramid``). ``known_mask=True`` (imported
official weights) resizes the known-part mask K = 1 - M instead and weighs with
``alpha * (1 - K) * flow + K * e``, the official order of operations (bit-equal on
fractional mask values at the resized borders; otherwise the same formula).

Returns ``(out (B,C,H,W), attention (B,N,N))``. Memory is O(B N^2): N = 1024 at the
official 32x32 placement for 256x256 images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.layers.pic_blocks import ResBlock


class ShortLongAttention(nn.Module):
    """Self-attention over decoder features plus encoder context flow into the hole.

    channels: C of the decoder features; encoder_channels: C_e (default C);
    reduction: query/key width C // reduction (official 4); shared_qk: one conv for
    query and key (official); long_term: build the encoder branch (the official
    discriminator uses the short-term part only); negative_slope: LeakyReLU of the merge
    block (0.01, the official default); spectral_norm: on the merge convs (official;
    ``"official"``: :class:`~inpaintkit.layers.pic_blocks.OfficialSpectralNorm`);
    known_mask: resize the known-part mask as the official code does (see above).
    """

    def __init__(
        self,
        channels: int,
        encoder_channels: int | None = None,
        reduction: int = 4,
        shared_qk: bool = True,
        long_term: bool = True,
        negative_slope: float = 0.01,
        spectral_norm: bool | str = True,
        known_mask: bool = False,
    ) -> None:
        super().__init__()
        if channels < 1 or reduction < 1 or channels // reduction < 1:
            raise ValueError(f"ShortLongAttention: channels={channels} reduction={reduction}")
        inner = channels // reduction
        self.channels = channels
        self.encoder_channels = channels if encoder_channels is None else encoder_channels
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = None if shared_qk else nn.Conv2d(channels, inner, 1)
        for conv in (self.query, self.key):
            if conv is not None:
                # Official init (orthogonal, gain 0.02): energies ~0, attention starts near
                # uniform instead of being dominated by a few random positions.
                nn.init.orthogonal_(conv.weight, gain=0.02)
                nn.init.zeros_(conv.bias)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.known_mask = known_mask
        self.long_term = long_term
        if long_term:
            self.alpha = nn.Parameter(torch.zeros(1))
            # The official merge block: a residual block without normalisation.
            merged = channels + self.encoder_channels
            self.merge = ResBlock(merged, channels, channels, negative_slope, spectral_norm)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B,C,H,W) -> A (B,N,N), softmax over the last axis (keys)."""
        q = self.query(x).flatten(2)  # (B,d,N)
        k = q if self.key is None else self.key(x).flatten(2)
        return torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)

    def forward(
        self,
        decoder_feat: torch.Tensor,
        encoder_feat: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = decoder_feat.shape
        if c != self.channels:
            raise ValueError(f"ShortLongAttention: expected {self.channels} channels, got {c}")
        attn = self.attention_map(decoder_feat)
        attn_t = attn.transpose(1, 2)
        # (B,C,N) @ (B,N,N)^T: output position i = sum_j A_ij x_j
        short = torch.bmm(decoder_feat.flatten(2), attn_t).view(b, c, h, w)
        out = self.gamma * short + decoder_feat
        if encoder_feat is None or not self.long_term:
            return out, attn
        if mask is None:
            raise ValueError("ShortLongAttention: encoder features need the hole mask")
        if encoder_feat.shape[-2:] != (h, w) or encoder_feat.shape[1] != self.encoder_channels:
            raise ValueError(
                f"ShortLongAttention: encoder features {tuple(encoder_feat.shape)} do not match "
                f"({b}, {self.encoder_channels}, {h}, {w})"
            )
        flow = torch.bmm(encoder_feat.flatten(2), attn_t).view_as(encoder_feat)
        if self.known_mask:
            known = _resize(1.0 - mask.to(decoder_feat.dtype), h, w)
            context = self.alpha * (1.0 - known) * flow + known * encoder_feat
        else:
            hole = _resize(mask.to(decoder_feat.dtype), h, w)
            context = self.alpha * hole * flow + (1.0 - hole) * encoder_feat
        return self.merge(torch.cat([out, context], dim=1)), attn


def _resize(mask: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if mask.shape[-2:] == (h, w):
        return mask
    return F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=True)
