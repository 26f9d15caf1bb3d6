"""The web API's response bodies and documented statuses (they make the OpenAPI page)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ModelEntry(BaseModel):
    name: str
    kind: str
    default: bool
    pluralistic: bool
    untrained: bool
    loaded: bool
    description: str
    status: str = ""  # usable / experimental (below the quality floor) / unmeasured / classical / untrained
    gap: str = ""  # the measured gap to the quality floor, one line


class Limits(BaseModel):
    max_pixels: int | None
    max_upload_bytes: int
    max_samples: int
    queue: int
    workers: int
    timeout_s: float | None
    max_memory_bytes: int | None = None


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


_ERRORS = {
    404: "unknown model name",
    413: "upload over --max-upload-mb, or image over --max-pixels",
    415: "a file is not a supported image (PNG, JPEG, WebP, BMP, TIFF)",
    422: "corrupt image, mask size mismatch, or a bad field",
    500: "the model failed to load, or an internal error",
    503: "the work queue is full: retry after the Retry-After header's seconds",
    504: "the request took longer than the server's --timeout",
}

#: ``responses=`` of ``POST /api/inpaint``: a PNG or JSON on success, ErrorBody otherwise.
INPAINT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One result: the PNG itself. Several results, or format=json: JSON with base64 PNGs.",
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": InpaintResult.model_json_schema()},
        },
    },
    **{code: {"model": ErrorBody, "description": text} for code, text in _ERRORS.items()},
}
