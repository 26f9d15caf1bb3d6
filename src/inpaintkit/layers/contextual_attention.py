"""Contextual attention (DeepFill v1, used unchanged in DeepFill v2).

Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018, sec. 3.2.
For every foreground position ``p`` and background patch ``q`` (both matched at 1/rate
resolution, ``ksize x ksize`` patches, stride 1)::

    s[q, p]  = < f_p / |f_p| , b_q / |b_q| >             cosine similarity
    s'       = fuse(s)                                    identity-kernel conv over (p, q):
                                                          left-right, then top-down
    a[q, p]  = softmax_q( softmax_scale * s'[q, p] )      only over background patches
                                                          that do not touch the hole
    y        = 1/4 * sum_q a[q, p] * raw_q                raw_q: the (2*rate)x(2*rate) patch
                                                          of the full-resolution background,
                                                          pasted by a transposed conv
                                                          (every pixel gets 4 overlapping
                                                          patches, hence the 1/4)

Shapes: foreground ``(B, C, H, W)``, background ``(B, C, Hb, Wb)``, mask ``(B or 1, 1, Hb,
Wb)`` (1 = hole, at the background's resolution); H, W, Hb, Wb divisible by ``rate``.
Returns ``y`` ``(B, C, H, W)`` and ``flow`` ``(B, 2, H, W)``: for each position the
displacement ``(dy, dx)`` in input pixels to the background patch it attends to most (zero
where no background patch is available); :func:`flow_to_image` colour-codes it.

Implementation: everything is batched matrix products on unfolded patches
(``scores = B_patches^T @ F_patches``, ``y = fold(raw_patches @ a)``), so there is no loop
over the batch; ``fold`` is the adjoint of ``unfold``, i.e. the official transposed conv.
The fuse is a custom autograd function of in-place shifted adds on views of the score
tensor (it is self-adjoint, so its backward is itself): no padding, permutes or copies of
the ``(B, Lb, h*w)`` scores beyond one clone per pass. Logits far below the best are
clamped so that no weight is a float32 subnormal (see ``LOGIT_RANGE``).

Differences from the official TensorFlow code, on purpose:

* both foreground and background patches are L2-normalised (the paper's cosine
  similarity); the official code normalises only the background, which makes the softmax
  temperature depend on the foreground feature magnitude;
* fuse: the official code flattens both grids and convolves with ``eye(3)``, so its
  left-right propagation wraps from the end of one row to the start of the next (and the
  top-down one between columns); here the propagation stops at the border, i.e.
  ``s'[(i,j),(a,b)] = sum_{e,d} s[(i+e, j+d), (a+e, b+d)]``, |d|, |e| <= fuse_k // 2;
* unavailable background patches are excluded from the softmax (logit -inf) instead of
  having their score set to 0 and staying in the denominator, so the attention weights sum
  to 1 over the available patches;
* the hole mask is downsampled with "any hole pixel" (max pooling) rather than nearest, and
  a patch is unavailable when its matching window or its raw paste window touches the hole,
  so pasted content never comes from the hole; the background is also zeroed inside the
  hole before matching, so the fused scores of neighbouring patches cannot depend on
  what the hole contains: the output is exactly invariant to the background's hole content.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOGIT_RANGE = 30.0  # see ContextualAttention._attention


def _shift_add(scores: torch.Tensor, k: int, dim_bg: int, dim_fg: int) -> torch.Tensor:
    """``out[.., i, .., a, ..] = sum_d scores[.., i + d, .., a + d, ..]`` over |d| <= k//2
    along background grid axis ``dim_bg`` and foreground grid axis ``dim_fg`` together
    (zero beyond the border): the identity-kernel convolution of the official fuse."""
    out = scores.clone()
    for d in range(1, k // 2 + 1):
        n_bg, n_fg = scores.shape[dim_bg], scores.shape[dim_fg]
        if d >= n_bg or d >= n_fg:
            break
        hi_bg, lo_bg = scores.narrow(dim_bg, d, n_bg - d), scores.narrow(dim_bg, 0, n_bg - d)
        out.narrow(dim_bg, 0, n_bg - d).narrow(dim_fg, 0, n_fg - d).add_(
            hi_bg.narrow(dim_fg, d, n_fg - d)
        )
        out.narrow(dim_bg, d, n_bg - d).narrow(dim_fg, d, n_fg - d).add_(
            lo_bg.narrow(dim_fg, 0, n_fg - d)
        )
    return out


def _fuse_scores(scores: torch.Tensor, k: int) -> torch.Tensor:
    """scores ``(B, hq, wq, h, w)``: left-right (axes 2 and 4), then top-down (1 and 3)."""
    return _shift_add(_shift_add(scores, k, 2, 4), k, 1, 3)


class _Fuse(torch.autograd.Function):
    """The fuse as an autograd function: it is a symmetric linear map (each shift pairs
    with its opposite, and the two passes commute), so the gradient is the fuse of the
    gradient. Saves nothing for backward."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, k: int) -> torch.Tensor:  # type: ignore[override]
        ctx.k = k
        return _fuse_scores(scores, k)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return _fuse_scores(grad, ctx.k), None


class ContextualAttention(nn.Module):
    """Fill a hole by attending to known background patches (see the module docstring).

    Args:
        ksize: matching patch size (odd), at 1/rate resolution.
        stride: stride between background patches (at 1/rate resolution).
        rate: downsampling factor for matching; raw patches are ``2*rate`` wide.
        fuse_k: size of the identity fuse kernel (odd).
        softmax_scale: softmax temperature multiplier (10 in the paper).
        fuse: apply the fuse step (encourages coherent, larger patches).
    """

    def __init__(
        self,
        ksize: int = 3,
        stride: int = 1,
        rate: int = 2,
        fuse_k: int = 3,
        softmax_scale: float = 10.0,
        fuse: bool = True,
    ) -> None:
        super().__init__()
        if ksize % 2 != 1 or fuse_k % 2 != 1:
            raise ValueError(f"ksize and fuse_k must be odd, got {ksize}, {fuse_k}")
        if rate < 1 or stride < 1:
            raise ValueError(f"rate and stride must be >= 1, got {rate}, {stride}")
        self.ksize = ksize
        self.stride = stride
        self.rate = rate
        self.fuse_k = fuse_k
        self.softmax_scale = softmax_scale
        self.fuse = fuse

    def extra_repr(self) -> str:
        return (
            f"ksize={self.ksize}, stride={self.stride}, rate={self.rate}, "
            f"fuse_k={self.fuse_k if self.fuse else 0}, softmax_scale={self.softmax_scale}"
        )

    # -- the pieces ----------------------------------------------------------------------

    def _check(self, f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> None:
        r = self.rate
        if f.ndim != 4 or b.ndim != 4 or f.shape[:2] != b.shape[:2]:
            raise ValueError(
                f"contextual attention: foreground {tuple(f.shape)} and background "
                f"{tuple(b.shape)} must be (B,C,H,W) with the same B and C"
            )
        for name, t in (("foreground", f), ("background", b)):
            if t.shape[-2] % r or t.shape[-1] % r:
                raise ValueError(f"contextual attention: {name} size {tuple(t.shape[-2:])} "
                                 f"is not divisible by rate {r}")
        if mask is not None and (
            mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[-2:] != b.shape[-2:]
            or mask.shape[0] not in (1, b.shape[0])
        ):
            raise ValueError(f"contextual attention: mask {tuple(mask.shape)} must be "
                             f"(B or 1, 1, {b.shape[-2]}, {b.shape[-1]})")

    def _available(self, mask: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
        """(B, Lb, 1) bool: background patch q neither matches nor pastes hole pixels."""
        r, s, k = self.rate, self.stride, self.ksize
        batch, _, hb, wb = b.shape
        n = math.ceil(hb // r / s) * math.ceil(wb // r / s)
        if mask is None:
            return torch.ones(batch, n, 1, dtype=torch.bool, device=b.device)
        hole = (mask > 0.5).to(b.dtype).expand(batch, -1, -1, -1)
        low = F.max_pool2d(hole, r, r)  # any hole pixel in the r x r block
        touch_match = F.max_pool2d(low, k, s, padding=k // 2)
        padded = F.pad(hole, (r // 2, r - r // 2, r // 2, r - r // 2))
        touch_paste = F.max_pool2d(padded, 2 * r, r * s)
        touched = torch.maximum(touch_match, touch_paste)  # (B, 1, hq, wq)
        return (touched < 0.5).flatten(1).unsqueeze(-1)

    def attention(
        self, foreground: torch.Tensor, background: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Attention weights ``a`` ``(B, Lb, h, w)``: for each foreground position at 1/rate
        resolution ``(h, w)``, a distribution over the ``Lb`` background patches (row-major
        on the patch grid). Zero for patches touching the hole; sums to 1 over the others
        (all zero when there is none)."""
        self._check(foreground, background, mask)
        return self._attention(foreground, self._zero_hole(background, mask), mask)

    @staticmethod
    def _zero_hole(background: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        # Hole content must not influence anything (see the module docstring).
        return background if mask is None else background.masked_fill(mask > 0.5, 0.0)

    def _attention(
        self, foreground: torch.Tensor, background: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        r, s, k = self.rate, self.stride, self.ksize
        f = foreground[:, :, ::r, ::r]  # (B, C, h, w), nearest downsampling as official
        b = background[:, :, ::r, ::r]  # (B, C, hb, wb)
        batch, _, h, w = f.shape
        hq, wq = math.ceil(b.shape[-2] / s), math.ceil(b.shape[-1] / s)

        f_patches = F.unfold(f, k, padding=k // 2)  # (B, C*k*k, h*w)
        b_patches = F.unfold(b, k, padding=k // 2, stride=s)  # (B, C*k*k, Lb)
        # The softmax scale is folded into the foreground normalisation (the fuse is linear).
        f_norm = f_patches.norm(dim=1, keepdim=True).clamp_min(1e-4)
        f_patches = f_patches * (self.softmax_scale / f_norm)
        b_patches = b_patches / b_patches.norm(dim=1, keepdim=True).clamp_min(1e-4)
        logits = torch.bmm(b_patches.transpose(1, 2), f_patches)  # (B, Lb, h*w)

        if self.fuse:
            logits = _Fuse.apply(logits.view(batch, hq, wq, h, w), self.fuse_k)
            logits = logits.view(batch, hq * wq, h * w)

        available = self._available(mask, background)  # (B, Lb, 1)
        logits = logits.masked_fill_(~available, torch.finfo(logits.dtype).min)
        # Softmax is shift-invariant; logits more than LOGIT_RANGE below the best are
        # clamped, giving those patches weights < 1e-13 instead of float32 subnormals
        # (which make the CPU matrix products below ~10x slower). Unavailable patches
        # are zeroed after the softmax; with no available patch everything is zero.
        best = logits.amax(dim=1, keepdim=True).detach()
        logits = (logits - best).clamp_min_(-LOGIT_RANGE)
        attn = logits.softmax(dim=1).masked_fill(~available, 0.0)
        return attn.view(batch, hq * wq, h, w)

    def forward(
        self,
        foreground: torch.Tensor,
        background: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r, s = self.rate, self.stride
        batch, channels, height, width = foreground.shape
        self._check(foreground, background, mask)
        background = self._zero_hole(background, mask)
        attn = self._attention(foreground, background, mask)  # (B, Lb, h, w)
        _, n_bg, h, w = attn.shape

        # Raw (2r x 2r) background patches at full resolution, stride r*s, "SAME" padding.
        lo, hi = r // 2, r - r // 2
        raw = F.unfold(F.pad(background, (lo, hi, lo, hi)), 2 * r, stride=r * s)
        cols = torch.bmm(raw, attn.view(batch, n_bg, h * w))  # (B, C*4r^2, h*w)
        out = F.fold(cols, (height + r, width + r), 2 * r, stride=r)
        out = out[:, :, lo : lo + height, lo : lo + width] / 4.0  # (B, C, H, W)

        flow = self._flow(attn, background.shape[-1])  # (B, 2, H, W)
        return out, flow

    @torch.no_grad()
    def _flow(self, attn: torch.Tensor, bg_width: int) -> torch.Tensor:
        r, s = self.rate, self.stride
        batch, _, h, w = attn.shape
        wq = math.ceil(bg_width // r / s)
        best = attn.argmax(dim=1)  # (B, h, w)
        ys = torch.arange(h, device=attn.device).view(1, h, 1)
        xs = torch.arange(w, device=attn.device).view(1, 1, w)
        dy = (best // wq) * s - ys
        dx = (best % wq) * s - xs
        flow = torch.stack((dy, dx), dim=1).to(attn.dtype) * r  # input-pixel units
        flow = flow * (attn.sum(dim=1, keepdim=True) > 0)  # no available patch: no flow
        return flow.repeat_interleave(r, dim=2).repeat_interleave(r, dim=3)


def _color_wheel() -> torch.Tensor:
    """The Middlebury flow colour wheel, ``(55, 3)`` RGB in [0, 1]."""
    corners = [(1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 1, 1), (0, 0, 1), (1, 0, 1)]
    lengths = [15, 6, 4, 11, 13, 6]  # red-yellow, yellow-green, ... as in Baker et al.
    rows = []
    for i, n in enumerate(lengths):
        a = torch.tensor(corners[i], dtype=torch.float32)
        b = torch.tensor(corners[(i + 1) % 6], dtype=torch.float32)
        t = (torch.floor(255 * torch.arange(n) / n) / 255).unsqueeze(1)
        rows.append(a + (b - a) * t)
    return torch.cat(rows)


def flow_to_image(flow: torch.Tensor) -> torch.Tensor:
    """Colour-code a flow ``(B, 2, H, W)`` (dy, dx) as an image ``(B, 3, H, W)`` in [-1, 1].

    Hue = direction, saturation = magnitude relative to each sample's largest displacement
    (white = no displacement), as in the Middlebury visualisation the official code uses.
    """
    wheel = _color_wheel().to(flow.device)
    n = wheel.shape[0]
    flow = flow.detach().float()
    dy, dx = flow[:, 0], flow[:, 1]
    rad = torch.sqrt(dx * dx + dy * dy)
    max_rad = rad.flatten(1).amax(dim=1).clamp_min(1e-6).view(-1, 1, 1)
    rad = rad / max_rad
    angle = torch.atan2(-dy, -dx) / math.pi  # [-1, 1]
    fk = (angle + 1) / 2 * (n - 1)
    k0 = fk.floor().long().clamp(0, n - 1)
    k1 = (k0 + 1) % n
    frac = (fk - k0).unsqueeze(-1)
    col = (1 - frac) * wheel[k0] + frac * wheel[k1]  # (B, H, W, 3)
    rad = rad.unsqueeze(-1)
    col = torch.where(rad <= 1, 1 - rad * (1 - col), col * 0.75)
    return col.permute(0, 3, 1, 2) * 2 - 1
