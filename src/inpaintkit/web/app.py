"""The web app: a FastAPI server around :class:`~inpaintkit.inference.Inpainter` and one page.

``create_app(model="default", ...)`` builds the ASGI app (``inpaintkit serve`` runs it with
uvicorn; tests use FastAPI's ``TestClient`` on it). Endpoints (OpenAPI at ``/docs``):

* ``GET /`` - the page (``web/static/index.html``, ``app.js``, ``style.css``: plain JS +
  canvas, no build step); ``GET /static/...`` its files.
* ``GET /api/models`` - the model names a request may use, which is the default, which are
  pluralistic (several different results per request) or untrained, and the server limits.
* ``POST /api/inpaint`` - multipart form: ``image`` and ``mask`` files, optional ``model``,
  ``seed``, ``samples``, ``strategy``, ``mask_mode``, ``resize_mask``, ``mask_exif`` (a mask drawn
  on the stored pixels of an EXIF-rotated photo; without it such a mask is a 422 naming the
  orientation), ``dilate``,
  ``format``, and ``sketch`` (a file of the image's size, white strokes: guides a model
  with a sketch channel inside the hole; 422 for another model or size).
  **Response choice**: one result comes back as the PNG itself (``image/png``, with
  ``X-Inpaintkit-Model`` / ``X-Inpaintkit-Strategy`` headers), which any HTTP client
  can save as it is; several results (``samples > 1``) come back as JSON
  ``{"images": [base64 PNG, ...], "model", "strategy", "notes", "width", "height"}``, since
  one HTTP response holds one body. ``format=json`` asks for the JSON form for one result
  too (the page uses it, to get the notes along). Results are PNG: lossless, so pixels
  outside the hole are bit-identical to the uploaded image.
* ``POST /api/select`` - ``image`` plus ``box`` and/or ``point`` fields: the proposed mask
  (PNG, white = hole) for the object there (:mod:`inpaintkit.web.select`).
* ``GET /healthz`` - liveness plus the queue's load.

Errors are JSON ``{"detail": "<one readable line>"}``: 404 unknown model, 413 upload over
``max_upload_mb``, image over ``max_pixels`` or a request whose estimated peak memory is
over ``max_memory_mb`` (``inference/cost.py``; ``strategy=full`` on a large image), 415
not an image, 422 corrupt image, mask
size mismatch (unless ``resize_mask``) and other bad fields, 503 queue full (with
``Retry-After``), 504 over ``timeout`` seconds, 500 a model that fails to load or a bug.
An :class:`~inpaintkit.errors.InpaintError` answers with its class's ``http_status``
(:mod:`inpaintkit.errors`); the message text is never inspected.

Safety: requests name models only from the list (never a path); uploads are decoded by
:mod:`inpaintkit.io` (format allow-list, pixel limit read from the header before any
decoding); decoding, inference and PNG encoding (:mod:`inpaintkit.web.jobs`) run in worker
threads of a bounded queue (:mod:`inpaintkit.web.limits`); nothing of one request is kept for another (each gets its
own Inpainter copy, see :mod:`inpaintkit.web.catalog`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from inpaintkit import __version__
from inpaintkit.errors import InpaintError, NotFound
from inpaintkit.inference import STRATEGIES
from inpaintkit.io import MASK_MODES
from inpaintkit.web.catalog import ModelCatalog, UnknownModel
from inpaintkit.web.defaults import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_MB,
    DEFAULT_QUEUE,
    DEFAULT_TIMEOUT,
    MAX_SAMPLES,
    default_max_memory_mb,
)
from inpaintkit.web.jobs import Done, Job, run_job
from inpaintkit.web.limits import GuardMiddleware, MemoryBudget, QueueFull, WorkQueue
from inpaintkit.web.schemas import INPAINT_RESPONSES, Health, InpaintResult, Limits, ModelEntry, ModelList
from inpaintkit.web.select import add_select_route

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

# The form fields' choices, from the one definition of each (FastAPI validates them).
Strategy = Literal[STRATEGIES]  # type: ignore[valid-type]
MaskMode = Literal[MASK_MODES]  # type: ignore[valid-type]


@dataclass(frozen=True)
class _Settings:
    max_pixels: int | None
    max_body: int
    timeout: float | None
    memory: MemoryBudget


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
    max_memory_mb: float | None = None,
) -> FastAPI:
    """The inpainting web app (module docstring).

    ``model``: the default model (a listed name, or an operator-given checkpoint / ONNX
    path, loaded now). ``models``: extra name -> module entries (e.g. tiny test models).
    ``max_upload_mb``: limit on a request's whole body. ``queue``: jobs admitted at once
    (waiting or running); ``workers``: threads running them. ``timeout``: seconds per
    request (None: no limit). ``allowed_hosts``: accepted ``Host`` headers (guards a
    loopback server against DNS rebinding); None accepts any. ``max_memory_mb``: budget of
    the estimated peak memory of the jobs running at once (None: the default of
    :func:`~inpaintkit.web.defaults.default_max_memory_mb`); a request over it gets 413.
    """
    _check_settings(max_upload_mb, max_pixels, queue, workers, timeout)
    if max_memory_mb is None:
        max_memory_mb = default_max_memory_mb()
    if max_memory_mb <= 0:
        raise InpaintError(f"max_memory_mb must be > 0, got {max_memory_mb}")
    settings = _Settings(max_pixels, int(max_upload_mb * 2**20), timeout, MemoryBudget(int(max_memory_mb * 2**20)))
    catalog = ModelCatalog(model, extra=models, device=device, max_pixels=max_pixels)
    work = WorkQueue(queue, workers)
    app = _new_app(work, settings.max_body, allowed_hosts)
    app.state.catalog = catalog
    app.state.work = work
    _add_error_handlers(app)
    _add_info_routes(app, catalog, work, settings)
    _add_inpaint_route(app, catalog, work, settings)
    add_select_route(app, lambda job: _execute(work, job, settings.timeout), settings.max_pixels, _upload_name)
    return app


def _check_settings(max_upload_mb: float, max_pixels: int | None, queue: int, workers: int,
                    timeout: float | None) -> None:
    if max_upload_mb <= 0:
        raise InpaintError(f"max_upload_mb must be > 0, got {max_upload_mb}")
    if max_pixels is not None and max_pixels < 1:
        raise InpaintError(f"max_pixels must be >= 1, got {max_pixels}")
    if queue < 1 or workers < 1:
        raise InpaintError(f"queue and workers must be >= 1, got {queue} and {workers}")
    if timeout is not None and timeout <= 0:
        raise InpaintError(f"timeout must be > 0 seconds, got {timeout}")


def _new_app(work: WorkQueue, max_body: int, allowed_hosts: list[str] | None) -> FastAPI:
    """The bare app: lifespan (stops the workers), guards, and the page's static files."""

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
    app.add_middleware(GuardMiddleware, max_body=max_body, queue=work, queued_paths=("/api/inpaint", "/api/select"))
    if allowed_hosts is not None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Bad fields: 422 naming the field. Typed errors: their class's ``http_status``."""

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

    @app.exception_handler(InpaintError)
    async def _typed(_request: Request, exc: InpaintError) -> JSONResponse:
        return JSONResponse(status_code=exc.http_status, content={"detail": str(exc)})


def _add_info_routes(app: FastAPI, catalog: ModelCatalog, work: WorkQueue, settings: _Settings) -> None:
    """The page, the health check and the model list."""

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
                       untrained=i.untrained, loaded=i.name in loaded, description=i.description,
                       status=i.status, gap=i.gap)
            for i in catalog.infos()
        ]
        limits = Limits(max_pixels=settings.max_pixels, max_upload_bytes=settings.max_body,
                        max_samples=MAX_SAMPLES, queue=work.size, workers=work.workers,
                        timeout_s=settings.timeout, max_memory_bytes=settings.memory.total)
        return ModelList(default=catalog.default, models=entries, limits=limits)


def _add_inpaint_route(app: FastAPI, catalog: ModelCatalog, work: WorkQueue, settings: _Settings) -> None:
    @app.post("/api/inpaint", summary="Fill the holes of an image", responses=INPAINT_RESPONSES,
              response_class=Response)
    async def inpaint(
        image: Annotated[UploadFile, File(description="The image (PNG, JPEG, WebP, BMP or TIFF).")],
        mask: Annotated[UploadFile, File(description="The mask, same size: white = hole (see mask_mode).")],
        model: Annotated[str | None, Form(description="A name from GET /api/models; default: the server's.")] = None,
        seed: Annotated[int | None, Form(ge=0, le=2**63 - 1, description="Makes results reproducible.")] = None,
        samples: Annotated[int, Form(ge=1, le=MAX_SAMPLES, description="Results wanted (>1: pluralistic "
                                                                        "or stochastic models only).")] = 1,
        strategy: Annotated[Strategy, Form(
            description="How images larger than the model's native size are handled.")] = "auto",
        mask_mode: Annotated[MaskMode, Form(
            description="luminance: white (> 127) = hole, also white strokes on a transparent canvas; "
                        "alpha: transparent = hole; painted: any opaque (painted) pixel = hole.")] = "luminance",
        resize_mask: Annotated[bool, Form(description="Scale a mask of another size to the image.")] = False,
        mask_exif: Annotated[bool, Form(description="The mask was drawn on the stored pixels of an EXIF-rotated "
                                                    "photo: rotate it the same way.")] = False,
        dilate: Annotated[int, Form(ge=0, le=64, description="Grow the hole by this many pixels.")] = 0,
        format: Annotated[Literal["auto", "json"], Form(
            description="auto: PNG for one result, JSON for several; json: always JSON.")] = "auto",
        sketch: Annotated[UploadFile | None, File(description="Optional, same size: white strokes guide a model "
                                                              "with a sketch channel inside the hole.")] = None,
    ) -> Response:
        name = model or catalog.default
        try:
            catalog.info(name)
        except UnknownModel as exc:
            raise NotFound(str(exc)) from None
        job = Job(await image.read(), await mask.read(), _upload_name("image", image), _upload_name("mask", mask),
                  name, strategy, samples, seed, dilate, mask_mode, resize_mask,
                  None if sketch is None else await sketch.read(),
                  "sketch" if sketch is None else _upload_name("sketch", sketch), mask_exif=mask_exif)
        started = time.monotonic()
        work_item = functools.partial(run_job, job, catalog, settings.max_pixels, settings.memory)
        done = await _execute(work, work_item, settings.timeout)
        logger.info("inpainted %dx%d with %s in %.2f s", done.width, done.height, done.model,
                    time.monotonic() - started)
        return _respond(done, seed, as_json=format == "json")


async def _execute(work: WorkQueue, job: Callable[[], Done], timeout: float | None) -> Done:
    """Run ``job`` in the queue: 503 when it is full, 504 after ``timeout``, 500 for a bug."""
    try:
        return await work.run(job, timeout)
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
    except InpaintError:
        raise  # the request's own problem: answered with its type's status
    except Exception as exc:  # a bug or a runtime failure (out of memory...): 500, server stays up
        logger.exception("inpainting failed")
        raise HTTPException(500, f"internal error: {type(exc).__name__}: {exc}") from None


def _respond(done: Done, seed: int | None, as_json: bool) -> Response:
    """One result as the PNG itself (unless ``as_json``); several as JSON with base64 PNGs."""
    headers = {
        "Cache-Control": "no-store",
        "X-Inpaintkit-Model": _ascii(done.model),
        "X-Inpaintkit-Strategy": done.strategy or "none",
    }
    if len(done.pngs) == 1 and not as_json:
        if done.notes:
            headers["X-Inpaintkit-Notes"] = _ascii(" | ".join(done.notes))
        return Response(done.pngs[0], media_type="image/png", headers=headers)
    body = InpaintResult(model=done.model, strategy=done.strategy, width=done.width, height=done.height,
                         seed=seed, notes=done.notes, images=[base64.b64encode(p).decode("ascii") for p in done.pngs])
    return JSONResponse(body.model_dump(), headers=headers)


def _upload_name(field: str, upload: UploadFile) -> str:
    """A label for error messages: the field plus the client's file name, made harmless."""
    raw = upload.filename or ""
    clean = "".join(c for c in raw if c.isprintable() and c not in "\"'\\")[:80]
    return f"{field} '{clean}'" if clean else field


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")
