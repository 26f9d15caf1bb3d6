"""The web app: a FastAPI server around :class:`~inpaintkit.inference.Inpainter` and one page.

``create_app(model="default", ...)`` builds the ASGI app (``inpaintkit serve`` runs it with
uvicorn; tests use FastAPI's ``TestClient`` on it). Endpoints (OpenAPI at ``/docs``):

* ``GET /`` - the page (``web/static/index.html``, ``app.js``, ``style.css``: plain JS +
  canvas, no build step); ``GET /static/...`` its files.
* ``GET /api/models`` - the model names a request may use, which is the default, which are
  pluralistic (several different results per request) or untrained, and the server limits.
* ``POST /api/inpaint`` - multipart form: ``image`` and ``mask`` files, optional ``model``,
  ``seed``, ``samples``, ``strategy``, ``mask_mode``, ``resize_mask``, ``dilate``,
  ``format``. **Response choice**: one result comes back as the PNG itself
  (``image/png``, with ``X-Inpaintkit-Model`` / ``X-Inpaintkit-Strategy`` headers), which
  any HTTP client can save as it is; several results (``samples > 1``) come back as JSON
  ``{"images": [base64 PNG, ...], "model", "strategy", "notes", "width", "height"}``, since
  one HTTP response holds one body. ``format=json`` asks for the JSON form for one result
  too (the page uses it, to get the notes along). Results are PNG: lossless, so pixels
  outside the hole are bit-identical to the uploaded image.
* ``GET /healthz`` - liveness plus the queue's load.

Errors are JSON ``{"detail": "<one readable line>"}``: 404 unknown model, 413 upload over
``max_upload_mb`` or image over ``max_pixels``, 415 not an image, 422 corrupt image, mask
size mismatch (unless ``resize_mask``) and other bad fields, 503 queue full (with
``Retry-After``), 504 over ``timeout`` seconds, 500 a model that fails to load or a bug.

Safety: requests name models only from the list (never a path); uploads are decoded by
:mod:`inpaintkit.io` (format allow-list, pixel limit read from the header before any
decoding); decoding, inference and PNG encoding run in worker threads of a bounded queue
(:mod:`inpaintkit.web.limits`); nothing of one request is kept for another (each gets its
own Inpainter copy, see :mod:`inpaintkit.web.catalog`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import io
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from inpaintkit import __version__
from inpaintkit.errors import InpaintError
from inpaintkit.io import decode_image_bytes, decode_mask_bytes
from inpaintkit.web.catalog import ModelCatalog, ModelLoadError, UnknownModel
from inpaintkit.web.limits import GuardMiddleware, QueueFull, WorkQueue

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Web defaults: smaller than the CLI's 50 MP, as a server holds several images at once.
DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_MAX_UPLOAD_MB = 25.0
DEFAULT_QUEUE = 8
DEFAULT_TIMEOUT = 120.0
MAX_SAMPLES = 8
MASK_MODES = ("luminance", "alpha", "painted")


# --- response models (OpenAPI) -----------------------------------------------------------

class ModelEntry(BaseModel):
    name: str
    kind: str
    default: bool
    pluralistic: bool
    untrained: bool
    loaded: bool
    description: str


class Limits(BaseModel):
    max_pixels: int | None
    max_upload_bytes: int
    max_samples: int
    queue: int
    workers: int
    timeout_s: float | None


class ModelList(BaseModel):
    default: str
    models: list[ModelEntry]
    limits: Limits


class InpaintResult(BaseModel):
    model: str
    strategy: str | None
    width: int
    height: int
    seed: int | None
    notes: list[str]
    images: list[str]  # base64-encoded PNG files


class Health(BaseModel):
    status: str
    version: str
    busy: int
    queue: int
    loaded_models: list[str]


class ErrorBody(BaseModel):
    detail: str


# --- the work done in a worker thread ----------------------------------------------------

@dataclass
class _Job:
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


@dataclass
class _Done:
    model: str
    strategy: str | None
    notes: list[str]
    pngs: list[bytes]
    width: int
    height: int


def _decode_status(message: str) -> int:
    if "over the limit" in message or "decompression-bomb" in message:
        return 413
    if "not a supported image" in message:
        return 415
    return 422


def _encode_png(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    # compress_level 3: about twice as fast as the default for a few % larger files.
    Image.fromarray(array).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _run(job: _Job, catalog: ModelCatalog, max_pixels: int | None) -> _Done:
    """Decode, check, inpaint, encode. Blocking: runs in a worker thread."""
    try:
        image = decode_image_bytes(job.image, job.image_name, max_pixels=max_pixels)
        hole = decode_mask_bytes(job.mask, job.mask_name, use_alpha=job.mask_mode != "luminance",
                                 max_pixels=max_pixels)
    except InpaintError as exc:
        raise HTTPException(_decode_status(str(exc)), str(exc)) from None
    if job.mask_mode == "painted":
        hole = ~hole  # io's alpha rule is "transparent = hole"; painted strokes are opaque
    h, w = image.shape[:2]
    if hole.shape != (h, w):
        if not job.resize_mask:
            raise HTTPException(
                422,
                f"{job.mask_name} is {hole.shape[1]}x{hole.shape[0]} but {job.image_name} is {w}x{h} "
                f"(send a mask of the image's size, or resize_mask=true to scale it)",
            )
        import cv2

        hole = cv2.resize(hole.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    try:
        inpainter = catalog.inpainter(job.model, job.strategy)
        results = inpainter.inpaint(image, hole, samples=job.samples, seed=job.seed, dilate=job.dilate)
    except ModelLoadError as exc:
        raise HTTPException(500, str(exc)) from None
    except InpaintError as exc:
        raise HTTPException(422, str(exc)) from None
    notes = [*inpainter.load_notes, *inpainter.notes]
    return _Done(inpainter.model_name, inpainter.last_strategy, notes,
                 [_encode_png(r) for r in results], w, h)


def _upload_name(field: str, upload: UploadFile) -> str:
    """A label for error messages: the field plus the client's file name, made harmless."""
    raw = upload.filename or ""
    clean = "".join(c for c in raw if c.isprintable() and c not in "\"'\\")[:80]
    return f"{field} '{clean}'" if clean else field


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


# --- the app -----------------------------------------------------------------------------

def create_app(
    model: str | os.PathLike = "default",
    *,
    models: dict[str, Any] | None = None,
    device: str = "auto",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    queue: int = DEFAULT_QUEUE,
    workers: int = 1,
    timeout: float | None = DEFAULT_TIMEOUT,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The inpainting web app (module docstring).

    ``model``: the default model (a listed name, or an operator-given checkpoint / ONNX
    path, loaded now). ``models``: extra name -> module entries (e.g. tiny test models).
    ``max_upload_mb``: limit on a request's whole body. ``queue``: jobs admitted at once
    (waiting or running); ``workers``: threads running them. ``timeout``: seconds per
    request (None: no limit). ``allowed_hosts``: accepted ``Host`` headers (guards a
    loopback server against DNS rebinding); None accepts any.
    """
    if max_upload_mb <= 0:
        raise InpaintError(f"max_upload_mb must be > 0, got {max_upload_mb}")
    if max_pixels is not None and max_pixels < 1:
        raise InpaintError(f"max_pixels must be >= 1, got {max_pixels}")
    if queue < 1 or workers < 1:
        raise InpaintError(f"queue and workers must be >= 1, got {queue} and {workers}")
    if timeout is not None and timeout <= 0:
        raise InpaintError(f"timeout must be > 0 seconds, got {timeout}")
    catalog = ModelCatalog(model, extra=models, device=device, max_pixels=max_pixels)
    work = WorkQueue(queue, workers)
    max_body = int(max_upload_mb * 2**20)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        work.shutdown()

    app = FastAPI(
        title="inpaintkit",
        version=__version__,
        description=(
            "Fill holes in images. `POST /api/inpaint` with an image and a mask (white = hole) "
            "returns the completed image as PNG, or JSON with base64 PNGs for several samples."
        ),
        lifespan=lifespan,
    )
    app.state.catalog = catalog
    app.state.work = work
    app.add_middleware(GuardMiddleware, max_body=max_body, queue=work, queued_paths=("/api/inpaint",))
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg")))
        return JSONResponse(
            status_code=422,
            content={"detail": "; ".join(parts) or "invalid request", "errors": jsonable_encoder(exc.errors())},
        )

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/healthz", response_model=Health, summary="Liveness and load")
    async def healthz() -> Health:
        return Health(status="ok", version=__version__, busy=work.busy, queue=work.size,
                      loaded_models=catalog.loaded())

    @app.get("/api/models", response_model=ModelList, summary="Models a request may name")
    async def list_models() -> ModelList:
        loaded = set(catalog.loaded())
        entries = [
            ModelEntry(name=i.name, kind=i.kind, default=i.name == catalog.default, pluralistic=i.pluralistic,
                       untrained=i.untrained, loaded=i.name in loaded, description=i.description)
            for i in catalog.infos()
        ]
        limits = Limits(max_pixels=max_pixels, max_upload_bytes=max_body, max_samples=MAX_SAMPLES,
                        queue=work.size, workers=work.workers, timeout_s=timeout)
        return ModelList(default=catalog.default, models=entries, limits=limits)

    errors = {
        code: {"model": ErrorBody, "description": text}
        for code, text in {
            404: "unknown model name",
            413: "upload over --max-upload-mb, or image over --max-pixels",
            415: "a file is not a supported image (PNG, JPEG, WebP, BMP, TIFF)",
            422: "corrupt image, mask size mismatch, or a bad field",
            500: "the model failed to load, or an internal error",
            503: "the work queue is full: retry after the Retry-After header's seconds",
            504: "the request took longer than the server's --timeout",
        }.items()
    }
    success = {
        200: {
            "description": "One result: the PNG itself. Several results, or format=json: JSON with base64 PNGs.",
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": InpaintResult.model_json_schema()},
            },
        }
    }

    @app.post("/api/inpaint", summary="Fill the holes of an image", responses={**success, **errors},
              response_class=Response)
    async def inpaint(
        image: Annotated[UploadFile, File(description="The image (PNG, JPEG, WebP, BMP or TIFF).")],
        mask: Annotated[UploadFile, File(description="The mask, same size: white = hole (see mask_mode).")],
        model: Annotated[str | None, Form(description="A name from GET /api/models; default: the server's.")] = None,
        seed: Annotated[int | None, Form(ge=0, le=2**63 - 1, description="Makes results reproducible.")] = None,
        samples: Annotated[int, Form(ge=1, le=MAX_SAMPLES, description="Results wanted (>1: pluralistic "
                                                                        "or stochastic models only).")] = 1,
        strategy: Annotated[Literal["auto", "crop", "resize", "full"], Form(
            description="How images larger than the model's native size are handled.")] = "auto",
        mask_mode: Annotated[Literal["luminance", "alpha", "painted"], Form(
            description="luminance: white (> 127) = hole, also white strokes on a transparent canvas; "
                        "alpha: transparent = hole; painted: any opaque (painted) pixel = hole.")] = "luminance",
        resize_mask: Annotated[bool, Form(description="Scale a mask of another size to the image.")] = False,
        dilate: Annotated[int, Form(ge=0, le=64, description="Grow the hole by this many pixels.")] = 0,
        format: Annotated[Literal["auto", "json"], Form(
            description="auto: PNG for one result, JSON for several; json: always JSON.")] = "auto",
    ) -> Response:
        name = model or catalog.default
        try:
            catalog.info(name)
        except UnknownModel as exc:
            raise HTTPException(404, str(exc)) from None
        job = _Job(await image.read(), await mask.read(), _upload_name("image", image), _upload_name("mask", mask),
                   name, strategy, samples, seed, dilate, mask_mode, resize_mask)
        started = time.monotonic()
        try:
            done = await work.run(functools.partial(_run, job, catalog, max_pixels), timeout)
        except QueueFull as exc:
            raise HTTPException(
                503, f"the server is busy ({work.size} requests queued); retry in {exc.retry_after} s",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None
        except (TimeoutError, asyncio.TimeoutError):  # distinct types before Python 3.11
            raise HTTPException(
                504, f"inpainting took longer than {timeout:g} s (the server's --timeout); "
                     f"try a smaller image or a faster model"
            ) from None
        except HTTPException:
            raise
        except Exception as exc:  # a bug or a runtime failure (out of memory...): 500, server stays up
            logger.exception("inpainting failed")
            raise HTTPException(500, f"internal error: {type(exc).__name__}: {exc}") from None
        logger.info("inpainted %dx%d with %s in %.2f s", done.width, done.height, done.model,
                    time.monotonic() - started)
        headers = {
            "Cache-Control": "no-store",
            "X-Inpaintkit-Model": _ascii(done.model),
            "X-Inpaintkit-Strategy": done.strategy or "none",
        }
        if len(done.pngs) == 1 and format == "auto":
            if done.notes:
                headers["X-Inpaintkit-Notes"] = _ascii(" | ".join(done.notes))
            return Response(done.pngs[0], media_type="image/png", headers=headers)
        body = InpaintResult(model=done.model, strategy=done.strategy, width=done.width, height=done.height,
                             seed=seed, notes=done.notes,
                             images=[base64.b64encode(p).decode("ascii") for p in done.pngs])
        return JSONResponse(body.model_dump(), headers=headers)

    return app
