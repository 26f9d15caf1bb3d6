"""The work of one inpainting request, run in a worker thread of the web app's queue.

Decoding, the mask check, inference and PNG encoding are all blocking, so
:func:`run_job` does them away from the event loop. Problems with the request raise the
typed errors of :mod:`inpaintkit.errors` (the app turns each into its HTTP status).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from inpaintkit.errors import LoadFailed, TooLarge
from inpaintkit.inference.sketch import sketch_strokes
from inpaintkit.io import decode_image_bytes, decode_mask_bytes, fit_mask
from inpaintkit.io.photo import ALPHA_NOTE, decode_alpha_bytes, orient_mask, stored_size_bytes, with_alpha
from inpaintkit.web.catalog import ModelCatalog, ModelLoadError
from inpaintkit.web.limits import MemoryBudget


@dataclass
class Job:
    """One request's uploads and options, as validated by the endpoint."""

    image: bytes
    mask: bytes
    image_name: str
    mask_name: str
    model: str
    strategy: str
    samples: int
    seed: int | None
    dilate: int
    mask_mode: str
    resize_mask: bool
    sketch: bytes | None = None  # white strokes (> 127) on black or transparent, the image's size
    sketch_name: str = "sketch"
    mask_exif: bool = False  # the mask was drawn on the stored pixels of an EXIF-rotated photo


@dataclass
class Done:
    """What the endpoint answers with: the result PNGs and what to say about them."""

    model: str
    strategy: str | None
    notes: list[str]
    pngs: list[bytes]
    width: int
    height: int


def encode_png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    # compress_level 3: about twice as fast as the default for a few % larger files.
    Image.fromarray(array).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _decode(job: Job, max_pixels: int | None, notes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The image and its hole (fitted to the image's size), or a typed error. A mask of the
    stored size of an EXIF-rotated photo is refused naming the orientation, or rotated with
    ``mask_exif`` (as the CLI's ``--mask-exif``: :func:`inpaintkit.io.photo.orient_mask`)."""
    image = decode_image_bytes(job.image, job.image_name, max_pixels=max_pixels)
    hole = decode_mask_bytes(job.mask, job.mask_name, mode=job.mask_mode, max_pixels=max_pixels)
    hole = orient_mask(hole, image.shape[:2], stored_size_bytes(job.image, job.image_name), job.mask_exif,
                       job.mask_name, job.image_name, ("mask_exif=true", "resize_mask=true"), notes)
    hint = "send a mask of the image's size, or resize_mask=true to scale it"
    return image, fit_mask(hole, image.shape[:2], job.resize_mask, job.mask_name, job.image_name, hint)


def run_job(job: Job, catalog: ModelCatalog, max_pixels: int | None, memory: MemoryBudget | None = None) -> Done:
    """Decode, check (the memory estimate against ``memory``), inpaint, encode. Blocking:
    runs in a worker thread."""
    exif_notes: list[str] = []
    image, hole = _decode(job, max_pixels, exif_notes)
    alpha = decode_alpha_bytes(job.image, job.image_name, max_pixels)  # kept on the results (a cut-out)
    if alpha is not None:
        exif_notes.append(f"{job.image_name} {ALPHA_NOTE}")
    try:
        inpainter = catalog.inpainter(job.model, job.strategy)
    except ModelLoadError as exc:  # the server's model, not the request, is at fault
        raise LoadFailed(str(exc)) from None
    strokes = None
    if job.sketch is not None:  # read as a mask is (white = stroke); 422 when it does not fit
        strokes = decode_mask_bytes(job.sketch, job.sketch_name, mode="luminance", max_pixels=max_pixels)
        strokes = sketch_strokes(strokes, hole.shape, inpainter.model_name, inpainter.model.sketch_channels)
    need = 0
    if memory is not None:
        estimate = inpainter.estimate_peak_bytes(image.shape, hole, job.samples)
        need = estimate["bytes"]
        if not memory.fits(need):
            h, w = image.shape[:2]
            raise TooLarge(
                f"this request needs about {need / 2**20:,.0f} MiB ({inpainter.model_name} on {w}x{h}, strategy "
                f"{estimate['strategy']}: {estimate['pixels']:,} pixels per model call, {job.samples} sample(s)), "
                f"over the server's memory budget of {memory.total / 2**20:,.0f} MiB (--max-memory); "
                f"use strategy auto or resize, a smaller image or fewer samples"
            )
        memory.acquire(need)
    try:
        results = inpainter.inpaint(image, hole, samples=job.samples, seed=job.seed, dilate=job.dilate,
                                    sketch=strokes)
    finally:
        if memory is not None:
            memory.release(need)
    notes = [*inpainter.load_notes, *inpainter.notes, *exif_notes]
    h, w = image.shape[:2]
    pngs = [encode_png(with_alpha(r, alpha)) for r in results]
    return Done(inpainter.model_name, inpainter.last_strategy, notes, pngs, w, h)
