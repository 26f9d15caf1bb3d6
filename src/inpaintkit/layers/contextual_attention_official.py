"""Contextual attention as the official DeepFill code computes it (compatibility mode).

Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR 2018, as in the
official TensorFlow ``contextual_attention`` and the PyTorch port's two versions
(nipponjo/deepfillv2-pytorch, ``model/networks.py`` and ``model/networks_tf.py``). Only
for imported official weights: :class:`~inpaintkit.layers.contextual_attention.ContextualAttention`
is the layer our own models train with. With ``f``, ``b`` the foreground / background
features downsampled by ``rate`` (nearest), ``m`` the hole mask downsampled (nearest) in
one step to that grid, ``P_k(.)`` the ``k x k`` patches (zero padded, stride 1)::

    s[p, q]  = < P_k(f)_p , P_k(b)_q / max(|P_k(b)_q|, 1e-4) >     background normalised only
    s'       = fuse(s)                                  flattened-grid eye(k) conv, twice
    v[q]     = 1 if mean(P_k(m)_q) == 0 else 0          the patch's window has no hole pixel
    a[p, q]  = v[q] * softmax_q( softmax_scale * v[q] * s'[p, q] )
    y        = 1/4 * sum_q a[p, q] * raw_q              as the cosine layer (same paste)

Differences from the cosine layer, all of them the official behaviour:

* the foreground is not normalised (the softmax temperature scales with |f_p|);
* invalid patches get the score 0 and stay in the softmax denominator (the weights of
  the valid ones sum to less than 1), then are multiplied by 0;
* validity: nearest-downsampled mask, 3x3 window mean == 0 (a patch whose raw paste
  window reaches into the hole can still be valid), and the hole content of the
  background is used as it is (not zeroed);
* fuse: the score matrix ``(L_f, L_b)`` of the row-major flattened grids is convolved
  with ``eye(k)``, so the left-right pass runs on from the end of one row into the next
  row; the top-down pass does the same on the column-major flattening;
* ``resize="align_corners"``: the nearest downsampling of TensorFlow's
  ``resize_nearest_neighbor(align_corners=True)`` as the port's ``downsampling_nn_tf``
  computes it (index ``floor(linspace(0, n-1, n/r) + 0.5)``); ``"floor"``: ``x[::r]``
  (PyTorch ``F.interpolate(..., mode="nearest")``, the port's ``networks.py``);
  ``"tf"``: align-corners, and the mask resized in two steps as the TensorFlow release does
  (``resize_mask_like`` to the features' grid, then by ``rate``), not once by ``n*rate``.
* the official code takes the validity of the *first* sample of the batch for all of them;
  here each sample uses its own mask (the same for batch size 1, the official use).

Shapes: foreground / background ``(B, C, H, W)`` (H, W divisible by ``rate``, the same
size: stride 1 only), mask ``(B or 1, 1, n*H/rate, n*W/rate)`` for an integer ``n`` (the
full-resolution image mask; DeepFill: ``n = 8``). Returns ``y (B, C, H, W)`` and ``flow``
``(B, 2, H, W)`` as the cosine layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from inpaintkit.layers.contextual_attention import ContextualAttention

RESIZES = ("floor", "align_corners", "tf")


def _diagonal_sum(scores: torch.Tensor, k: int) -> torch.Tensor:
    """``out[:, i, j] = sum_d scores[:, i + d, j + d]``, |d| <= k//2, zero outside: an
    ``eye(k)`` conv of the ``(N, M)`` matrices. Pads and slices (no in-place writes), so
    that tracing / ONNX export records it."""
    p, (n, m) = k // 2, scores.shape[-2:]
    padded = F.pad(scores, (p, p, p, p))
    return sum(padded[:, d : d + n, d : d + m] for d in range(k))


def nearest_down(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """Nearest-neighbour downsampling of ``(B, C, H, W)`` to ``size`` (integer factors).

    ``"floor"``: row ``i*H/h`` (PyTorch nearest); ``"align_corners"``: row
    ``floor(i*(H-1)/(h-1) + 0.5)`` with the float32 ``linspace`` of the port's
    ``downsampling_nn_tf`` (TensorFlow's align_corners nearest)."""
    (hi, wi), (ho, wo) = x.shape[-2:], size
    if mode == "floor":
        return x[:, :, :: hi // ho, :: wi // wo]
    rows = torch.linspace(0, hi - 1, steps=ho, device=x.device).add_(0.5).floor_().long()
    cols = torch.linspace(0, wi - 1, steps=wo, device=x.device).add_(0.5).floor_().long()
    return x[:, :, rows][..., cols]


class OfficialContextualAttention(ContextualAttention):
    """Contextual attention with the official code's arithmetic (module docstring).

    Args: as :class:`ContextualAttention` (``stride`` must be 1), and ``resize``:
    ``"floor"``, ``"align_corners"`` or ``"tf"``, the nearest downsampling of features and
    mask (module docstring).
    """

    def __init__(self, ksize: int = 3, stride: int = 1, rate: int = 2, fuse_k: int = 3,
                 softmax_scale: float = 10.0, fuse: bool = True, resize: str = "floor") -> None:
        super().__init__(ksize, stride, rate, fuse_k, softmax_scale, fuse)
        if stride != 1:
            raise ValueError(f"official contextual attention: stride must be 1, got {stride}")
        if resize not in RESIZES:
            raise ValueError(f"unknown resize '{resize}' (known: {', '.join(RESIZES)})")
        self.resize = resize

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, official, resize={self.resize}"

    def _check(self, f: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None) -> None:
        super()._check(f, b, None)
        if f.shape[-2:] != b.shape[-2:]:
            raise ValueError(f"official contextual attention: foreground {tuple(f.shape)} and "
                             f"background {tuple(b.shape)} must have the same size")
        h, w = b.shape[-2] // self.rate, b.shape[-1] // self.rate
        if mask is not None and (
            mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[0] not in (1, b.shape[0])
            or mask.shape[-2] % h or mask.shape[-1] % w or mask.shape[-2] // h != mask.shape[-1] // w
        ):
            raise ValueError(f"official contextual attention: mask {tuple(mask.shape)} must be "
                             f"(B or 1, 1, n*{h}, n*{w})")

    @staticmethod
    def _zero_hole(background: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return background  # the official code matches and pastes hole content as it is

    def _any_available(self, mask: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
        # No special case: with no valid patch every weight is multiplied by 0 anyway.
        return b.new_ones(b.shape[0], 1, 1)

    def _valid(self, mask: torch.Tensor | None, b_low: torch.Tensor) -> torch.Tensor:
        """(B, 1, Lb) float 0/1: the k x k window of the downsampled mask has no hole."""
        batch, _, h, w = b_low.shape
        if mask is None:
            return b_low.new_ones(batch, 1, h * w)
        if self.resize == "tf":  # two steps pick other rows than one (TF release, module docstring)
            mask = nearest_down(mask, (h * self.rate, w * self.rate), self.resize)
        m = nearest_down(mask.to(b_low.dtype), (h, w), self.resize).expand(batch, -1, -1, -1)
        window = F.unfold(m, self.ksize, padding=self.ksize // 2)  # (B, k*k, Lb)
        return (window.mean(dim=1, keepdim=True) == 0).to(b_low.dtype)

    def _wrap_fuse(self, scores: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """scores (B, h*w, h*w) on row-major grids -> the official fuse (module docstring)."""
        k, batch = self.fuse_k, scores.shape[0]
        scores = _diagonal_sum(scores, k)  # along the row-major flattening, rows wrap
        cols = scores.view(batch, h, w, h, w).permute(0, 2, 1, 4, 3).reshape(batch, h * w, h * w)
        cols = _diagonal_sum(cols, k)  # along the column-major flattening
        return cols.view(batch, w, h, w, h).permute(0, 2, 1, 4, 3).reshape(batch, h * w, h * w)

    def _attention(
        self, foreground: torch.Tensor, background: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        r, k = self.rate, self.ksize
        size = (foreground.shape[-2] // r, foreground.shape[-1] // r)
        f = nearest_down(foreground, size, self.resize)  # (B, C, h, w)
        b = nearest_down(background, size, self.resize)
        f_patches = F.unfold(f, k, padding=k // 2)  # (B, C*k*k, h*w)
        b_patches = F.unfold(b, k, padding=k // 2)  # (B, C*k*k, Lb), Lb = h*w
        b_patches = b_patches / b_patches.norm(dim=1, keepdim=True).clamp_min(1e-4)
        scores = torch.bmm(f_patches.transpose(1, 2), b_patches)  # (B, h*w, Lb)
        if self.fuse:
            scores = self._wrap_fuse(scores, *size)
        valid = self._valid(mask, b)  # (B, 1, Lb)
        return torch.softmax(scores * valid * self.softmax_scale, dim=2) * valid
