"""Structure from a user's strokes: the low frequencies of a hole, filled side by side.

The sketch-guided classical fills (:mod:`.classical`, ``patchmatch_lf`` with a sketch) need
to know, for each hole pixel, which known pixels lie on its side of the lines the user
drew. Both pieces here treat a set of *barrier* pixels (the strokes inside the hole; the
known region's own edges as extra walls changed nothing measurable) as walls that colour
does not cross:

* :func:`barrier_fill`: the membrane (harmonic) interpolation of the hole. Each hole pixel
  ``p`` solves ``sum_q w_pq (u_p - u_q) = 0`` over its 4-neighbours ``q`` (a known ``q``
  is the boundary value), with ``w_pq = 1``, or ``w_pq = EPS`` when ``p`` or ``q`` is a
  barrier pixel. An 8-connected 1-px stroke cuts every 4-connected path, so each side of a
  stroke that crosses the hole takes its colour from the known pixels on its own side:
  which side is brighter comes from the photo. Around the end of a stroke the membrane
  flows as usual. One sparse LU factorisation (SuperLU) per image, 3 right-hand sides.
  Without barriers this is the harmonic (Laplace) fill; the guidance is the weights, after
  Sun et al., "Image Completion with Structure Propagation", SIGGRAPH 2005 (structure
  first, along the user's curves, then texture).
* :func:`barrier_blur`: a Gaussian-like low-pass (sigma ``s`` px) that stops at barriers:
  the recursive filter of the domain transform (E. Gastal, M. Oliveira, "Domain Transform
  for Edge-Aware Image and Video Processing", SIGGRAPH 2011), ``y[n] = (1 - a_n) x[n] +
  a_n y[n-1]`` along rows and columns, both directions, ``a_n = exp(-sqrt(2) / s_k)`` and
  ``a_n = 0`` where the link from ``n-1`` to ``n`` touches a barrier (the filter restarts
  there), three iterations with the paper's decreasing ``s_k`` so the 2-D result has about
  ``s`` standard deviation.
* :func:`structured_fill`: the sketch-guided ``patchmatch_lf``, ``pm + B_8(S - pm)`` in the
  hole (``S`` the membrane fill, ``pm`` PatchMatch's texture, ``B_8`` the barrier blur of
  sigma 8 px; unguided, ``patchmatch_lf`` is ``pm + G_8(smooth - pm)``).

Shapes: images (H,W,C) float32, masks (H,W) bool; :func:`barrier_fill` leaves pixels outside
``region`` (the hole) as they are. Pure numpy/scipy: no OpenCV here (``classical.py`` runs
PatchMatch and passes its result in).
"""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-3  # the weight of a link that touches a barrier: colour leaks ~1000x slower
BLUR_ITERATIONS = 3


def _links(h: int, w: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Flat indices (a, b) of every horizontal and vertical 4-neighbour pair."""
    idx = np.arange(h * w).reshape(h, w)
    return [(idx[:, :-1].ravel(), idx[:, 1:].ravel()), (idx[:-1, :].ravel(), idx[1:, :].ravel())]


def barrier_fill(image: np.ndarray, region: np.ndarray, barrier: np.ndarray) -> np.ndarray:
    """The membrane fill (module docstring) of ``image`` (H,W,C) float at ``region`` (H,W)
    bool, links that touch ``barrier`` (H,W) bool weighted :data:`EPS`; (H,W,C) float32,
    ``image`` outside ``region``."""
    from scipy.sparse import csc_matrix  # only a sketch needs it: keeps `import inpaintkit` light
    from scipy.sparse.linalg import splu

    h, w = region.shape
    flat_region, flat_barrier = region.ravel(), barrier.ravel()
    unknown = np.flatnonzero(flat_region)
    out = np.array(image, dtype=np.float32, copy=True)
    if unknown.size == 0:
        return out
    values = out.reshape(h * w, -1)
    order = np.full(h * w, -1, dtype=np.int64)
    order[unknown] = np.arange(unknown.size)
    rows, cols, data = [], [], []
    diag = np.zeros(unknown.size, dtype=np.float64)
    rhs = np.zeros((unknown.size, values.shape[1]), dtype=np.float64)
    for a, b in _links(h, w):
        keep = flat_region[a] | flat_region[b]
        a, b = a[keep], b[keep]
        weight = np.where(flat_barrier[a] | flat_barrier[b], EPS, 1.0)
        for p, q in ((a, b), (b, a)):  # each link enters the equation of both ends
            mine = flat_region[p]
            p_, q_, wt = order[p[mine]], q[mine], weight[mine]
            np.add.at(diag, p_, wt)
            inside = flat_region[q_]
            rows.append(p_[inside])
            cols.append(order[q_[inside]])
            data.append(-wt[inside])
            np.add.at(rhs, p_[~inside], wt[~inside, None] * values[q_[~inside]])
    n = unknown.size
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    data.append(diag + 1e-9)  # a hole with no known neighbour at all stays solvable
    matrix = csc_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    # The matrix is symmetric: minimum degree on A^T + A orders a grid Laplacian ~30 % faster
    # than the default COLAMD (0.73 s vs 1.0 s for 71k unknowns, 512 px, 27 % hole).
    lu = splu(matrix, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    values[unknown] = lu.solve(rhs).astype(np.float32)
    return out


def _recursive_pass(x: np.ndarray, coeff: np.ndarray, axis: int) -> None:
    """In place: left-to-right then right-to-left first-order recursion along ``axis`` of
    ``x`` (H,W,C); ``coeff`` (H,W) holds each pixel's feedback from its predecessor."""
    n = x.shape[axis]
    take = (lambda i: (slice(None), i)) if axis == 1 else (lambda i: (i,))
    for i in range(1, n):
        a = coeff[take(i)][..., None]
        x[take(i)] += a * (x[take(i - 1)] - x[take(i)])
    for i in range(n - 2, -1, -1):
        a = coeff[take(i + 1)][..., None]  # the link i <-> i+1, read from the right
        x[take(i)] += a * (x[take(i + 1)] - x[take(i)])


def barrier_blur(image: np.ndarray, sigma: float, barrier: np.ndarray) -> np.ndarray:
    """A low-pass of about ``sigma`` px of ``image`` (H,W,C) float that does not cross
    ``barrier`` (H,W) bool pixels (module docstring) -> (H,W,C) float32."""
    x = np.array(image, dtype=np.float32, copy=True)
    h, w = barrier.shape
    # Feedback into pixel n from n-1 (rows: along x, columns: along y); 0 where either is a
    # barrier, so the recursion restarts on the far side of a stroke.
    cut_x = np.zeros((h, w), dtype=bool)
    cut_x[:, 1:] = barrier[:, 1:] | barrier[:, :-1]
    cut_y = np.zeros((h, w), dtype=bool)
    cut_y[1:, :] = barrier[1:, :] | barrier[:-1, :]
    for k in range(BLUR_ITERATIONS):
        # Gastal & Oliveira eq. 14: the k-th pass's sigma, so that the total variance is sigma^2.
        s_k = sigma * math.sqrt(3.0) * 2.0 ** (BLUR_ITERATIONS - k - 1) / math.sqrt(4.0 ** BLUR_ITERATIONS - 1)
        a = math.exp(-math.sqrt(2.0) / s_k)
        _recursive_pass(x, np.where(cut_x, 0.0, a).astype(np.float32), axis=1)
        _recursive_pass(x, np.where(cut_y, 0.0, a).astype(np.float32), axis=0)
    return x



def structured_fill(image: np.ndarray, hole: np.ndarray, strokes: np.ndarray, texture: np.ndarray,
                    sigma: float) -> np.ndarray:
    """The sketch-guided ``patchmatch_lf`` of ``image`` (H,W,3) uint8 (hole greyed) at
    ``hole`` (H,W) bool along ``strokes`` (H,W) bool (only those inside the hole count),
    ``texture`` (H,W,3) the PatchMatch fill -> (H,W,3) uint8.

    ``S`` = :func:`barrier_fill`; the result is ``pm + B_sigma(S - pm)`` in the hole
    (:func:`barrier_blur`), known pixels unchanged. PatchMatch itself is not guided: its
    regularity map (``pypatchmatch.inpaint_regularity``, with ``S``'s colours as the map)
    gained 0.3-0.5 dB more but made the realism 15-60 worse per bucket, at 1.7x the time
    (10 val photos x 6 buckets, true edges).
    """
    barrier = strokes & hole
    structure = barrier_fill(image.astype(np.float32), hole, barrier)
    pm = np.asarray(texture, dtype=np.float32)
    out = np.clip(pm + barrier_blur(structure - pm, sigma, barrier) + 0.5, 0, 255).astype(np.uint8)
    out[~hole] = image[~hole]
    return out
