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
(``scores = F_patches^T @ B_patches`` of shape ``(B, h*w, Lb)``, so that the softmax
reduces over the contiguous axis; ``y = fold(raw_patches @ a^T)``), so there is no loop
over the batch; ``fold`` is the adjoint of ``unfold``, i.e. the official transposed conv.
The fuse is a custom autograd function of in-place shifted adds on views of the score
tensor (it is self-adjoint, so its backward is itself): no padding, permutes or copies of
the scores beyond one clone per pass. Logits far below the best are clamped so that no
weight is a float32 subnormal (see ``LOGIT_RANGE``). While tracing or
exporting to ONNX, equivalent functional versions of the fuse and of ``fold`` are used
(tested equal), so the layer exports with the TorchScript-based ONNX exporter.

Differences from the official TensorFlow code, on purpose:

* both foreground and background patches are L2-normalised (the paper's cosine
  similarity); the official code normalises only the background, which makes the softmax
  temperature depend on the foreground feature magnitude;
* fuse: the official code flattens both grids and convolves with ``eye(3)``, so its
  left-right propagation wraps from the end of one row to the start of the next (and the
  top-down one between columns); here the propagation stops at the border, i.e.
  ``s'[(i,j),(a,b)] = sum_{e,d} s[(i+e, j+d), (a+e, b+d)]``, |d|, |e| <= fuse_k // 2;
* unavailable background patches are excluded from the softmax (their weight is exactly
  0) instead of having their score set to 0 and staying in the denominator, so the
  attention weights sum to 1 over the available patches;
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


def _grid(size: int, stride: int) -> int:
    """Number of patches along an axis (padding ksize//2): ceil(size / stride), in integer
    arithmetic so that traced sizes stay symbolic (dynamic axes in ONNX)."""
    return (size - 1) // stride + 1


def _tracing() -> bool:
    """True while tracing / exporting to ONNX: use the functional (no in-place) paths."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def _shift_add(scores: torch.Tensor, k: int, dim_a: int, dim_b: int) -> torch.Tensor:
    """``out[.., i, .., j, ..] = sum_d scores[.., i + d, .., j + d, ..]`` over |d| <= k//2
    along axes ``dim_a`` (a foreground grid axis) and ``dim_b`` (the same background grid
    axis) together, zero beyond the border: the identity-kernel conv of the official fuse."""
    out = scores.clone()
    for d in range(1, k // 2 + 1):
        n_a, n_b = scores.shape[dim_a], scores.shape[dim_b]
        if d >= n_a or d >= n_b:
            break
        hi, lo = scores.narrow(dim_a, d, n_a - d), scores.narrow(dim_a, 0, n_a - d)
        out.narrow(dim_a, 0, n_a - d).narrow(dim_b, 0, n_b - d).add_(hi.narrow(dim_b, d, n_b - d))
        out.narrow(dim_a, d, n_a - d).narrow(dim_b, d, n_b - d).add_(lo.narrow(dim_b, 0, n_b - d))
    return out


def _fuse_scores(scores: torch.Tensor, k: int) -> torch.Tensor:
    """scores ``(B, h, w, hq, wq)`` (foreground grid, background patch grid): left-right
    (axes 2 and 4), then top-down (axes 1 and 3)."""
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


def _fuse_functional(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Same as :func:`_fuse_scores` with padding and slices only (no in-place writes), for
    tracing / ONNX export, where the in-place adds on views would not be recorded."""
    p = k // 2
    _, h, w, hq, wq = scores.shape
    padded = F.pad(scores, (p, p, 0, 0, p, p))  # pad w and wq
    out = sum(padded[:, :, d : d + w, :, d : d + wq] for d in range(k))
    padded = F.pad(out, (0, 0, p, p, 0, 0, p, p))  # pad h and hq
    return sum(padded[:, d : d + h, :, d : d + hq] for d in range(k))


def _fold_functional(cols: torch.Tensor, rate: int, h: int, w: int) -> torch.Tensor:
    """``F.fold(cols, ((h+1)*r, (w+1)*r), 2r, stride=r)`` from pads and reshapes, for ONNX
    export (whose ``Col2Im`` needs a constant output size): patch row ``a*r + u`` of grid
    row ``i`` lands in block row ``i + a``, sub-row ``u``."""
    batch = cols.shape[0]
    cols = cols.view(batch, -1, 2, rate, 2, rate, h, w)
    out = 0
    for a in range(2):
        for b in range(2):
            part = cols[:, :, a, :, b].permute(0, 1, 4, 2, 5, 3)  # (B, C, h, r, w, r)
            part = part.reshape(batch, -1, h * rate, w * rate)
            out = out + F.pad(part, (b * rate, (1 - b) * rate, a * rate, (1 - a) * rate))
    return out


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
        """(B, 1, Lb) bool: background patch q neither matches nor pastes hole pixels."""
        r, s, k = self.rate, self.stride, self.ksize
        batch, _, hb, wb = b.shape
        n = _grid(hb // r, s) * _grid(wb // r, s)
        if mask is None:
            return torch.ones(batch, 1, n, dtype=torch.bool, device=b.device)
        hole = (mask > 0.5).to(b.dtype).expand(batch, -1, -1, -1)
        low = F.max_pool2d(hole, r, r)  # any hole pixel in the r x r block
        touch_match = F.max_pool2d(low, k, s, padding=k // 2)
        padded = F.pad(hole, (r // 2, r - r // 2, r // 2, r - r // 2))
        touch_paste = F.max_pool2d(padded, 2 * r, r * s)
        touched = torch.maximum(touch_match, touch_paste)  # (B, 1, hq, wq)
        return (touched < 0.5).flatten(1).unsqueeze(1)

    def attention(
        self, foreground: torch.Tensor, background: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """Attention weights ``a`` ``(B, Lb, h, w)``: for each foreground position at 1/rate
        resolution ``(h, w)``, a distribution over the ``Lb`` background patches (row-major
        on the patch grid). Zero for patches touching the hole; sums to 1 over the others
        (all zero when there is none)."""
        if not _tracing():  # shape checks would be frozen into the trace as constants
            self._check(foreground, background, mask)
        attn = self._attention(foreground, self._zero_hole(background, mask), mask)
        attn = attn * self._any_available(mask, background)
        h, w = foreground.shape[-2] // self.rate, foreground.shape[-1] // self.rate
        return attn.view(attn.shape[0], h, w, -1).permute(0, 3, 1, 2)

    def _any_available(self, mask: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
        """(B, 1, 1) float: 1 where the sample has at least one available patch."""
        available = self._available(mask, b)
        return available.any(dim=2, keepdim=True).to(b.dtype)

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
        hq, wq = _grid(b.shape[-2], s), _grid(b.shape[-1], s)

        f_patches = F.unfold(f, k, padding=k // 2)  # (B, C*k*k, h*w)
        b_patches = F.unfold(b, k, padding=k // 2, stride=s)  # (B, C*k*k, Lb)
        # The softmax scale is folded into the foreground normalisation (the fuse is linear).
        f_norm = f_patches.norm(dim=1, keepdim=True).clamp_min(1e-4)
        f_patches = f_patches * (self.softmax_scale / f_norm)
        b_patches = b_patches / b_patches.norm(dim=1, keepdim=True).clamp_min(1e-4)
        # Layout (B, h*w, Lb): the softmax, max and argmax reduce over the contiguous axis.
        logits = torch.bmm(f_patches.transpose(1, 2), b_patches)  # (B, h*w, Lb)

        if self.fuse:
            fuse = _fuse_functional if _tracing() else _Fuse.apply
            logits = fuse(logits.view(batch, h, w, hq, wq), self.fuse_k)
            logits = logits.view(batch, h * w, hq * wq)

        available = self._available(mask, background)  # (B, 1, Lb)
        # Softmax over the available patches only. It is shift-invariant: subtract the best
        # available logit, then (outside autograd: a value change of < 1e-13 in the weights)
        # clamp logits more than LOGIT_RANGE below it, so that no weight is a float32
        # subnormal (subnormals make the CPU matrix products below ~100x slower), and set
        # unavailable patches far below, so that exp() gives them exactly 0.
        bias = torch.zeros_like(available, dtype=logits.dtype)
        bias = bias.masked_fill_(~available, torch.finfo(logits.dtype).min)
        logits = logits + bias
        logits = logits - logits.amax(dim=2, keepdim=True).detach()
        with torch.no_grad():
            logits.clamp_min_(-LOGIT_RANGE).masked_fill_(~available, -8 * LOGIT_RANGE)
        # A sample without any available patch gets a uniform softmax here; the callers
        # multiply by ``any_available`` (cheaper than another pass over the scores).
        return logits.softmax(dim=2)  # (B, h*w, Lb)

    def forward(
        self,
        foreground: torch.Tensor,
        background: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r, s = self.rate, self.stride
        batch, channels, height, width = foreground.shape
        if not _tracing():  # shape checks would be frozen into the trace as constants
            self._check(foreground, background, mask)
        background = self._zero_hole(background, mask)
        attn = self._attention(foreground, background, mask)  # (B, h*w, Lb)
        h, w = height // r, width // r

        # Raw (2r x 2r) background patches at full resolution, stride r*s, "SAME" padding.
        lo, hi = r // 2, r - r // 2
        raw = F.unfold(F.pad(background, (lo, hi, lo, hi)), 2 * r, stride=r * s)
        cols = torch.bmm(raw, attn.transpose(1, 2))  # (B, C*4r^2, h*w)
        if _tracing():
            out = _fold_functional(cols, r, h, w)
        else:
            out = F.fold(cols, (height + r, width + r), 2 * r, stride=r)
        some = self._any_available(mask, background).unsqueeze(-1)  # (B, 1, 1, 1)
        out = out[:, :, lo : lo + height, lo : lo + width] * (some / 4.0)  # (B, C, H, W)

        flow = self._flow(attn, h, w, background.shape[-1]) * some  # (B, 2, H, W)
        return out, flow

    @torch.no_grad()
    def _flow(self, attn: torch.Tensor, h: int, w: int, bg_width: int) -> torch.Tensor:
        """attn (B, h*w, Lb) -> (dy, dx) to the most attended patch, (B, 2, H, W)."""
        r, s = self.rate, self.stride
        wq = _grid(bg_width // r, s)
        best = attn.argmax(dim=2).view(-1, h, w)  # (B, h, w)
        ys = torch.arange(h, device=attn.device).view(1, h, 1)
        xs = torch.arange(w, device=attn.device).view(1, 1, w)
        dy = (best // wq) * s - ys
        dx = (best % wq) * s - xs
        flow = torch.stack((dy, dx), dim=1).to(attn.dtype) * r  # input-pixel units
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
