"""The Inpainter: uint8 image + bool mask in, K completed uint8 images out.

``Inpainter(model).inpaint(image (H,W,3) uint8, mask (H,W) bool, samples=1, seed=None)``
returns ``samples`` arrays (H,W,3) uint8 in which every pixel outside the (dilated) hole is
bit-identical to the input: the model's prediction is composited on the uint8 arrays at the
very end (the select rule of ``conventions.composite``: pixels where the mask is False are
copied from the input), after any padding, resizing and cropping.
A prediction holding NaN or Inf is refused (:class:`~inpaintkit.errors.ModelFailed`)
before compositing: clamping it to uint8 would paint the hole black without a word.

Each model call pads the image to the model's ``multiple`` (symmetric reflection; the mask
is padded the same way, so reflected hole pixels stay holes) and runs under
``torch.inference_mode``. A model with a ``coarse_input`` (DeepFill v2 with a classical
coarse stage) gets that fill computed here, on the padded uint8 image
(:func:`~inpaintkit.models.classical.coarse_batch`); classical models run on the uint8
arrays directly (``inpaint_array``).

Strategies for images larger than the model's native size ``N`` (its training size: the
``native_size`` argument, else the model's ``native_size`` attribute, else the checkpoint's
``image_size``/``size`` metadata, else 256):

* ``full``: the whole image at full resolution (memory and time grow with H*W; networks
  trained at N see unfamiliar scales far above it).
* ``resize``: the whole image scaled to about N*N pixels (aspect kept, INTER_AREA), the
  mask scaled conservatively (a small pixel is a hole when any part of it was), inpainted,
  the result upscaled (bicubic); only hole pixels are taken from it.
* ``crop``: the hole pixels are grouped: the mask is dilated by ``crop_margin`` (default
  N/4) and its connected components (``cv2.connectedComponentsWithStats``) are groups;
  groups whose margin-expanded boxes still overlap are merged. Each group gets a window of
  its hole box plus a context margin of ``max(crop_margin, box side / 2)`` per side
  (shifted, not shrunk, at image borders). A window over N*N pixels is scaled down to
  about N*N, inpainted and scaled back. The model sees the *original* image and *all*
  holes inside the window, so windows are independent (no fill depends on the order), and
  only the group's own hole pixels are pasted.
* ``auto``: classical methods whose cost grows with the hole, not with the image
  (Telea/NS/smooth: ``native_size`` None) -> ``full``. Otherwise (networks, and
  PatchMatch with native size 512) ``full`` when H*W <= (2N)^2 (fully convolutional models
  cope with up to twice their training size); else ``crop`` when the crop windows cover at most half
  of the image and there are at most 16 of them (each is one model call), else ``resize``.

Samples: pluralistic models (``model.pluralistic``) give K different results from
``model.sample``, best first when the model ships a discriminator (``ranking.py``); models
marked ``stochastic`` give K results from the seeds seed, seed+1, ...; for deterministic
models ``samples > 1`` is an :class:`InpaintError` (K identical copies would only hide that
there is no diversity). ``seed`` makes every run reproducible, except for stochastic ONNX
exports (ONNX Runtime draws its own random numbers).

Sketch (guided models, ``sketch_channels`` > 0, the default among them): an (H,W) stroke map
(:mod:`inpaintkit.inference.sketch`) that travels exactly as the mask does: padded by
reflection, resized conservatively (a small pixel is a stroke when any of it was) and
cropped with each window (classical: ``inpaint_array(.., sketch=)``); used in the hole only (noted).
"""

from __future__ import annotations

import logging
import math
import os

import cv2
import numpy as np
import torch
from torch import nn

from inpaintkit.conventions import image_to_tensor, mask_to_tensor
from inpaintkit.errors import InpaintError, ModelFailed
from inpaintkit.inference import STRATEGIES  # defined there: the CLI reads it without torch
from inpaintkit.inference.device import resolve_device
from inpaintkit.inference.sketch import sketch_strokes
from inpaintkit.inference.weights import LoadedModel, resolve_model
from inpaintkit.inference.windows import Window, pad_to, plan_windows
from inpaintkit.io import DEFAULT_MAX_PIXELS
from inpaintkit.models.base import GeneratorProtocol
from inpaintkit.models.classical import coarse_batch
from inpaintkit.models.serialization import registry_name

logger = logging.getLogger(__name__)

DEFAULT_NATIVE_SIZE = 256
MAX_AUTO_WINDOWS = 16  # auto: more separate hole groups than this -> one resized pass


def check_generator(model: object) -> GeneratorProtocol:
    """``model`` itself if it follows the generator protocol, else an InpaintError."""
    if not isinstance(model, GeneratorProtocol):
        raise InpaintError(
            f"{type(model).__name__} does not follow the generator protocol "
            f"(subclass inpaintkit.models.base.InpaintModel or GeneratorProtocol)"
        )
    return model


def _composite_uint8(pred: np.ndarray, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Known pixels from ``image``, hole pixels from ``pred``; all uint8, no float trip.

    The rule of ``conventions.composite`` (a select, never a blend) applied to the uint8
    arrays themselves: the select is done here in numpy because ``composite`` on
    channel-last uint8 views costs ~20 ms per 256x256 image, more than Telea itself.
    """
    out = image.copy()
    out[hole] = pred[hole]
    return out


class Inpainter:
    """Fill holes in uint8 images with any model (see the module docstring).

    ``model``: ``"default"``, a registry name (``"telea"``/``"ns"``/``"smooth"`` included), a
    checkpoint folder or ``.safetensors`` file, an ``.onnx`` file, or an object following
    the generator protocol (:class:`~inpaintkit.models.base.GeneratorProtocol`).
    ``max_pixels``: larger images are refused (None: no limit). ``allow_untrained``: a
    registry network without shipped weights gets random weights instead of an error.
    """

    def __init__(
        self,
        model: str | os.PathLike | GeneratorProtocol = "default",
        device: str | torch.device = "auto",
        strategy: str = "auto",
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        crop_margin: int | None = None,
        native_size: int | None = None,
        allow_untrained: bool = False,
    ) -> None:
        if strategy not in STRATEGIES:
            raise InpaintError(f"unknown strategy '{strategy}' (use one of {', '.join(STRATEGIES)})")
        if crop_margin is not None and crop_margin < 0:
            raise InpaintError(f"crop_margin must be >= 0, got {crop_margin}")
        if native_size is not None and native_size < 8:
            raise InpaintError(f"native_size must be >= 8, got {native_size}")
        self.device = resolve_device(device)
        if isinstance(model, (str, os.PathLike)):
            loaded = resolve_model(model, self.device, allow_untrained)
        else:
            loaded = LoadedModel(*self._given(model), "module")
        self.model: GeneratorProtocol = loaded.model
        self.model_name: str = loaded.name
        self.source: str = loaded.source
        self.load_notes: list[str] = list(loaded.notes)
        # K > 1 samples come back best first by this discriminator's score, when there is one.
        self.ranker = loaded.discriminator
        self.last_scores: list[float] | None = None  # the ranker's scores, in output order
        self.strategy = strategy
        self.max_pixels = max_pixels
        meta = loaded.metadata
        native = (
            native_size
            or self.model.native_size
            or meta.get("native_size") or meta.get("image_size") or meta.get("size")
        )
        self.native_size = int(native) if native else DEFAULT_NATIVE_SIZE
        self.crop_margin = crop_margin
        self.notes: list[str] = []  # notes of the last inpaint() call
        self.last_strategy: str | None = None

    def _given(self, model: object) -> tuple[GeneratorProtocol, str]:
        """A model object passed in: (the model on this device in eval mode, its name)."""
        model = check_generator(model)
        if not isinstance(model, nn.Module):
            return model, type(model).__name__
        try:
            name = registry_name(model)
        except InpaintError:
            name = type(model).__name__
        return model.eval().to(self.device), name

    def __repr__(self) -> str:
        return (
            f"Inpainter(model={self.model_name!r}, device={str(self.device)!r}, "
            f"strategy={self.strategy!r}, native_size={self.native_size})"
        )

    # --- properties of the model --------------------------------------------------------

    @property
    def classical(self) -> bool:
        return self.model.classical

    @property
    def multiple(self) -> int:
        return max(self.model.multiple, 1)

    @property
    def pluralistic(self) -> bool:
        return self.model.pluralistic

    @property
    def stochastic(self) -> bool:
        return self.model.stochastic

    # --- public API -------------------------------------------------------------------

    def inpaint(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        samples: int = 1,
        seed: int | None = None,
        dilate: int = 0,
        sketch: np.ndarray | torch.Tensor | None = None,
    ) -> list[np.ndarray]:
        """``samples`` completions (H,W,3) uint8 of ``image`` (H,W,3) uint8 where ``mask``
        (H,W) bool (True/nonzero = hole, grown by ``dilate`` pixels) is filled;
        ``sketch``: strokes guiding a model with sketch channels (module docstring)."""
        self.notes, self.last_scores = [], None
        image, hole = self._check(image, mask, samples, dilate)
        if sketch is not None:
            sketch = sketch_strokes(sketch, hole.shape, self.model_name, self.model.sketch_channels)
        if dilate:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
            hole = cv2.dilate(hole.astype(np.uint8), kernel) > 0
        if sketch is not None and (sketch & ~hole).any():
            self._note("sketch: strokes outside the hole are ignored (only the hole is filled)")
        if not hole.any():
            self._note("mask is empty: nothing to fill, the output equals the input")
            self.last_strategy = None
            return [image.copy() for _ in range(samples)]
        if hole.all():
            self._note("mask covers the whole image: the result is invented from nothing")
        strategy = self._choose(image.shape[0], image.shape[1], hole)
        self.last_strategy = strategy
        if strategy == "full":
            preds = self._predict(image, hole, samples, seed, sketch)
        elif strategy == "resize":
            preds = self._resized(image, hole, samples, seed, sketch)
        else:
            preds = self._cropped(image, hole, samples, seed, sketch)
        results = [_composite_uint8(p, image, hole) for p in preds]
        if self.ranker is not None and samples > 1:
            from inpaintkit.inference.ranking import rank_results

            order, scores = rank_results(self.ranker, results, hole, self.native_size)
            results, self.last_scores = [results[i] for i in order], [scores[i] for i in order]
            self._note(f"{samples} samples ranked by the discriminator, best first (scores "
                       + ", ".join(f"{v:.3f}" for v in self.last_scores) + ")")
        return results

    def estimate_peak_bytes(self, image_shape: tuple[int, ...], hole: np.ndarray, samples: int = 1) -> dict:
        """The peak memory :meth:`inpaint` would need (``inference/cost.py``), before any
        work: ``{"bytes", "strategy", "pixels"}`` (the largest model call's padded pixels)."""
        from inpaintkit.inference.cost import memory_model

        h, w = image_shape[:2]
        strategy = self._choose(h, w, hole) if hole.any() else "full"
        n2 = self.native_size ** 2
        if strategy == "full":
            side = self.multiple
            pixels = (h + (-h) % side) * (w + (-w) % side)
        elif strategy == "resize":
            pixels = min(h * w, n2)
        else:
            pixels = max(min((wd.y1 - wd.y0) * (wd.x1 - wd.x0), n2) for wd in self._plan_windows(hole))
        fitted = memory_model(self.model)
        return {"bytes": fitted.peak_bytes(pixels, samples), "strategy": strategy, "pixels": pixels}

    # --- checks and choices --------------------------------------------------------------

    def _note(self, text: str) -> None:
        self.notes.append(text)
        logger.info(text)

    def _check(self, image: np.ndarray, mask: np.ndarray, samples: int,
               dilate: int) -> tuple[np.ndarray, np.ndarray]:
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise InpaintError(f"image must be an (H,W,3) uint8 RGB array, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        if h == 0 or w == 0:
            raise InpaintError(f"image has zero size ({w}x{h})")
        if self.max_pixels is not None and h * w > self.max_pixels:
            raise InpaintError(
                f"image is {w}x{h} = {h * w:,} pixels, over the limit of {self.max_pixels:,} "
                f"(raise max_pixels / --max-pixels)"
            )
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise InpaintError(f"mask must be an (H,W) array, got shape {mask.shape}")
        if mask.shape != (h, w):
            raise InpaintError(
                f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {w}x{h} "
                f"(resize it, or use --resize-mask)"
            )
        if not isinstance(samples, (int, np.integer)) or samples < 1:
            raise InpaintError(f"samples must be a positive integer, got {samples!r}")
        if samples > 1 and not self.stochastic:
            raise InpaintError(
                f"model '{self.model_name}' is deterministic: samples={samples} would give "
                f"identical results (use samples=1 or a pluralistic model such as pic_net)"
            )
        if not isinstance(dilate, (int, np.integer)) or dilate < 0:
            raise InpaintError(f"dilate must be a non-negative number of pixels, got {dilate!r}")
        hole = mask if mask.dtype == bool else mask > 0
        return np.ascontiguousarray(image), np.ascontiguousarray(hole)

    def _margin(self) -> int:
        return self.crop_margin if self.crop_margin is not None else max(self.native_size // 4, 8)

    def _choose(self, h: int, w: int, hole: np.ndarray) -> str:
        if self.strategy != "auto":
            return self.strategy
        n = self.native_size
        if (self.classical and self.model.native_size is None) or h * w <= (2 * n) ** 2:
            return "full"
        windows = self._plan_windows(hole)
        covered = sum((wd.y1 - wd.y0) * (wd.x1 - wd.x0) for wd in windows)
        return "crop" if covered <= 0.5 * h * w and len(windows) <= MAX_AUTO_WINDOWS else "resize"

    # --- model calls ---------------------------------------------------------------------

    def _generator(self, seed: int | None) -> torch.Generator | None:
        if seed is None:
            return None
        dev = self.device if self.device.type in ("cuda", "mps") else torch.device("cpu")
        if isinstance(self.model, nn.Module):
            try:
                dev = next(self.model.parameters()).device
            except StopIteration:
                pass
        return torch.Generator(device=dev).manual_seed(int(seed))

    def _predict(self, image: np.ndarray, hole: np.ndarray, samples: int,
                 seed: int | None, sketch: np.ndarray | None = None) -> list[np.ndarray]:
        """Raw predictions (not composited) for the whole of ``image``: K (H,W,3) uint8."""
        if self.classical:
            return [self.model.inpaint_array(image, hole, sketch=sketch)] * samples  # type: ignore[attr-defined]
        h, w = hole.shape
        padded, padded_hole = pad_to(image, self.multiple), pad_to(hole, self.multiple)
        x = image_to_tensor(padded).to(self.device)
        k = mask_to_tensor(padded_hole).to(self.device)
        extra = {}
        if self.model.coarse_input is not None:
            # The classical coarse input, on the same padded uint8 image the model sees.
            extra["coarse"] = coarse_batch(padded, padded_hole, self.model.coarse_input).to(self.device)
        if sketch is not None:  # padded like the mask: the strokes stay on their pixels
            extra["sketch"] = mask_to_tensor(pad_to(sketch, self.multiple)).to(self.device)
        with torch.inference_mode():
            if self.pluralistic and samples > 1:
                outs = list(self.model.sample(x, k, samples, generator=self._generator(seed))[0])
            elif samples > 1:
                outs = [
                    self.model.inpaint(x, k, generator=self._generator(None if seed is None else seed + i),
                                       **extra)[0]
                    for i in range(samples)
                ]
            else:
                outs = [self.model.inpaint(x, k, generator=self._generator(seed), **extra)[0]]
        results = []
        for out in outs:
            out = out[:, :h, :w].float().cpu()
            bad = int((~torch.isfinite(out)).sum())
            if bad:
                # clamp() would turn NaN into black (or keep it as 0 after the uint8 cast):
                # a silently black hole. Refuse instead.
                raise ModelFailed(
                    f"model '{self.model_name}' produced {bad:,} NaN/Inf values for a {w}x{h} input: "
                    f"its weights or this input break it (nothing written)"
                )
            t = ((out + 1.0) * 127.5).round().clamp(0, 255)
            results.append(t.to(torch.uint8).permute(1, 2, 0).contiguous().numpy())
        return results

    def _scaled_predict(self, image: np.ndarray, hole: np.ndarray, samples: int,
                        seed: int | None, sketch: np.ndarray | None = None) -> list[np.ndarray]:
        """Predict at about native_size^2 pixels when larger; results at the input size."""
        h, w = hole.shape
        scale = min(1.0, self.native_size / math.sqrt(h * w))
        if scale >= 1.0:
            return self._predict(image, hole, samples, seed, sketch)
        sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
        small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        # Area-averaged mask > 0: a small pixel is a hole when any of it was one, so no
        # hole pixel of the input is ever treated as known context.
        small_hole = cv2.resize(hole.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0
        if sketch is not None:  # the same rule: a thin stroke survives the shrinking
            sketch = cv2.resize(sketch.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0
        preds = self._predict(small, small_hole, samples, seed, sketch)
        return [cv2.resize(p, (w, h), interpolation=cv2.INTER_CUBIC) for p in preds]

    def _resized(self, image: np.ndarray, hole: np.ndarray, samples: int,
                 seed: int | None, sketch: np.ndarray | None = None) -> list[np.ndarray]:
        if self.native_size ** 2 >= hole.size:
            self._note("image is not larger than the native size: resize strategy runs at full size")
        return self._scaled_predict(image, hole, samples, seed, sketch)

    def _plan_windows(self, hole: np.ndarray) -> list[Window]:
        return plan_windows(hole, self._margin())

    def _cropped(self, image: np.ndarray, hole: np.ndarray, samples: int,
                 seed: int | None, sketch: np.ndarray | None = None) -> list[np.ndarray]:
        results = [image.copy() for _ in range(samples)]
        windows = self._plan_windows(hole)
        for wd in windows:
            region = (slice(wd.y0, wd.y1), slice(wd.x0, wd.x1))
            part = None if sketch is None else sketch[region]
            preds = self._scaled_predict(image[region], hole[region], samples, seed, part)
            for result, pred in zip(results, preds, strict=True):
                result[region][wd.own] = pred[wd.own]
        if len(windows) > 1:
            self._note(f"crop strategy: {len(windows)} windows")
        return results
