"""Image, mask and weights files in and out, safely (one :class:`~inpaintkit.errors.InpaintError`
naming the file for every bad file, never a traceback from deep inside Pillow).

* :mod:`inpaintkit.io.read` - :func:`read_image`, :func:`read_mask` and their in-memory
  twins :func:`decode_image_bytes` / :func:`decode_mask_bytes` (format allow-list, EXIF
  orientation, pixel limit checked from the header, every Pillow mode), the mask modes
  :data:`MASK_MODES`, :func:`fit_mask` (a mask of another size) and :func:`list_image_files`;
* :mod:`inpaintkit.io.write` - :func:`write_image`, atomic and never onto an input;
* :mod:`inpaintkit.io.weights` - :func:`read_state_dict` for metric and loss networks.
"""

from inpaintkit.io.read import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    MASK_MODES,
    decode_image_bytes,
    decode_mask_bytes,
    fit_mask,
    list_image_files,
    read_image,
    read_mask,
)
from inpaintkit.io.weights import read_state_dict
from inpaintkit.io.write import check_target, same_file, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "MASK_MODES",
    "check_target",
    "decode_image_bytes",
    "decode_mask_bytes",
    "fit_mask",
    "list_image_files",
    "read_image",
    "read_mask",
    "read_state_dict",
    "same_file",
    "write_image",
]
