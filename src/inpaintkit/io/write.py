"""Writing image and mask files atomically, never onto an input.

:func:`write_image` encodes the image into a temporary file in the destination folder,
then ``os.replace``-s it onto the target, so a failure or interruption never leaves a
half-written file (the temporary file is removed on any failure). It does not ``fsync``:
it protects against failures of this process, not against power loss. The temporary name
``.<target>.<pid>.<random>.tmp`` carries the writer's pid, so that a later run removes the
files of a killed writer (:func:`remove_stale_temporaries`). :func:`output_complete` tells a
finished output from a 0-byte or truncated one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from inpaintkit.errors import InpaintError, Unsupported
from inpaintkit.io.read import IMAGE_SUFFIXES, describe
from inpaintkit.tempfiles import pid_alive

# Lossy formats are written at this quality: artefacts are hard to see at 95, and 100
# makes files several times larger for no visible gain.
_LOSSY_QUALITY = {"JPEG": 95, "WEBP": 95}


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import (single-threaded then).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _to_pil(array: np.ndarray) -> Image.Image:
    a = np.asarray(array)
    if a.ndim == 2 and a.dtype == bool:
        return Image.fromarray(np.where(a, 255, 0).astype(np.uint8), mode="L")
    if a.dtype != np.uint8:
        raise ValueError(f"write_image: expected uint8 (or a bool mask), got {a.dtype}")
    if a.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(a), mode="L")
    if a.ndim == 3 and a.shape[2] in (3, 4):  # RGB, or RGBA (an input's alpha kept: io.photo)
        return Image.fromarray(np.ascontiguousarray(a), mode="RGB" if a.shape[2] == 3 else "RGBA")
    raise ValueError(f"write_image: expected (H,W,3), (H,W,4) or (H,W) array, got shape {a.shape}")


def same_file(a: Path, b: Path) -> bool:
    """True if ``a`` and ``b`` name the same file (hard links and symlinks included)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_target(target: Path, inputs: Iterable[str | os.PathLike[str]] = ()) -> str:
    """The Pillow format for ``target``'s suffix, after refusing to write onto an input.

    Raises :class:`~inpaintkit.errors.Unsupported` for a suffix not in
    :data:`IMAGE_SUFFIXES`, :class:`InpaintError` when ``target`` is one of ``inputs``.
    Callers use it to fail before any work; :func:`write_image` checks again.
    """
    if target.is_dir():  # before the suffix: a folder named 'out' is not an 'unknown format'
        raise InpaintError(f"{target}: is a folder (give a file name, e.g. {target / 'result.png'})")
    fmt = IMAGE_SUFFIXES.get(target.suffix.lower())
    if fmt is None:
        raise Unsupported(
            f"{target}: unknown output format '{target.suffix}' "
            f"(use one of {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    for src in inputs:
        if same_file(target, Path(src)):
            raise InpaintError(f"{target}: refusing to overwrite the input file {src}")
    return fmt


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
    fmt = check_target(target, inputs)
    img = _to_pil(array)
    folder = target.parent
    if not folder.is_dir():
        raise InpaintError(f"{target}: output folder {folder} does not exist")
    if target.is_dir():
        raise InpaintError(f"{target}: is a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InpaintError(f"{target}: output folder {folder} is not writable")

    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    except OSError as e:
        raise InpaintError(f"{target}: cannot create a file in {folder} ({e.strerror})") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            quality = _LOSSY_QUALITY.get(fmt)
            img.save(fh, format=fmt, **({} if quality is None else {"quality": quality}))
        # mkstemp makes 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, (OSError, ValueError)):
            raise InpaintError(f"{target}: cannot write image ({describe(e)})") from e
        raise
    return target


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that killed :func:`write_image` calls left in ``folder``
    (their pid no longer runs); returns them."""
    removed = []
    for entry in Path(folder).glob(".*.tmp"):
        parts = entry.name[1:-len(".tmp")].rsplit(".", 2)
        if len(parts) == 3 and parts[1].isdigit() and not pid_alive(int(parts[1])) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def output_complete(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> bool:
    """``path`` is an image that decodes completely and is ``size`` = (W, H) when given."""
    try:
        with Image.open(path) as img:
            if size is not None and img.size != tuple(size):
                return False
            img.load()
    except Exception:  # missing, empty, truncated, not an image: not done
        return False
    return True


def prepare_output_folder(output: Path) -> list[Path]:
    """Create a batch's output folder and check that it is writable (InpaintError
    otherwise); returns the temporaries of killed runs removed from it."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InpaintError(f"{output}: cannot create output folder ({exc.strerror})") from None
    if not os.access(output, os.W_OK | os.X_OK):
        raise InpaintError(f"{output}: output folder is not writable")
    return remove_stale_temporaries(output)
