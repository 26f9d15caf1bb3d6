"""The ``--box`` / ``--point`` options of ``inpaintkit masks select`` and ``inpaintkit fill``:
select the object instead of painting its mask.

``--box x0,y0,x1,y1`` (pixels of the image as shown, EXIF orientation applied; ``x1 - x0`` is
the width) and ``--point x,y[,+|-]`` (repeatable; ``+``, the default, is on the object, ``-``
on the background) go to :func:`inpaintkit.masks.select.select_object`, whose proposal (grown
by ``--dilate`` / :data:`~inpaintkit.masks.select.DEFAULT_DILATE` px) is the hole. A box
outside the image or of zero area, a point outside it, or a malformed value is one
``error:`` line and exit code 2, before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from inpaintkit.errors import InpaintError

SelectBox = Annotated[
    str | None,
    typer.Option("--box", help="Select the object in this box, x0,y0,x1,y1 (pixels), instead of a mask."),
]
SelectPoints = Annotated[
    list[str] | None,
    typer.Option("--point", help="A click x,y (on the object) or x,y,- (background); repeatable."),
]


def selecting(box: str | None, points: list[str] | None) -> bool:
    """Whether the hole comes from a selection (``--box`` or ``--point`` given)."""
    return box is not None or bool(points)


def check_fill_selection(batch: bool, mask: Path | None, box: str | None, points: list[str] | None) -> None:
    """``fill``: a selection is for one image and replaces ``--mask``."""
    if not selecting(box, points):
        return
    if batch:
        raise InpaintError("--box / --point select in one image (IMAGE --box ...), not in batch mode")
    if mask is not None:
        raise InpaintError("give either --mask MASK or --box / --point, not both")


def select_hole(pixels: np.ndarray, box: str | None, points: list[str] | None, dilate: int | None = None,
                where: str = "image") -> np.ndarray:
    """The selected hole, ``(H, W)`` bool, for the option values (parsed and checked here)."""
    from inpaintkit.masks.select import DEFAULT_DILATE, check_prompt, parse_box, parse_point, select_object

    parsed_box = None if box is None else parse_box(box)
    parsed_points = [parse_point(p) for p in points or ()]
    try:
        check_prompt(pixels.shape[:2], parsed_box, parsed_points)
    except InpaintError as exc:
        raise InpaintError(f"{where}: {exc}") from None
    return select_object(pixels, parsed_box, parsed_points, dilate=DEFAULT_DILATE if dilate is None else dilate)


def load_selection(image: Path, box: str | None, points: list[str] | None, max_pixels: int | None,
                   dilate: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``fill --box``: the image (H, W, 3 uint8) and the selected hole (H, W bool)."""
    from inpaintkit.io import read_image

    pixels = read_image(image, max_pixels=max_pixels)
    hole = select_hole(pixels, box, points, dilate, where=str(image))
    return pixels, hole
