"""Helpers of ``inpaintkit fill`` (also used by ``stylize``): output checks, reading an
image/mask pair (EXIF orientation of a mask drawn on the stored pixels), the mask mode,
batch pairing (``x.*`` / ``x_mask.*``) and the torchrun shard.

Kept apart from :mod:`inpaintkit.commands.fill` so that the command module holds the
command and its two modes only.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inpaintkit.errors import InpaintError
from inpaintkit.io import check_target


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _say(text: str, stderr: bool = False) -> None:
    from rich.markup import escape

    _console(stderr).print(escape(text))


def _check_output(target: Path, inputs: tuple[Path, ...], create: bool, folder_checks: bool = True) -> None:
    """Fail before any work when ``target`` cannot be written (one line, exit 2)."""
    check_target(target, inputs)
    if not folder_checks:
        return
    folder = target.parent
    if create and not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InpaintError(f"{target}: cannot create output folder {folder} ({exc.strerror})") from None
    if not folder.is_dir():
        raise InpaintError(f"{target}: output folder {folder} does not exist or is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InpaintError(f"{target}: output folder {folder} is not writable")
    if target.is_dir():
        raise InpaintError(f"{target}: is a folder")


def _load_pair(image_path: Path, mask_path: Path, max_pixels: int | None, mask_mode: str,
               resize_mask: bool, mask_exif: bool = False, notes: list[str] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    from inpaintkit.io import fit_mask, read_image, read_mask
    from inpaintkit.io.photo import orient_mask
    from inpaintkit.io.read import stored_size

    image = read_image(image_path, max_pixels=max_pixels)
    mask = read_mask(mask_path, mode=mask_mode, max_pixels=max_pixels)
    mask = orient_mask(mask, image.shape[:2], stored_size(image_path), mask_exif, str(mask_path), image_path.name,
                       ("--mask-exif", "--resize-mask"), notes)
    hint = "use --resize-mask to scale it"
    return image, fit_mask(mask, image.shape[:2], resize_mask, f"{mask_path}: mask", image_path.name, hint)


def _load_sketch(path: Path, max_pixels: int | None) -> np.ndarray:
    """The sketch file as (H,W) bool, True = stroke (white > 127, as a mask is read)."""
    from inpaintkit.io import read_mask

    try:
        return read_mask(path, mode="luminance", max_pixels=max_pixels)
    except InpaintError as exc:
        raise type(exc)(f"sketch: {exc}") from None


def _shown_size(path: Path) -> tuple[int, int] | None:
    """(W, H) of ``path`` as read (EXIF orientation applied), None when unreadable."""
    from inpaintkit.io.read import stored_size

    try:
        w, h, orientation = stored_size(path)
    except InpaintError:
        return None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _mask_mode(mask_mode: str, mask_alpha: bool) -> str:
    """``--mask-alpha`` is short for ``--mask-mode alpha``."""
    if not mask_alpha:
        return mask_mode
    if mask_mode not in ("luminance", "alpha"):
        raise InpaintError(f"--mask-alpha contradicts --mask-mode {mask_mode} (give one of them)")
    return "alpha"


def _find_mask(stem: str, masks: dict[str, list[Path]]) -> Path | None:
    for key in (stem, f"{stem}_mask"):
        if masks.get(key):
            return masks[key][0]
    return None


def _shard() -> tuple[int, int]:
    try:
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        rank = int(os.environ.get("RANK", "0") or 0)
    except ValueError:
        raise InpaintError("WORLD_SIZE and RANK must be integers") from None
    if world < 1 or not 0 <= rank < world:
        raise InpaintError(f"bad torchrun environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world


def _kept_alpha(image_path: Path, targets: list[Path], max_pixels: int | None, notes: list[str]) -> np.ndarray | None:
    """The alpha of ``image_path`` to put back on its results (:mod:`inpaintkit.io.photo`),
    None when it has none or the targets' format cannot store it; a note says which."""
    from inpaintkit.io.photo import ALPHA_NOTE, keeps_alpha, read_alpha

    alpha = read_alpha(image_path, max_pixels)
    if alpha is None:
        return None
    if all(keeps_alpha(t) for t in targets):
        notes.append(f"{image_path.name} {ALPHA_NOTE}")
        return alpha
    notes.append(f"{image_path.name} has transparency, which {targets[0].suffix} cannot store: the alpha is "
                 f"dropped (write .png to keep it)")
    return None


def _remove_stale(folder: Path) -> list[str]:
    """Notes for the temporary files of killed runs removed from ``folder`` (the single
    mode's output folder; batch mode does it in ``prepare_output_folder``)."""
    from inpaintkit.io.write import remove_stale_temporaries

    return [f"removed {stale.name}, left by a killed run" for stale in remove_stale_temporaries(folder)]


def _unsupported_note(folder: Path, what: str) -> str | None:
    """A note listing the files of ``folder`` (not recursive) that a batch leaves out
    because they are not a supported image (a GIF, a .txt...); None when there are none."""
    from inpaintkit.io import IMAGE_SUFFIXES

    left = sorted(p.name for p in folder.iterdir()
                  if not p.name.startswith(".") and p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES)
    if not left:
        return None
    shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    return (f"{len(left)} file(s) of {folder} are not a supported image and are not {what}: {shown} "
            f"(supported: {', '.join(sorted(IMAGE_SUFFIXES))})")
