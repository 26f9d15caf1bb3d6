"""What an image file carries beyond its RGB pixels, honoured through a fill or a stylization
(the CLI's ``fill`` / ``stylize apply`` and the web API share these, so they behave alike).

* **EXIF orientation.** :func:`~inpaintkit.io.read_image` returns the image as a viewer shows
  it (orientation applied). A mask drawn on the *stored* pixels of a rotated photo has the
  stored ``(W, H)``; :func:`orient_mask` refuses it with a message naming the orientation
  (scaling it would stretch it onto the wrong place), or, when the user says the mask was
  drawn on the stored pixels (``--mask-exif`` / ``mask_exif=true``), applies the same
  orientation to it. A mask with the shown size is taken as it is (with a note, as a
  180-degree turn keeps the size and cannot be told apart).
* **Alpha.** ``read_image`` returns RGB. A cut-out (RGBA, transparent background) would
  come back opaque; :func:`read_alpha` returns the alpha ``(H, W)`` uint8 (None when the
  file has none, or when every pixel is opaque) and :func:`with_alpha` puts it back on the
  result: the RGB is filled, the alpha stays as it was. Only formats of
  :data:`ALPHA_FORMATS` store it; for the others the caller says it is dropped.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from inpaintkit.errors import InpaintError
from inpaintkit.io.read import (
    _ALPHA_MODES,
    IMAGE_SUFFIXES,
    ORIENTATIONS,
    _check_path,
    _load_oriented,
    _open_checked,
    orient_like_exif,
)

#: Formats (Pillow names) written with their alpha channel by ``write_image``.
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")

#: The note printed when an image's alpha is kept (CLI and web API alike).
ALPHA_NOTE = ("has transparency: the colours are filled and the alpha is kept as it was (to fill the "
              "transparent pixels instead, pass the image itself as the mask in alpha mask mode)")


# --- EXIF orientation -------------------------------------------------------------------

def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:  # a malformed EXIF block: read_image ignores it too
        value = 1
    return value if value in ORIENTATIONS else 1


def stored_size_bytes(data: bytes, name: str) -> tuple[int, int, int]:
    """``(W, H, orientation)`` of an in-memory image as stored, from its header
    (:func:`inpaintkit.io.read.stored_size` for a file)."""
    with _open_checked(io.BytesIO(data), name, None) as img:
        return img.size[0], img.size[1], _orientation(img)


def orient_mask(mask: np.ndarray, shown: tuple[int, int], stored: tuple[int, int, int], mask_exif: bool,
                mask_name: str, image_name: str, options: tuple[str, str],
                notes: list[str] | None = None) -> np.ndarray:
    """``mask`` (H, W) bool made to match the image as shown ``(H, W)`` when it has the
    image's *stored* size ``stored = (W, H, orientation)``; other masks pass unchanged.

    ``options``: how the caller spells "apply the orientation" and "scale the mask"
    (``("--mask-exif", "--resize-mask")`` or ``("mask_exif=true", "resize_mask=true")``),
    for the message. Appends a note to ``notes`` when the mask is taken as shown although
    the image is rotated with its size unchanged."""
    sw, sh, orientation = stored
    if orientation == 1 or mask.shape != (sh, sw):
        return mask
    how = f"EXIF orientation {orientation} ({ORIENTATIONS[orientation]})"
    if mask_exif:
        return orient_like_exif(mask, orientation)
    exif_option, resize_option = options
    if mask.shape != tuple(shown):
        raise InpaintError(
            f"{mask_name}: mask is {sw}x{sh}, the stored size of {image_name}, which has {how} and is "
            f"{shown[1]}x{shown[0]} as shown: the mask was drawn on the unrotated pixels; use "
            f"{exif_option} to rotate it the same way ({resize_option} would fill the wrong place)"
        )
    if notes is not None:
        notes.append(f"{image_name} has {how}: the mask is applied to the image as shown; if it was "
                     f"drawn on the stored pixels, use {exif_option}")
    return mask


# --- alpha ------------------------------------------------------------------------------

def _alpha(img: Image.Image, name: str) -> np.ndarray | None:
    has_alpha = img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info)
    if not has_alpha:
        return None  # decided from the header: no second decode of an opaque image
    oriented = _load_oriented(img, name)
    try:
        base = oriented.convert("RGBA") if oriented.mode in ("P", "PA") else oriented
        alpha = np.asarray(base.getchannel("A"), dtype=np.uint8)
    except Exception:  # an alpha Pillow cannot hand over: the image reads as RGB anyway
        return None
    return None if alpha.min() == 255 else alpha.copy()


def read_alpha(path: str | os.PathLike[str], max_pixels: int | None = None) -> np.ndarray | None:
    """The alpha of an image file as ``(H, W)`` uint8, EXIF-oriented like ``read_image``;
    None when the file has no alpha or is opaque everywhere. Raises like ``read_image``."""
    p = _check_path(path)
    with open(p, "rb") as fh, _open_checked(fh, str(p), max_pixels) as img:
        return _alpha(img, str(p))


def decode_alpha_bytes(data: bytes, name: str, max_pixels: int | None = None) -> np.ndarray | None:
    """:func:`read_alpha` for an in-memory file (web uploads)."""
    with _open_checked(io.BytesIO(data), name, max_pixels) as img:
        return _alpha(img, name)


def keeps_alpha(target: str | os.PathLike[str]) -> bool:
    """Whether ``write_image`` stores an alpha channel in ``target``'s format."""
    return IMAGE_SUFFIXES.get(Path(target).suffix.lower()) in ALPHA_FORMATS


def with_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """``(H, W, 3)`` uint8 + ``(H, W)`` alpha -> ``(H, W, 4)`` RGBA; ``rgb`` when no alpha."""
    if alpha is None:
        return rgb
    if alpha.shape != rgb.shape[:2]:
        raise InpaintError(f"alpha is {alpha.shape[1]}x{alpha.shape[0]} but the image is "
                           f"{rgb.shape[1]}x{rgb.shape[0]}")
    return np.dstack([rgb, alpha]).astype(np.uint8, copy=False)


__all__ = ["ALPHA_FORMATS", "ALPHA_NOTE", "decode_alpha_bytes", "keeps_alpha", "orient_mask", "read_alpha",
           "stored_size_bytes", "with_alpha"]
