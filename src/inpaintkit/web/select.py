"""``POST /api/select``: the proposed hole for the object in a box and / or under clicks.

Multipart form: ``image`` (a file), ``box`` (``"x0,y0,x1,y1"``, pixels of the image as
shown, ``x1 - x0`` the width), ``point`` (repeatable, ``"x,y"`` or ``"x,y,+"`` on the object,
``"x,y,-"`` on the background), ``dilate`` (px, default
:data:`~inpaintkit.masks.select.DEFAULT_DILATE`). The answer is the mask as a PNG of the
image's size, white (255) = hole, black = keep: the format ``POST /api/inpaint`` takes as its
``mask``; the header ``X-Inpaintkit-Selected`` says which share of the image it covers.

A malformed box or point, a box outside the image or of zero area, a point outside it, or no
prompt at all is a 422 with one readable line; the image is decoded like the inpaint
endpoint's (format allow-list, pixel limit). The work (decode, :func:`select_object`, PNG
encoding) runs in the app's bounded work queue, so it counts against the same limits.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import Response

from inpaintkit.errors import InpaintError
from inpaintkit.io import decode_image_bytes
from inpaintkit.masks.select import DEFAULT_DILATE, check_prompt, parse_box, parse_point, select_object

Runner = Callable[[Callable[[], tuple[bytes, float]]], Awaitable[tuple[bytes, float]]]

SELECT_RESPONSES: dict[int | str, dict] = {
    200: {"description": "The mask: a PNG of the image's size, white = hole.",
          "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
    422: {"description": "a malformed box or point, a box outside the image or of zero area, a point outside it"},
}


def propose(image: bytes, image_name: str, box: str | None, points: list[str], dilate: int,
            max_pixels: int | None) -> tuple[bytes, float]:
    """Decode, select, encode (blocking: runs in a worker thread). Returns the PNG and the
    selected share of the image."""
    from inpaintkit.web.jobs import encode_png

    parsed_box = None if box is None or not box.strip() else parse_box(box)
    parsed_points = [parse_point(p) for p in points]
    pixels = decode_image_bytes(image, image_name, max_pixels=max_pixels)
    try:
        check_prompt(pixels.shape[:2], parsed_box, parsed_points)
    except InpaintError as exc:
        raise InpaintError(f"{image_name}: {exc}") from None
    hole = select_object(pixels, parsed_box, parsed_points, dilate=dilate)
    return encode_png(hole.astype("uint8") * 255), float(hole.mean())


def add_select_route(app: FastAPI, run: Runner, max_pixels: int | None,
                     upload_name: Callable[[str, UploadFile], str]) -> None:
    """Register ``POST /api/select``; ``run`` executes a blocking job in the app's work queue."""

    @app.post("/api/select", summary="Propose a mask: the object in a box and/or under clicks",
              responses=SELECT_RESPONSES, response_class=Response)
    async def select(
        image: Annotated[UploadFile, File(description="The image (PNG, JPEG, WebP, BMP or TIFF).")],
        box: Annotated[str | None, Form(description="x0,y0,x1,y1 in pixels (x1 - x0 = width).")] = None,
        point: Annotated[list[str] | None, Form(description="x,y or x,y,+ (object), x,y,- (background); "
                                                            "repeat the field for more clicks.")] = None,
        dilate: Annotated[int, Form(ge=0, le=64, description="Grow the selection by this many pixels.")]
        = DEFAULT_DILATE,
    ) -> Response:
        job = functools.partial(propose, await image.read(), upload_name("image", image), box, point or [],
                                dilate, max_pixels)
        png, share = await run(job)
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "no-store", "X-Inpaintkit-Selected": f"{share:.6f}"})
