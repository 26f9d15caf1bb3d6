"""What keeps the web server up under load and bad requests.

* :class:`WorkQueue`: at most ``size`` inpainting jobs are *in the server* at once (waiting
  for a worker, running, or still running after their request timed out), run by
  ``workers`` threads of a private thread pool so that the event loop never blocks. A job
  over the bound is refused at once (HTTP 503 with ``Retry-After``) instead of piling up.
  A thread cannot be killed, so a job whose request timed out keeps its place in the
  queue until it really ends: abandoned work can never accumulate beyond ``size``.
* :class:`MemoryBudget`: the estimated peak memory (``inference/cost.py``) of the jobs
  running at once stays within ``--max-memory``; a job over the whole budget is refused
  (413 with the numbers), one that fits waits until enough is free.
* :class:`GuardMiddleware` (pure ASGI, so it sees the body before anything parses it):
  a request body over ``max_body`` bytes is refused with 413 (from ``Content-Length`` when
  given, else while streaming), an inpainting POST that arrives while the queue is full
  gets its 503 before its upload is parsed (the body is read and dropped first, up to the
  size limit: closing on an unread body makes the kernel reset the connection, and clients
  then see a reset instead of the answer), cross-site POSTs (an ``Origin`` naming another
  host) get 403, and every response carries defensive headers (no sniffing, no framing,
  and for the page a content-security policy limiting it to its own scripts).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

T = TypeVar("T")

_LIBC_TRIM: Any = None  # glibc's malloc_trim once looked up; False where there is none


def trim_heap() -> None:
    """Hand the heap pages freed by a finished job back to the OS (glibc ``malloc_trim``;
    a no-op elsewhere). Each job decodes, fills and encodes images of up to tens of MB in a
    worker thread; glibc keeps such freed pages in per-thread arenas, so the server's RSS
    crept up under load (13 % after 9 rounds of 50 uploads) before levelling off."""
    global _LIBC_TRIM
    if _LIBC_TRIM is None:
        import ctypes
        import ctypes.util

        try:
            _LIBC_TRIM = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
            _LIBC_TRIM = False
    if _LIBC_TRIM:
        _LIBC_TRIM(0)

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# Only for the page and its files: FastAPI's /docs pages load Swagger UI from a CDN.
PAGE_POLICY = (
    b"content-security-policy",
    b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
    b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
)


class QueueFull(Exception):
    """No room for another job; ``retry_after`` is a guess in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"server busy, retry in {retry_after} s")
        self.retry_after = retry_after


class WorkQueue:
    """Bounded admission + a private pool of ``workers`` threads (module docstring)."""

    def __init__(self, size: int, workers: int = 1) -> None:
        if size < 1 or workers < 1:
            raise ValueError(f"queue size and workers must be >= 1, got {size} and {workers}")
        self.size = size
        self.workers = workers
        self._busy = 0
        self._lock = threading.Lock()
        self._seconds = 1.0  # running mean of job durations, for Retry-After
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="inpaintkit-web")

    @property
    def full(self) -> bool:
        return self._busy >= self.size

    @property
    def busy(self) -> int:
        """Jobs now in the server (waiting, running, or abandoned but still running)."""
        return self._busy

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: queued work divided among the workers."""
        waves = max(1, math.ceil(self._busy / self.workers))
        return int(min(60, max(1, math.ceil(self._seconds * waves))))

    def _release(self, started: float | None) -> None:
        with self._lock:
            self._busy -= 1
            if started is not None:  # a job cancelled before it ran says nothing about durations
                self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)

    def submit(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Start ``job`` in a worker thread, or raise :class:`QueueFull`."""
        with self._lock:
            if self._busy >= self.size:
                raise QueueFull(self.retry_after())
            self._busy += 1
        # The mean duration is the job's run time, from when a worker starts it: timing from
        # submission also counted the wait in the queue, and Retry-After (mean x waves)
        # counted that wait twice (60 s advised for a queue that cleared in 15 s).
        started: list[float] = []

        def timed() -> T:
            started.append(time.monotonic())
            try:
                return job()
            finally:
                trim_heap()

        try:
            future = self._pool.submit(timed)
        except RuntimeError:  # pool shut down: the server is stopping
            self._release(None)
            raise QueueFull(self.retry_after()) from None
        # Fires when the job ends *or* is cancelled before it started, never earlier.
        future.add_done_callback(lambda _f: self._release(started[0] if started else None))
        return future

    async def run(self, job: Callable[[], T], timeout: float | None) -> T:
        """Run ``job`` in a worker thread and await it; :class:`TimeoutError` after ``timeout``
        seconds (a job that has not started by then is dropped, a running one finishes)."""
        future = asyncio.wrap_future(self.submit(job))
        # wait_for cancels the asyncio wrapper on timeout, which cancels the pool future
        # when it has not started yet (a running thread cannot be stopped).
        return await asyncio.wait_for(future, timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class MemoryBudget:
    """Reservations of estimated bytes against ``total`` (module docstring)."""

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError(f"memory budget must be >= 1 byte, got {total}")
        self.total = total
        self.used = 0
        self._cond = threading.Condition()

    def fits(self, need: int) -> bool:
        return need <= self.total

    def acquire(self, need: int) -> None:
        """Wait until ``need`` bytes (at most ``total``) are free and take them."""
        need = min(need, self.total)
        with self._cond:
            self._cond.wait_for(lambda: self.used + need <= self.total)
            self.used += need

    def release(self, need: int) -> None:
        with self._cond:
            self.used -= min(need, self.total)
            self._cond.notify_all()


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class _BodyTooLarge(HTTPException):
    """Raised from ``receive`` while the body streams in. An HTTPException, so that
    FastAPI's body parsing re-raises it (it turns other errors into a 400) and the
    exception middleware answers 413 with its ``detail``."""


class GuardMiddleware:
    """Body size limit, same-origin POSTs and security headers (module docstring)."""

    def __init__(self, app: Any, max_body: int, queue: WorkQueue | None = None,
                 queued_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_body = max_body
        self.queue = queue
        self.queued_paths = queued_paths

    def _too_large(self, size: int, streamed: bool = False) -> str:
        # A streamed body is refused as soon as it passes the limit: its full size is unknown.
        what = f"over {size:,} bytes received" if streamed else f"{size:,} bytes"
        return (f"upload too large: {what}, the limit is {self.max_body:,} bytes "
                f"({self.max_body / 2**20:g} MB, the server's --max-upload-mb)")

    async def _drain(self, receive: Any, limit: int) -> None:
        """Read and drop the request body, up to ``limit`` bytes (module docstring)."""
        received = 0
        while received <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _refuse(self, send: Any, status: int, detail: str,
                      extra: list[tuple[bytes, bytes]] | None = None, receive: Any = None,
                      limit: int | None = None) -> None:
        if receive is not None:
            await self._drain(receive, self.max_body if limit is None else limit)
        body = json.dumps({"detail": detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close"), *SECURITY_HEADERS, *(extra or [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path = scope.get("path", "")
        added = [*SECURITY_HEADERS, PAGE_POLICY] if path == "/" or path.startswith("/static/") else SECURITY_HEADERS

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in added if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            origin = _header(scope, b"origin")
            host = _header(scope, b"host")
            # Browsers send Origin on cross-site form posts; a page on another site must not
            # be able to make a visitor's browser spend this machine's CPU.
            if origin is not None and (origin == "null" or urlsplit(origin).netloc != host):
                await self._refuse(send, 403, f"cross-origin request from {origin} refused", receive=receive)
                return
            if self.queue is not None and path in self.queued_paths and self.queue.full:
                # Answer before reading the upload: parsing it would cost the CPU that the
                # queued work needs. The endpoint checks again when it submits the job.
                retry = self.queue.retry_after()
                await self._refuse(send, 503, f"the server is busy ({self.queue.size} requests queued); "
                                              f"retry in {retry} s", [(b"retry-after", str(retry).encode())],
                                  receive=receive)
                return
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            # Drained too when the body is at most twice the limit: then the client reads its
            # 413 instead of a reset, and reading it costs little.
            drain = receive if int(length) <= 2 * self.max_body else None
            await self._refuse(send, 413, self._too_large(int(length)), receive=drain, limit=int(length))
            return
        received = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge(413, self._too_large(received, streamed=True))
            return message

        await self.app(scope, limited_receive, send_with_headers)
