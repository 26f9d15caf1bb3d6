"""Classical (non-learned) hole filling: OpenCV Telea and Navier-Stokes, ``smooth``,
their low-passed blend, and PatchMatch completion; as uint8 functions and as registered
generators.

* ``telea``: fast marching method; each hole pixel, taken in order of its distance to the
  known region, becomes a weighted average of known neighbours within ``radius``.
  A. Telea, "An Image Inpainting Technique Based on the Fast Marching Method",
  J. Graphics Tools 9(1), 2004.
* ``ns``: propagates image smoothness (the Laplacian) along isophotes, a discretised
  Navier-Stokes stream function. M. Bertalmio, A. L. Bertozzi, G. Sapiro, "Navier-Stokes,
  Fluid Dynamics, and Image and Video Inpainting", CVPR 2001.
* ``smooth``: the mean of ``telea`` and ``ns``, Gaussian-blurred inside the hole with a
  weight that ramps from 0 at the hole boundary to 1 at ``2 * sigma`` pixels inside it.
* ``patchmatch``: fills the hole with patches copied from the known region. Coarse to fine,
  each hole pixel gets a nearest-neighbour field entry f(p) = the offset of the known patch
  most similar (sum of squared differences over (2r+1)^2 pixels, r = ``radius``) to the
  patch around p, found by random search and propagation from its neighbours; the pixel
  becomes the vote of the patches that cover it. C. Barnes, E. Shechtman, A. Finkelstein,
  D. B. Goldman, "PatchMatch: A Randomized Correspondence Algorithm for Structural Image
  Editing", SIGGRAPH 2009. It is the binary package ``pypatchmatch`` (imported
  when a fill runs; a core dependency of inpaintkit). Its random search starts
  from a fixed seed (:data:`PATCHMATCH_SEED`, set before every fill), so it is
  deterministic like the others. Sharp texture instead of a smear, at about Telea's PSNR.
* ``patchmatch_lf``: PatchMatch's texture on ``smooth``'s low frequencies,
  ``pm + G_s * (smooth - pm)`` in the hole (``pm`` with 5 x 5 patches, radius 2; ``G_s`` a
  Gaussian of s = :data:`SMOOTH_SIGMA` px; the difference is 0 on known pixels). The
  realism metric reads the two finest pyramid levels, which the correction barely touches,
  while PSNR is dominated by the low frequencies, where ``smooth`` is the better estimate.
  Radius and sigma were chosen on 20 val photos (``benchmarks/default_blends.py --radii``).
* ``patchmatch_lf`` with a sketch (``sketch_channels = 1``): strokes inside the hole are walls
  (:mod:`.structure`): ``smooth`` becomes a membrane fill in which each side takes its colour
  from the known pixels on its own side, and the low-pass stops at strokes. Strokes outside
  the hole are ignored.

Why ``smooth`` exists: both OpenCV methods extend boundary pixels into the hole, leaving
streaks whose direction and colour are guesses. Deep inside a large hole the content is
uncertain, and the estimate with the lowest squared error is the expected value, which is
smooth. On 300 (crop, generated mask) pairs of 150 BSDS *training* photos at 256 px
(``benchmarks/classical_fill_design.py``), ``smooth`` with sigma 8 scores +0.55..+0.92 dB
PSNR over Telea in every hole-size bucket, with higher SSIM and lower L1 (sigma 4: about
+0.5; sigma 12: within 0.1 dB of sigma 8; the 40-50 % bucket had only 7 pairs). It is the
most accurate fill measured and a blur; the ``default`` is ``patchmatch_lf`` (README "Default model").

The hole is mid-grey first. OpenCV reads hole pixels within one pixel of the image border
(it treats the frame of its mask as known), so the content of the hole would leak into the
fill there (PatchMatch reads it as well). :func:`classical_fill` sets the hole to :data:`HOLE_VALUE`, the uint8 value of
``masked_input``'s 0 in [-1, 1], and every user goes through it: the registered
models (``telea``, ``ns``, ``smooth``, ``patchmatch``: :class:`ClassicalModel`, ``multiple = 1``, with the
fast path :meth:`ClassicalModel.inpaint_array` on uint8 arrays) and the classical *coarse
input* of networks with ``coarse_input`` set (:func:`coarse_batch` on uint8, in data
workers and the Inpainter; :func:`coarse_from_tensors` for tensors). This module is the
only one under ``inpaintkit.models`` that imports OpenCV (or ``patchmatch``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import ClassVar

import cv2
import numpy as np
import torch

from inpaintkit.conventions import image_to_tensor, tensor_to_image
from inpaintkit.errors import InpaintError, LoadFailed
from inpaintkit.models.base import InpaintModel
from inpaintkit.models.structure import structured_fill

CLASSICAL_METHODS = ("telea", "ns", "smooth", "patchmatch", "patchmatch_lf", "mean")
SMOOTH_SIGMA = 8.0  # pixels; see the module docstring
COARSE_RADIUS = None  # a network's classical coarse input: each method's default radius
# radius (OpenCV's neighbourhood, PatchMatch's patch radius) when none is given
DEFAULT_RADIUS = {"telea": 3, "ns": 3, "smooth": 3, "patchmatch": 3, "patchmatch_lf": 2, "mean": 1}
# masked_input's 0.0 as uint8: (0 + 1) * 127.5 = 127.5, rounded half to even.
HOLE_VALUE = 128
PATCHMATCH_SEED = 0  # the random search's seed, set before every PatchMatch fill
PATCHMATCH_INSTALL = "pip install pypatchmatch"
SKETCH_METHODS = ("patchmatch_lf",)  # the fills that follow a sketch (module docstring)


def _opencv(image: np.ndarray, hole: np.ndarray, radius: int, flag: int) -> np.ndarray:
    return cv2.inpaint(image, hole, radius, flag)


def smooth_fill(image: np.ndarray, hole: np.ndarray, radius: int = 3,
                sigma: float = SMOOTH_SIGMA) -> np.ndarray:
    """The ``smooth`` fill of ``image`` (H,W,3) uint8 at ``hole`` (H,W) uint8 255 = hole
    (as OpenCV, it reads hole pixels next to the border: :func:`classical_fill` does not)."""
    telea = _opencv(image, hole, radius, cv2.INPAINT_TELEA).astype(np.float32)
    ns = _opencv(image, hole, radius, cv2.INPAINT_NS).astype(np.float32)
    mean = 0.5 * (telea + ns)  # (H, W, 3)
    blurred = cv2.GaussianBlur(mean, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    # Distance (px) of each hole pixel to the nearest known pixel; 0 outside the hole.
    depth = cv2.distanceTransform((hole > 0).astype(np.uint8), cv2.DIST_L2, 3)
    weight = np.clip(depth / (2.0 * sigma), 0.0, 1.0)[..., None]  # (H, W, 1)
    out = mean + weight * (blurred - mean)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    known = hole == 0
    out[known] = image[known]  # exactly the input outside the hole
    return out


def patchmatch_module() -> ModuleType:
    """The ``patchmatch.patch_match`` module of ``pypatchmatch``; :class:`LoadFailed` (one
    line, naming the install command) if the package or its native library is missing."""
    try:
        from patchmatch import patch_match  # optional: only the patchmatch fill needs it
    except ImportError:
        raise LoadFailed(f"the patchmatch fill needs the pypatchmatch package: {PATCHMATCH_INSTALL}") from None
    if not getattr(patch_match, "patchmatch_available", False):
        raise LoadFailed(f"pypatchmatch's native library failed to load: reinstall it ({PATCHMATCH_INSTALL})")
    return patch_match


def patchmatch_fill(image: np.ndarray, hole: np.ndarray, radius: int = 3) -> np.ndarray:
    """The ``patchmatch`` fill of ``image`` (H,W,3) uint8 at ``hole`` (H,W) uint8 255 = hole,
    patches of (2 * radius + 1)^2 pixels (it reads the hole's content: :func:`classical_fill`
    greys it first). Known pixels are copied back, so they are exact whatever the library does."""
    patch_match = patchmatch_module()
    # The seed is global state of the native library: set it each time so that no other
    # caller's seed (or the number of earlier fills) changes this fill.
    patch_match.set_random_seed(PATCHMATCH_SEED)
    out = np.array(patch_match.inpaint(image, mask=hole, patch_size=radius), dtype=np.uint8)
    known = hole == 0
    out[known] = image[known]
    return out


def patchmatch_lowfreq_fill(image: np.ndarray, hole: np.ndarray, radius: int = 2,
                            sigma: float = SMOOTH_SIGMA) -> np.ndarray:
    """The ``patchmatch_lf`` fill (module docstring) of ``image`` (H,W,3) uint8 at ``hole``
    (H,W) uint8 255 = hole; ``radius`` is PatchMatch's (``smooth`` keeps OpenCV's 3)."""
    pm = patchmatch_fill(image, hole, radius).astype(np.float32)
    diff = smooth_fill(image, hole).astype(np.float32) - pm  # (H, W, 3), 0 on known pixels
    out = pm + cv2.GaussianBlur(diff, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    known = hole == 0
    out[known] = image[known]
    return out


def mean_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The hole painted flat with the mean colour of the known pixels (rounded): the floor
    every learned model must clear (issue 26's "floor of floors"); a fully masked image
    gets mid-grey."""
    known = hole == 0
    colour = image[known].mean(axis=0) if known.any() else np.full(3, 127.5)
    out = image.copy()
    out[~known] = np.clip(np.rint(colour), 0, 255).astype(np.uint8)
    return out


def _fill(image: np.ndarray, hole: np.ndarray, method: str, radius: int,
          strokes: np.ndarray | None = None) -> np.ndarray:
    if strokes is not None and method in SKETCH_METHODS and (strokes & (hole > 0)).any():
        return structured_fill(image, hole > 0, strokes, patchmatch_fill(image, hole, radius), SMOOTH_SIGMA)
    if method == "telea":
        return _opencv(image, hole, radius, cv2.INPAINT_TELEA)
    if method == "ns":
        return _opencv(image, hole, radius, cv2.INPAINT_NS)
    if method == "smooth":
        return smooth_fill(image, hole, radius)
    if method == "patchmatch":
        return patchmatch_fill(image, hole, radius)
    if method == "patchmatch_lf":
        return patchmatch_lowfreq_fill(image, hole, radius)
    if method == "mean":
        return mean_fill(image, hole)
    raise ValueError(f"unknown classical method '{method}' (known: {', '.join(CLASSICAL_METHODS)})")


def classical_fill(image: np.ndarray, hole: np.ndarray, method: str = "telea",
                   radius: int | None = None, sketch: np.ndarray | None = None) -> np.ndarray:
    """Fill ``image`` (H,W,3) uint8 at ``hole`` (H,W) uint8 255 = hole (or bool, or any
    nonzero = hole) -> (H,W,3) uint8.

    The hole is set to :data:`HOLE_VALUE` first, so its content never matters. Channels are
    treated independently, so RGB vs BGR order does not matter. Known pixels come back
    unchanged. ``method`` is one of :data:`CLASSICAL_METHODS`; ``radius`` None: the
    method's :data:`DEFAULT_RADIUS`. ``sketch`` (H,W) bool strokes guide :data:`SKETCH_METHODS`.
    """
    if radius is None:
        radius = DEFAULT_RADIUS.get(method, 3)
    hole_u8 = np.where(np.asarray(hole) > 0, np.uint8(255), np.uint8(0))
    masked = np.array(image, dtype=np.uint8, order="C")  # a private copy
    masked[hole_u8 > 0] = HOLE_VALUE
    return _fill(masked, hole_u8, method, radius, None if sketch is None else np.asarray(sketch, dtype=bool))


def coarse_methods(method: str) -> tuple[str, ...]:
    """The classical fills named by a coarse input: ``"smooth"`` -> ``("smooth",)``,
    ``"patchmatch+smooth"`` -> ``("patchmatch", "smooth")`` (stacked along channels, the
    first one is the base a residual network refines). ValueError for an unknown name."""
    parts = tuple(method.split("+"))
    unknown = [p for p in parts if p not in CLASSICAL_METHODS]
    if unknown or len(set(parts)) != len(parts):
        raise ValueError(f"coarse input '{method}': expected one or more distinct classical "
                         f"methods joined by '+' (known: {', '.join(CLASSICAL_METHODS)})")
    return parts


def coarse_batch(images: np.ndarray, holes: np.ndarray, method: str,
                 radius: int | None = COARSE_RADIUS) -> torch.Tensor:
    """The classical coarse input of a batch: (B,H,W,3) uint8 images and (B,H,W) holes
    (bool or uint8, nonzero = hole) -> (B,3k,H,W) float32 in [-1, 1] (CPU), k the number
    of fills in ``method`` (:func:`coarse_methods`), stacked in that order.

    A single (H,W,3) image with an (H,W) hole gives a batch of one.
    """
    images, holes = np.asarray(images), np.asarray(holes)
    if images.ndim == 3:
        images, holes = images[None], holes[None]
    if images.ndim != 4 or holes.shape != images.shape[:3]:
        raise ValueError(f"coarse_batch: images {images.shape} and holes {holes.shape} do not match")
    filled = [torch.cat([image_to_tensor(classical_fill(im, h, m, radius)) for m in coarse_methods(method)], dim=1)
              for im, h in zip(images, holes, strict=True)]
    return torch.cat(filled)


@torch.no_grad()
def coarse_from_tensors(image: torch.Tensor, mask: torch.Tensor, method: str,
                        radius: int | None = COARSE_RADIUS) -> torch.Tensor:
    """:func:`coarse_batch` of tensors: image (B,3,H,W) in [-1,1] (rounded to uint8),
    mask (B,1,H,W) or (1,1,H,W) -> (B,3k,H,W) on image's device and dtype."""
    images = np.stack([tensor_to_image(x) for x in image])
    holes = (mask.detach().cpu() > 0.5).expand(image.shape[0], 1, -1, -1)[:, 0].numpy()
    return coarse_batch(images, holes, method, radius).to(device=image.device, dtype=image.dtype)


@dataclass(frozen=True)
class ClassicalConfig:
    """method: one of :data:`CLASSICAL_METHODS`; radius: OpenCV's neighbourhood (px), or
    PatchMatch's patch radius (patches of (2 * radius + 1)^2 pixels)."""

    method: str = "telea"
    radius: int = 3

    def __post_init__(self) -> None:
        if self.method not in CLASSICAL_METHODS:
            raise ValueError(
                f"unknown classical method '{self.method}' (known: {', '.join(CLASSICAL_METHODS)})"
            )
        if self.radius < 1:
            raise ValueError(f"inpainting radius must be >= 1, got {self.radius}")


@dataclass(frozen=True)
class NSConfig(ClassicalConfig):
    method: str = "ns"


@dataclass(frozen=True)
class SmoothConfig(ClassicalConfig):
    method: str = "smooth"


@dataclass(frozen=True)
class PatchMatchConfig(ClassicalConfig):
    method: str = "patchmatch"


@dataclass(frozen=True)
class MeanConfig(ClassicalConfig):
    method: str = "mean"
    radius: int = 1  # unused


@dataclass(frozen=True)
class PatchMatchLFConfig(ClassicalConfig):
    method: str = "patchmatch_lf"
    radius: int = 2


class ClassicalModel(InpaintModel):
    """A classical fill behind the generator protocol (no parameters, deterministic).

    ``inpaint`` on tensors quantises each sample to uint8 (OpenCV works on 8-bit images),
    so known pixels come back exactly only for uint8-valued inputs; the caller composites.
    """

    config_class: ClassVar[type] = ClassicalConfig
    classical: ClassVar[bool] = True
    exportable: ClassVar[bool] = False

    def __init__(self, config: ClassicalConfig) -> None:
        super().__init__(config)
        preset = self.config_class().method
        if type(self) is not ClassicalModel and config.method != preset:
            raise ValueError(f"{type(self).__name__} is the '{preset}' fill, not '{config.method}'")
        if config.method.startswith("patchmatch"):
            patchmatch_module()  # fail when the model is made, not at its first fill

    @property
    def multiple(self) -> int:
        return 1

    @property
    def native_size(self) -> int | None:
        # OpenCV's and the smooth fill's cost grows with the hole, not the image (None: the
        # Inpainter's auto strategy runs them on the whole image). PatchMatch searches every
        # known patch, so its cost grows with the image (~0.7 s for 512 x 512, idle core):
        # large images are cropped around the holes, windows over 512^2 pixels scaled down.
        return 512 if self.config.method.startswith("patchmatch") else None

    @property
    def sketch_channels(self) -> int:
        return 1 if self.config.method in SKETCH_METHODS else 0

    @property
    def name(self) -> str:
        return self.config.method

    def extra_repr(self) -> str:
        return f"method={self.config.method}, radius={self.config.radius}"

    def inpaint_array(self, image: np.ndarray, mask: np.ndarray, sketch: np.ndarray | None = None) -> np.ndarray:
        """(H,W,3) uint8 + (H,W) bool (True = hole) [+ (H,W) bool strokes] -> (H,W,3) uint8,
        known pixels unchanged."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InpaintError(f"expected an (H,W,3) uint8 image, got {image.shape} {image.dtype}")
        if mask.shape != image.shape[:2]:
            raise InpaintError(f"mask is {mask.shape[::-1]} but image is {image.shape[1::-1]}")
        if sketch is not None and (not self.sketch_channels or sketch.shape != mask.shape):
            raise InpaintError(f"'{self.name}' takes no sketch of shape {sketch.shape} (sketch_channels "
                               f"{self.sketch_channels}, mask {mask.shape})")
        if not np.any(mask):
            return image.copy()
        return classical_fill(image, mask, self.config.method, self.config.radius, sketch)

    def inpaint(
        self,
        image: torch.Tensor,
        mask: torch.Tensor,
        generator: torch.Generator | None = None,
        *,
        coarse: torch.Tensor | None = None,
        sketch: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(B,3,H,W) in [-1,1] + (B,1,H,W) -> (B,3,H,W) in [-1,1]; ``generator`` is unused."""
        if image.ndim != 4 or image.shape[1] != 3 or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(
                f"expected image (B,3,H,W) and mask (B,1,H,W), got {tuple(image.shape)} "
                f"and {tuple(mask.shape)}"
            )
        self.check_extra_inputs(image, coarse, sketch)
        if sketch is None:
            return coarse_from_tensors(image, mask, self.config.method, self.config.radius)
        holes = (mask.detach().cpu() > 0.5).expand(image.shape[0], 1, -1, -1)[:, 0].numpy()
        outs = [self.inpaint_array(tensor_to_image(x), h, (s[0] > 0.5).cpu().numpy())  # strokes differ per sample
                for x, h, s in zip(image, holes, sketch, strict=True)]
        return torch.cat([image_to_tensor(o) for o in outs]).to(device=image.device, dtype=image.dtype)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.inpaint(image, mask)


class Telea(ClassicalModel):
    """The ``telea`` entry of ``MODELS``."""


class NavierStokes(ClassicalModel):
    """The ``ns`` entry of ``MODELS``."""

    config_class: ClassVar[type] = NSConfig


class SmoothFill(ClassicalModel):
    """The ``smooth`` entry of ``MODELS``."""

    config_class: ClassVar[type] = SmoothConfig


class PatchMatch(ClassicalModel):
    """The ``patchmatch`` entry of ``MODELS`` (needs the optional ``pypatchmatch``)."""

    config_class: ClassVar[type] = PatchMatchConfig


class PatchMatchLF(ClassicalModel):
    """The ``patchmatch_lf`` entry of ``MODELS`` (PatchMatch's texture on smooth's low
    frequencies; needs ``pypatchmatch``)."""

    config_class: ClassVar[type] = PatchMatchLFConfig


class MeanFill(ClassicalModel):
    """The ``mean`` entry of ``MODELS``: the known pixels' mean colour, flat (the floor)."""

    config_class: ClassVar[type] = MeanConfig
