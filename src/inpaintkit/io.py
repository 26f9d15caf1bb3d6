"""Reading and writing image and mask files, safely.

Every entry point (CLI, batch, web app, datasets) goes through these functions so that a
bad file always ends as one :class:`~inpaintkit.errors.InpaintError` naming the file and the
reason, never as a traceback from deep inside Pillow.

Reading (:func:`read_image`, :func:`read_mask`, :func:`decode_image_bytes`,
:func:`decode_mask_bytes`):

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

Masks are ``(H, W)`` bool, **True = hole**: a pixel is a hole when its luminance (8-bit,
16-bit scaled as above) is > 127 (:data:`inpaintkit.conventions.MASK_THRESHOLD`). With
``use_alpha=True`` the alpha channel is used instead: transparent (alpha < 128) = hole.
An RGBA mask read without ``use_alpha`` uses its colour, not its alpha.

Writing (:func:`write_image`) is atomic: the image is encoded into a temporary file in the
destination folder, then ``os.replace``-d onto the target, so a failure or interruption
never leaves a half-written file (the temporary file is removed on any failure). It does not
``fsync``: it protects against failures of this process, not against power loss.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inpaintkit.conventions import MASK_THRESHOLD
from inpaintkit.errors import InpaintError

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

# The Pillow plugins tried when opening; anything else is "not a supported image".
_READ_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")  # JPEG also opens MPO files

_ALPHA_MODES = ("RGBA", "LA", "La", "RGBa", "PA")

# warnings.catch_warnings() changes process-global state; this lock keeps our own threads
# (web app workers) from interleaving inside it.
_WARNINGS_LOCK = threading.Lock()


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import (single-threaded then).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


# --- reading ---------------------------------------------------------------------------

def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _open_checked(source: Any, name: str, max_pixels: int | None) -> Image.Image:
    """Open (header only) and check the size; raise InpaintError on any problem."""
    try:
        with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            img = Image.open(source, formats=_READ_FORMATS)
    except Image.DecompressionBombError as e:
        raise InpaintError(
            f"{name}: image too large, over Pillow's decompression-bomb limit ({e})"
        ) from None
    except UnidentifiedImageError:
        raise InpaintError(
            f"{name}: not a supported image file (PNG, JPEG, WebP, BMP or TIFF expected)"
        ) from None
    except Exception as e:  # header parsers raise all sorts (SyntaxError, struct.error...)
        raise InpaintError(f"{name}: cannot read image header ({_describe(e)})") from None
    w, h = img.size
    if max_pixels is not None and w * h > max_pixels:
        img.close()
        raise InpaintError(
            f"{name}: image is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
            f"(possible decompression bomb; raise max_pixels to allow it)"
        )
    if any(issubclass(c.category, Image.DecompressionBombWarning) for c in caught):
        img.close()
        raise InpaintError(
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
        raise InpaintError(
            f"{name}: image too large, over Pillow's decompression-bomb limit ({e})"
        ) from None
    except Exception as e:  # truncated / corrupt data: OSError, ValueError, SyntaxError...
        raise InpaintError(f"{name}: cannot decode image ({_describe(e)})") from None
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
        raise InpaintError(f"{name}: unsupported image mode {img.mode} ({_describe(e)})") from None
    return np.asarray(rgb, dtype=np.uint8).copy()


def _to_mask(img: Image.Image, name: str, use_alpha: bool) -> np.ndarray:
    if use_alpha:
        if img.mode == "P" and "transparency" in img.info:
            alpha = np.asarray(img.convert("RGBA").getchannel("A"))
        elif img.mode in _ALPHA_MODES:
            alpha = np.asarray(img.getchannel("A"))
        else:
            raise InpaintError(
                f"{name}: mask has no alpha channel (mode {img.mode}); "
                f"use a white-on-black mask or an RGBA / LA image"
            )
        return alpha < 128
    gray = _gray8(img)
    if gray is None:
        try:
            # Colour only: an RGBA / LA / palette mask without use_alpha is judged on its
            # colour (Pillow's conversions to L ignore alpha).
            base = img.convert("RGBA") if img.mode in ("P", "PA") else img
            gray = np.asarray(base.convert("L"))
        except Exception as e:
            raise InpaintError(
                f"{name}: unsupported mask mode {img.mode} ({_describe(e)})"
            ) from None
    return gray > MASK_THRESHOLD


def _check_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InpaintError(f"{p}: no such file") from None
    except PermissionError:
        raise InpaintError(f"{p}: permission denied") from None
    except OSError as e:
        raise InpaintError(f"{p}: cannot access ({e.strerror or _describe(e)})") from None
    if p.is_dir():
        raise InpaintError(f"{p}: is a directory, not an image file")
    if st.st_size == 0:
        raise InpaintError(f"{p}: empty file (0 bytes)")
    if not os.access(p, os.R_OK):
        raise InpaintError(f"{p}: permission denied")
    return p


def _read(path: str | os.PathLike[str], max_pixels: int | None, convert) -> np.ndarray:
    p = _check_path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below, the image keeps no reference
    except PermissionError:
        raise InpaintError(f"{p}: permission denied") from None
    except OSError as e:
        raise InpaintError(f"{p}: cannot open ({e.strerror or _describe(e)})") from None
    with fh:
        img = _open_checked(fh, str(p), max_pixels)
        with img:
            return convert(_load_oriented(img, str(p)), str(p))


def _decode(data: bytes, name: str, max_pixels: int | None, convert) -> np.ndarray:
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
) -> np.ndarray:
    """Read a mask file as ``(H, W)`` bool, True = hole.

    Hole = luminance > 127 (any mode; 16-bit scaled to 8 bits first), or with
    ``use_alpha`` alpha < 128 (transparent = hole; an image without alpha is an error).
    """
    return _read(path, max_pixels, lambda img, name: _to_mask(img, name, use_alpha))


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
) -> np.ndarray:
    """:func:`read_mask` for an in-memory file (web uploads); ``name`` is used in errors."""
    return _decode(data, name, max_pixels, lambda img, n: _to_mask(img, n, use_alpha))


# --- listing ---------------------------------------------------------------------------

def list_image_files(root: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Image files (suffixes of :data:`IMAGE_SUFFIXES`, any case) under ``root``, sorted.

    Hidden files and folders (name starting with '.') are left out, which also skips the
    temporary files of an interrupted :func:`write_image`. Raises :class:`InpaintError`
    when ``root`` is missing or not a folder; an empty result is the caller's to judge.
    """
    base = Path(root)
    if not base.exists():
        raise InpaintError(f"{base}: no such folder")
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


# --- writing ---------------------------------------------------------------------------

def _to_pil(array: np.ndarray) -> Image.Image:
    a = np.asarray(array)
    if a.ndim == 2 and a.dtype == bool:
        return Image.fromarray(np.where(a, 255, 0).astype(np.uint8), mode="L")
    if a.dtype != np.uint8:
        raise ValueError(f"write_image: expected uint8 (or a bool mask), got {a.dtype}")
    if a.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(a), mode="L")
    if a.ndim == 3 and a.shape[2] == 3:
        return Image.fromarray(np.ascontiguousarray(a), mode="RGB")
    raise ValueError(f"write_image: expected (H,W,3) or (H,W) array, got shape {a.shape}")


def same_file(a: Path, b: Path) -> bool:
    """True if ``a`` and ``b`` name the same file (hard links and symlinks included)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _save_params(fmt: str) -> dict[str, Any]:
    if fmt == "JPEG":
        return {"quality": 95}
    if fmt == "WEBP":
        return {"quality": 95}
    return {}


def write_image(
    path: str | os.PathLike[str],
    array: np.ndarray,
    inputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``array`` to ``path`` atomically; returns the path written.

    ``array``: ``(H, W, 3)`` uint8 RGB, ``(H, W)`` uint8 grey, or ``(H, W)`` bool mask
    (written white = hole). The format comes from the suffix (png, jpg/jpeg (quality 95),
    webp (quality 95), bmp, tif/tiff). Refuses to write onto any of ``inputs`` (same file,
    by ``samefile`` or resolved path). Raises :class:`InpaintError` for an unknown suffix, a
    missing or read-only folder, or a failed encode; ``ValueError`` for a malformed array
    (a caller bug).
    """
    target = Path(path)
    fmt = IMAGE_SUFFIXES.get(target.suffix.lower())
    if fmt is None:
        raise InpaintError(
            f"{target}: unknown output format '{target.suffix}' "
            f"(use one of {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    img = _to_pil(array)
    for src in inputs:
        if same_file(target, Path(src)):
            raise InpaintError(f"{target}: refusing to overwrite the input file {src}")
    folder = target.parent
    if not folder.is_dir():
        raise InpaintError(f"{target}: output folder {folder} does not exist")
    if target.is_dir():
        raise InpaintError(f"{target}: is a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InpaintError(f"{target}: output folder {folder} is not writable")

    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        raise InpaintError(f"{target}: cannot create a file in {folder} ({e.strerror})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            img.save(fh, format=fmt, **_save_params(fmt))
        # mkstemp makes 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, (OSError, ValueError)):
            raise InpaintError(f"{target}: cannot write image ({_describe(e)})") from e
        raise
    return target


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "decode_image_bytes",
    "decode_mask_bytes",
    "list_image_files",
    "read_image",
    "read_mask",
    "write_image",
]


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A flat ``name -> tensor`` dict from a user's weights file: .safetensors, or a torch
    file read with ``weights_only=True`` (never unpickles code). Used for FID, LPIPS and VGG
    loss weights; ``{"state_dict": ...}`` wrappers are unwrapped."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InpaintError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # any parse failure is the user's file, not our bug
        raise InpaintError(f"cannot read weights file {path}: {exc}") from exc
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InpaintError(f"{path} is not a state dict (name -> tensor)")
    return dict(state)
