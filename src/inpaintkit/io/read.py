"""Reading image and mask files (and in-memory uploads), safely.

Every entry point (CLI, batch, web app, datasets) reads through these functions so that a
bad file always ends as one :class:`~inpaintkit.errors.InpaintError` naming the file and the
reason, never as a traceback from deep inside Pillow. The subclass tells the kind of
problem: :class:`~inpaintkit.errors.NotFound` (missing file or folder),
:class:`~inpaintkit.errors.TooLarge` (over the pixel limit), :class:`~inpaintkit.errors.Unsupported`
(not one of the formats below); anything else (corrupt, truncated, empty...) is the base class.

* formats: PNG, JPEG (incl. multi-picture MPO from cameras), WebP, BMP, TIFF; only these Pillow plugins
  are tried, which keeps the attack surface of the web app small;
* the EXIF orientation is applied (``ImageOps.exif_transpose``), to masks too, so that a
  mask painted on a rotated phone photo lines up with that photo;
* size is checked against ``max_pixels`` from the header, *before* any pixel is decoded
  (decompression bombs); Pillow's own ``DecompressionBombError`` / ``DecompressionBombWarning``
  become the same error;
* modes: ``1``, ``L``, ``LA``, ``P`` (palette, with or without transparency), ``PA``,
  ``RGB``, ``RGBA``, ``CMYK``, ``YCbCr``, ``I;16*``, ``I``, ``F``:

  - alpha is *dropped* for images (the stored colour under a transparent pixel is kept,
    nothing is composited on white or black): inpainting wants the real pixels, and the
    alpha channel is available as a mask through ``read_mask(..., use_alpha=True)``;
  - 16-bit data (``I;16*``, and ``I``, treated as 16-bit and clipped to [0, 65535]) is
    scaled to 8 bits with ``round(v * 255 / 65535)``, not clipped, so a 16-bit photo keeps
    its full tonal range;
  - ``F`` (float) is taken as [0, 1] when its maximum is <= 1, else as [0, 255]; NaN -> 0.

Masks are ``(H, W)`` bool, **True = hole**, decided by the mask mode (:data:`MASK_MODES`):
``luminance`` (the default): a pixel is a hole when its luminance (8-bit, 16-bit scaled as
above) is > 127 (:data:`inpaintkit.conventions.MASK_THRESHOLD`); an RGBA mask is judged on
its colour, not its alpha. ``alpha`` (``use_alpha=True``): transparent (alpha < 128) = hole.
``painted``: opaque (alpha >= 128) = hole, for strokes painted on a transparent canvas.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inpaintkit.conventions import MASK_THRESHOLD
from inpaintkit.errors import InpaintError, NotFound, TooLarge, Unsupported

#: Largest image accepted by default: 50 megapixels (e.g. 8660 x 5773). A decoded RGB image
#: of that size takes 150 MB as uint8 and 600 MB as a float32 tensor, which is about the
#: most a CPU inference run should be asked to hold; pass ``max_pixels`` to change it
#: (``None`` = no limit of ours; Pillow's own bomb limit, ``Image.MAX_IMAGE_PIXELS`` =
#: 89.5 MP, still applies and must be raised separately beyond that).
DEFAULT_MAX_PIXELS = 50_000_000

#: File suffixes read and written (lower case) -> Pillow format name used for writing.
IMAGE_SUFFIXES: dict[str, str] = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}

#: How a mask file marks its holes (module docstring); the CLI's ``--mask-mode`` and the
#: web API's ``mask_mode`` take these names.
MASK_MODES = ("luminance", "alpha", "painted")

# The Pillow plugins tried when opening; anything else is "not a supported image".
_READ_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")  # JPEG also opens MPO files

_ALPHA_MODES = ("RGBA", "LA", "La", "RGBa", "PA")

# warnings.catch_warnings() changes process-global state; this lock keeps our own threads
# (web app workers) from interleaving inside it.
_WARNINGS_LOCK = threading.Lock()



def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, for error messages about a library's exception."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _open_checked(source: Any, name: str, max_pixels: int | None) -> Image.Image:
    """Open (header only) and check the size; raise InpaintError on any problem."""
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            img = Image.open(source, formats=_READ_FORMATS)
    except Image.DecompressionBombError as e:
        raise TooLarge(
            f"{name}: image too large, over Pillow's decompression-bomb limit ({e})"
        ) from None
    except UnidentifiedImageError:
        raise Unsupported(
            f"{name}: not a supported image file (PNG, JPEG, WebP, BMP or TIFF expected)"
        ) from None
    except Exception as e:  # header parsers raise all sorts (SyntaxError, struct.error...)
        raise InpaintError(f"{name}: cannot read image header ({describe(e)})") from None
    w, h = img.size
    if max_pixels is not None and w * h > max_pixels:
        img.close()
        raise TooLarge(
            f"{name}: image is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
            f"(possible decompression bomb; raise max_pixels to allow it)"
        )
    if any(issubclass(c.category, Image.DecompressionBombWarning) for c in caught):
        img.close()
        raise TooLarge(
            f"{name}: image is {w}x{h} = {w * h:,} pixels, over Pillow's decompression-bomb "
            f"limit of {Image.MAX_IMAGE_PIXELS:,} (raise PIL.Image.MAX_IMAGE_PIXELS to allow it)"
        )
    if w == 0 or h == 0:
        img.close()
        raise InpaintError(f"{name}: image has zero size ({w}x{h})")
    return img


def _load_oriented(img: Image.Image, name: str) -> Image.Image:
    """Decode the pixels (first frame) and apply the EXIF orientation."""
    try:
        img.load()
    except Image.DecompressionBombError as e:
        raise TooLarge(
            f"{name}: image too large, over Pillow's decompression-bomb limit ({e})"
        ) from None
    except Exception as e:  # truncated / corrupt data: OSError, ValueError, SyntaxError...
        raise InpaintError(f"{name}: cannot decode image ({describe(e)})") from None
    try:
        oriented = ImageOps.exif_transpose(img)
    except Exception:
        # A malformed EXIF block must not make a readable image unreadable.
        oriented = None
    return oriented if oriented is not None else img


def _sixteen_to_8(a: np.ndarray) -> np.ndarray:
    a = np.clip(a.astype(np.int64), 0, 65535)
    return ((a * 255 + 32767) // 65535).astype(np.uint8)


def _gray8(img: Image.Image) -> np.ndarray | None:
    """8-bit luminance for the high-bit-depth modes; None for the ordinary ones."""
    if img.mode.startswith("I;16") or img.mode == "I":
        return _sixteen_to_8(np.asarray(img))
    if img.mode == "F":
        a = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if a.size and a.max() <= 1.0 else 1.0
        return np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
    return None


def _to_rgb(img: Image.Image, name: str) -> np.ndarray:
    gray = _gray8(img)
    if gray is not None:
        return np.repeat(gray[:, :, None], 3, axis=2)
    try:
        if img.mode == "RGB":
            rgb = img
        elif img.mode in ("P", "PA"):
            # Via RGBA so that Pillow's palette-transparency handling is used (a direct P ->
            # RGB conversion warns about byte transparency), then drop the alpha.
            rgb = img.convert("RGBA").convert("RGB")
        else:
            # RGBA -> RGB in Pillow drops alpha and keeps the stored colour (module docstring).
            rgb = img.convert("RGB")
    except Exception as e:
        raise InpaintError(f"{name}: unsupported image mode {img.mode} ({describe(e)})") from None
    return np.asarray(rgb, dtype=np.uint8).copy()


def _mask_mode(use_alpha: bool, mode: str | None) -> str:
    if mode is None:
        return "alpha" if use_alpha else "luminance"
    if mode not in MASK_MODES:
        raise InpaintError(f"unknown mask mode '{mode}' (use one of {', '.join(MASK_MODES)})")
    return mode


def _to_mask(img: Image.Image, name: str, mode: str) -> np.ndarray:
    if mode != "luminance":
        if img.mode == "P" and "transparency" in img.info:
            alpha = np.asarray(img.convert("RGBA").getchannel("A"))
        elif img.mode in _ALPHA_MODES:
            alpha = np.asarray(img.getchannel("A"))
        else:
            raise InpaintError(
                f"{name}: mask has no alpha channel (mode {img.mode}); "
                f"use a white-on-black mask or an RGBA / LA image"
            )
        transparent = alpha < 128
        return ~transparent if mode == "painted" else transparent
    gray = _gray8(img)
    if gray is None:
        try:
            # Colour only: an RGBA / LA / palette mask in luminance mode is judged on its
            # colour (Pillow's conversions to L ignore alpha).
            base = img.convert("RGBA") if img.mode in ("P", "PA") else img
            gray = np.asarray(base.convert("L"))
        except Exception as e:
            raise InpaintError(
                f"{name}: unsupported mask mode {img.mode} ({describe(e)})"
            ) from None
    return gray > MASK_THRESHOLD


def _check_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise NotFound(f"{p}: no such file") from None
    except PermissionError:
        raise InpaintError(f"{p}: permission denied") from None
    except OSError as e:
        raise InpaintError(f"{p}: cannot access ({e.strerror or describe(e)})") from None
    if p.is_dir():
        raise InpaintError(f"{p}: is a directory, not an image file")
    if st.st_size == 0:
        raise InpaintError(f"{p}: empty file (0 bytes)")
    if not os.access(p, os.R_OK):
        raise InpaintError(f"{p}: permission denied")
    return p


_Convert = Callable[[Image.Image, str], np.ndarray]


def _read(path: str | os.PathLike[str], max_pixels: int | None, convert: _Convert) -> np.ndarray:
    p = _check_path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below, the image keeps no reference
    except PermissionError:
        raise InpaintError(f"{p}: permission denied") from None
    except OSError as e:
        raise InpaintError(f"{p}: cannot open ({e.strerror or describe(e)})") from None
    with fh:
        img = _open_checked(fh, str(p), max_pixels)
        with img:
            return convert(_load_oriented(img, str(p)), str(p))


def _decode(data: bytes, name: str, max_pixels: int | None, convert: _Convert) -> np.ndarray:
    if not data:
        raise InpaintError(f"{name}: empty file (0 bytes)")
    img = _open_checked(io.BytesIO(data), name, max_pixels)
    with img:
        return convert(_load_oriented(img, name), name)


def read_image(
    path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB, EXIF-oriented.

    Raises :class:`InpaintError` (naming the file) for a missing, unreadable, empty,
    corrupt, truncated, unsupported or too large (> ``max_pixels``) file.
    """
    return _read(path, max_pixels, _to_rgb)


def read_mask(
    path: str | os.PathLike[str],
    use_alpha: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    mode: str | None = None,
) -> np.ndarray:
    """Read a mask file as ``(H, W)`` bool, True = hole.

    Hole = luminance > 127 (any mode; 16-bit scaled to 8 bits first), or with
    ``use_alpha`` alpha < 128 (transparent = hole; an image without alpha is an error).
    ``mode``, one of :data:`MASK_MODES`, replaces ``use_alpha`` when given.
    """
    chosen = _mask_mode(use_alpha, mode)
    return _read(path, max_pixels, lambda img, name: _to_mask(img, name, chosen))


def decode_image_bytes(
    data: bytes, name: str, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """:func:`read_image` for an in-memory file (web uploads); ``name`` is used in errors."""
    return _decode(data, name, max_pixels, _to_rgb)


def decode_mask_bytes(
    data: bytes,
    name: str,
    use_alpha: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    mode: str | None = None,
) -> np.ndarray:
    """:func:`read_mask` for an in-memory file (web uploads); ``name`` is used in errors."""
    chosen = _mask_mode(use_alpha, mode)
    return _decode(data, name, max_pixels, lambda img, n: _to_mask(img, n, chosen))


def fit_mask(
    mask: np.ndarray, size: tuple[int, int], resize: bool, mask_name: str, image_name: str, hint: str
) -> np.ndarray:
    """``mask`` at the image's ``size`` ``(H, W)``: as it is when it has that size already,
    scaled (nearest neighbour) when ``resize``, else an :class:`InpaintError` naming both
    files and sizes and ending with ``hint`` (how to send a mask that fits)."""
    h, w = size
    if mask.shape == (h, w):
        return mask
    if not resize:
        raise InpaintError(
            f"{mask_name} is {mask.shape[1]}x{mask.shape[0]} but {image_name} is {w}x{h} ({hint})"
        )
    import cv2  # only here: reading files needs no OpenCV

    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


# --- EXIF orientation -------------------------------------------------------------------

#: EXIF orientation tag value -> what a viewer does to the stored pixels.
ORIENTATIONS = {
    1: "none", 2: "mirror left-right", 3: "rotate 180", 4: "mirror top-bottom",
    5: "transpose", 6: "rotate 90 clockwise", 7: "transverse", 8: "rotate 90 counter-clockwise",
}


def stored_size(path: str | os.PathLike[str]) -> tuple[int, int, int]:
    """``(W, H, orientation)`` of an image file as stored (before its EXIF orientation is
    applied; 1 when it has none), from the header only. Raises like :func:`read_image`."""
    p = _check_path(path)
    with open(p, "rb") as fh, _open_checked(fh, str(p), None) as img:
        try:
            orientation = int(img.getexif().get(0x0112, 1))
        except Exception:  # a malformed EXIF block: read_image ignores it too
            orientation = 1
        return img.size[0], img.size[1], orientation if orientation in ORIENTATIONS else 1


def orient_like_exif(array: np.ndarray, orientation: int) -> np.ndarray:
    """``array`` (H, W[, C]) transformed as an EXIF viewer shows orientation ``orientation``
    (what ``ImageOps.exif_transpose`` does to the image), for a mask drawn on stored pixels."""
    ops = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.rot90(a, -1),
        7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1), 8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return array if op is None else np.ascontiguousarray(op(array))


# --- listing ---------------------------------------------------------------------------

def list_image_files(root: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Image files (suffixes of :data:`IMAGE_SUFFIXES`, any case) under ``root``, sorted.

    Hidden files and folders (name starting with '.') are left out, which also skips the
    temporary files of an interrupted :func:`write_image`. Raises :class:`InpaintError`
    when ``root`` is missing or not a folder; an empty result is the caller's to judge.
    """
    base = Path(root)
    if not base.exists():
        raise NotFound(f"{base}: no such folder")
    if not base.is_dir():
        raise InpaintError(f"{base}: not a folder")
    if not os.access(base, os.R_OK | os.X_OK):
        raise InpaintError(f"{base}: permission denied")
    found: list[Path] = []
    # os.walk skips unreadable sub-folders silently; the top folder was checked above.
    walker = os.walk(base) if recursive else [(str(base), [], os.listdir(base))]
    for dirpath, dirnames, filenames in walker:
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for f in filenames:
            if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES:
                p = Path(dirpath) / f
                if recursive or p.is_file():
                    found.append(p)
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())
