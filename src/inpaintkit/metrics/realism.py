"""Realism of a fill without a pretrained network: the sliced Wasserstein distance (SWD)
between the 7x7 patches centred in the hole of the result and of the original.

The idea is the patch SWD of Karras et al. 2018, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation", Sec. 5: compare the *distributions* of local
Laplacian-pyramid patches, not pixels at the same place, so a plausible texture that is
shifted scores well and a blur (which PSNR rewards) scores badly. Here it is computed per
image pair and only where the model invented content:

1. Laplacian pyramid (OpenCV ``pyrDown`` / ``pyrUp``: the 5x5 binomial kernel
   ``[1,4,6,4,1]^T [1,4,6,4,1] / 256``, reflect-101 borders) of result R and original O,
   float32 in grey levels: ``G_0 = image``, ``G_{l+1} = pyrDown(G_l)``,
   ``L_l = G_l - pyrUp(G_{l+1})``; the two finest bands ``L_0`` (H,W,3) and ``L_1``
   (ceil(H/2),ceil(W/2),3) are used.
2. The hole per level: ``M_0 = hole``, ``M_{l+1} = pyrDown(M_l)``; a pixel of level l is a
   patch centre when ``M_l >= 0.5`` (the same Gaussian weighting as the band itself).
3. Patches: the 7x7x3 neighbourhoods of ``L_l`` (reflect-101 padding of 3 px) at the N
   centres, flattened in (channel, dy, dx) order: ``P^R, P^O`` of shape (N, 147), the same
   positions for both, so the two sets always have the same size.
4. Each of the 147 dimensions is normalised by the *original's* statistics:
   ``x -> (x - mu_O) / max(sigma_O, 1)`` (population std; the floor of one grey level
   keeps near-flat originals from inflating quantisation noise). Subtracting ``mu_O``
   shifts both sets' projections alike, which leaves W1 unchanged, so the code only divides.
5. 128 fixed random unit directions ``theta_j`` in R^147 (standard normal draws with
   ``numpy.random.default_rng(2018)``, normalised; the metric is deterministic).
   For each, the 1-D Wasserstein-1 distance of the two projected sets of N points is
   ``W1_j = (1/N) sum_i |sort(P^R theta_j)_i - sort(P^O theta_j)_i|``;
   ``SWD_l = mean_j W1_j``.
6. ``realism = 1000 * mean_l SWD_l`` over the levels with at least 16 centres; NaN when no
   level has that many (no hole, or one too small to have a patch distribution).

Lower is better; identical images give exactly 0. On 40 val pairs (256 px) a Gaussian blur
(sigma 3) of the whole image scores about 490 and Gaussian noise (sigma 25) about 750 (the
review's one photo: 450 and 740). It punishes blur and smears that PSNR rewards, but the
two finest bands carry no colour or brightness: a flat grey hole has no detail to compare
and only the step at its border, and on 3 val photos it scored better than Telea's streaks
in the 20-50 % buckets. Use it beside PSNR / SSIM / L1, never alone.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import torch

PATCH = 7  # patch side (px) at every level
LEVELS = 2  # the finest Laplacian bands used
DIRECTIONS = 128  # random projections
SEED = 2018
MIN_CENTRES = 16  # fewer patch centres on a level: the level is skipped
STD_FLOOR = 1.0  # grey levels
SCALE = 1000.0  # reported as SWD x 1e3


@functools.lru_cache(maxsize=4)
def projection_directions(dim: int = PATCH * PATCH * 3, count: int = DIRECTIONS,
                          seed: int = SEED) -> np.ndarray:
    """(dim, count) float64: ``count`` unit column vectors, the same for every call."""
    theta = np.random.default_rng(seed).standard_normal((dim, count))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    theta.setflags(write=False)  # cached: shared by every caller
    return theta


def laplacian_levels(image: np.ndarray, levels: int = LEVELS) -> list[np.ndarray]:
    """The ``levels`` finest Laplacian bands of ``image`` (H,W,C) as float32 arrays."""
    gauss = image.astype(np.float32)
    bands = []
    for _ in range(levels):
        down = cv2.pyrDown(gauss)
        up = cv2.pyrUp(down, dstsize=(gauss.shape[1], gauss.shape[0]))
        bands.append((gauss - up).reshape(gauss.shape))
        gauss = down.reshape(down.shape[0], down.shape[1], *gauss.shape[2:])
    return bands


def hole_levels(hole: np.ndarray, levels: int = LEVELS) -> list[np.ndarray]:
    """The patch centres (bool) of each level: the hole, Gaussian-downsampled, >= 0.5."""
    weight = hole.astype(np.float32)
    out = [weight >= 0.5]
    for _ in range(levels - 1):
        weight = cv2.pyrDown(weight)
        out.append(weight >= 0.5)
    return out


def hole_patches(band: np.ndarray, centres: np.ndarray, size: int = PATCH) -> np.ndarray:
    """(N, C*size*size) float32: the size x size patches of ``band`` (h,w,C) centred at the
    True pixels of ``centres`` (h,w), row-major, each flattened in (channel, dy, dx) order."""
    r = size // 2
    padded = np.pad(band, ((r, r), (r, r), (0, 0)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(0, 1))
    ys, xs = np.nonzero(centres)
    return windows[ys, xs].reshape(len(ys), -1)  # the gather (N, C, size, size) is a copy


def _sorted_projections(patches: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """(P, N) float32: the projections of ``patches`` (N,D) on each column of ``directions``
    (D,P), sorted. float32 because projecting and sorting are the whole cost and numpy
    sorts float32 several times faster than float64 (relative error ~1e-6)."""
    # theta^T P^T rather than (P theta)^T: the rows to sort come out contiguous.
    projected = np.asarray(directions.T, np.float32) @ np.asarray(patches, np.float32).T
    return np.sort(projected, axis=1)


def _mean_w1(sorted_a: np.ndarray, sorted_b: np.ndarray) -> float:
    return float(np.abs(sorted_a - sorted_b).mean())  # float32 pairwise sum: error ~1e-6


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """Mean over the columns theta of ``directions`` (D,P) of the 1-D Wasserstein-1 distance
    between the projections ``a @ theta`` and ``b @ theta`` of two sets (N,D) of equal size."""
    if a.shape != b.shape:
        raise ValueError(f"sliced_wasserstein: sets of shapes {a.shape} and {b.shape}")
    return _mean_w1(_sorted_projections(a, directions), _sorted_projections(b, directions))


def _as_hwc(image: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(image, torch.Tensor):  # the tensor layout (3,H,W)
        image = image.detach().cpu().permute(1, 2, 0).numpy()
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H,W,3) uint8 array or (3,H,W) uint8 tensor, got "
                         f"{image.shape} {image.dtype}")
    return image


class PatchSWD:
    """The original's side of :func:`patch_swd`, computed once: ``PatchSWD(original,
    hole)(result)`` scores any number of results of the same (image, hole) pair.

    ``original``: (H,W,3) uint8 array or (3,H,W) uint8 tensor; ``hole``: (H,W) (or (1,H,W)),
    nonzero / True = hole.
    """

    def __init__(self, original: np.ndarray | torch.Tensor, hole: np.ndarray | torch.Tensor) -> None:
        orig = _as_hwc(original)
        if isinstance(hole, torch.Tensor):
            hole = hole.detach().cpu().numpy()
        self.shape = orig.shape
        self.directions = projection_directions()
        hole = np.asarray(hole).reshape(orig.shape[:2]) > 0
        # Per usable level: (index, centres, directions scaled by 1/std, the original's sorted
        # projections). theta . (p - mu) / sigma = (theta / sigma) . p - (theta / sigma) . mu:
        # the second term shifts both sets' projections alike, which W1 of sorted samples
        # ignores, so only the division by the std is carried out.
        self.levels = []
        for index, (band, centres) in enumerate(zip(laplacian_levels(orig), hole_levels(hole), strict=True)):
            if np.count_nonzero(centres) < MIN_CENTRES:
                continue
            patches = hole_patches(band, centres)
            scaled = (self.directions / np.maximum(patches.std(axis=0), STD_FLOOR)[:, None]).astype(np.float32)
            self.levels.append((index, centres, scaled, _sorted_projections(patches, scaled)))

    def __call__(self, result: np.ndarray | torch.Tensor) -> float:
        """SWD x 1e3 of ``result`` (same layout and size as the original); NaN when no level
        has :data:`MIN_CENTRES` patch centres."""
        res = _as_hwc(result)
        if res.shape != self.shape:
            raise ValueError(f"patch_swd: result {res.shape} and original {self.shape} differ")
        if not self.levels:
            return math.nan
        bands = laplacian_levels(res)
        scores = []
        for index, centres, scaled, reference in self.levels:
            scores.append(_mean_w1(_sorted_projections(hole_patches(bands[index], centres), scaled), reference))
        return SCALE * float(np.mean(scores))


def patch_swd(result: np.ndarray | torch.Tensor, original: np.ndarray | torch.Tensor,
              hole: np.ndarray | torch.Tensor) -> float:
    """Hole patch SWD x 1e3 of ``result`` against ``original`` (module docstring).

    ``result``, ``original``: (H,W,3) uint8 arrays or (3,H,W) uint8 tensors; ``hole``:
    (H,W) (or (1,H,W)), nonzero / True = hole. Returns a float >= 0, lower is better;
    NaN when no level has :data:`MIN_CENTRES` patch centres.
    """
    return PatchSWD(original, hole)(result)


__all__ = [
    "DIRECTIONS", "LEVELS", "MIN_CENTRES", "PATCH", "SCALE", "SEED", "STD_FLOOR", "PatchSWD",
    "hole_levels", "hole_patches", "laplacian_levels", "patch_swd", "projection_directions",
    "sliced_wasserstein",
]
