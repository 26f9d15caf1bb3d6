"""Helpers of the web tests: test images, a fake blocking model, running a real server."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from inpaintkit.models.base import GeneratorProtocol


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def noise_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """Random colours: any fill differs from it, so a changed hole is easy to see."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def box_mask(h: int = 48, w: int = 64, box: tuple[int, int, int, int] = (12, 30, 16, 44)) -> np.ndarray:
    """(H,W) uint8, 255 inside ``box`` = (y0, y1, x0, x1)."""
    m = np.zeros((h, w), np.uint8)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = 255
    return m


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


class BlockingModel(GeneratorProtocol):
    """A generator-protocol stand-in whose ``inpaint`` waits until released (or fails).

    Lets tests hold a worker busy for as long as they need: queue-full, timeout and
    event-loop-responsiveness tests. Fills the hole with mid-grey.
    """

    multiple = 1
    pluralistic = False
    name = "blocking"

    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.calls = 0
        self.finished = 0
        self.fail = fail

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor, generator=None) -> torch.Tensor:
        self.calls += 1
        self.entered.release()
        assert self.release.wait(30), "test never released the model"
        if self.fail:
            raise RuntimeError("the model broke")
        self.finished += 1
        return torch.zeros_like(image)


@dataclass
class LiveServer:
    url: str
    pid: int | None = None
    log: list[str] = field(default_factory=list)


def free_threads_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextlib.contextmanager
def serve_subprocess(*args: str, startup_timeout: float = 90.0) -> Iterator[LiveServer]:
    """``python -m inpaintkit serve --port 0 ARGS`` on loopback; yields its URL and pid."""
    cmd = [sys.executable, "-m", "inpaintkit", "serve", "--host", "127.0.0.1", "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=free_threads_env())
    server = LiveServer(url="", pid=proc.pid)
    ready = threading.Event()

    def drain() -> None:  # keep reading, or a full pipe would block the server
        assert proc.stdout is not None
        for line in proc.stdout:
            server.log.append(line.rstrip())
            found = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
            if found:
                server.url = found.group(1)
                ready.set()
        ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not ready.wait(0.2):
            if time.monotonic() > deadline:
                raise AssertionError("server did not start:\n" + "\n".join(server.log))
        if not server.url:
            raise AssertionError(f"server exited ({proc.poll()}):\n" + "\n".join(server.log))
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        reader.join(5)


@contextlib.contextmanager
def serve_thread(app) -> Iterator[LiveServer]:
    """The ASGI ``app`` under a real uvicorn server in a thread, on a free loopback port."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (server.started and server.servers):
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(15)


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")
