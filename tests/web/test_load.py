"""Load test of the real server (``inpaintkit serve`` in a subprocess, loopback only).

Bursts of 50 concurrent requests: every answer is 200 or 503 (queue full, with
Retry-After), never an error or a dropped connection; the server stays up (healthz);
its resident memory returns within 10 % of where it started. Bounded: 3 bursts, 60 s per request.
Prints status counts, p50/p95 latency and RSS before/after (run with -s to see them).
"""

from __future__ import annotations

import asyncio
import collections
import time

import numpy as np
import pytest
from web_helpers import png_bytes, rss_bytes, serve_subprocess

httpx = pytest.importorskip("httpx")

pytestmark = pytest.mark.slow

CONCURRENT = 50
BURSTS = 3
QUEUE = 8


def _payload() -> tuple[bytes, bytes]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (384, 512, 3), dtype=np.uint8)
    mask = np.zeros((384, 512), np.uint8)
    mask[150:200, 60:450] = 255  # a stroke across the image: about 10 % hole
    return png_bytes(image), png_bytes(mask)


async def _burst(url: str, image: bytes, mask: bytes) -> list[tuple[int, float, str]]:
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def one() -> tuple[int, float, str]:
            t0 = time.perf_counter()
            r = await client.post("/api/inpaint", files={"image": ("i.png", image), "mask": ("m.png", mask)})
            extra = r.headers.get("retry-after", "") if r.status_code == 503 else ""
            return r.status_code, time.perf_counter() - t0, extra

        return await asyncio.gather(*(one() for _ in range(CONCURRENT)))


def test_fifty_concurrent_requests():
    image, mask = _payload()
    with serve_subprocess("--model", "telea", "--queue", str(QUEUE), "--timeout", "60") as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(3):  # load the model, warm the allocator and the worker thread
                r = client.post("/api/inpaint", files={"image": ("i.png", image), "mask": ("m.png", mask)})
                assert r.status_code == 200, r.text
            time.sleep(0.5)
            rss_before = rss_bytes(server.pid)
            results = []
            started = time.perf_counter()
            for _ in range(BURSTS):
                results += asyncio.run(_burst(server.url, image, mask))
            wall = time.perf_counter() - started
            health = client.get("/healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
            # The server is idle again, and still serves.
            deadline = time.monotonic() + 30
            while client.get("/healthz").json()["busy"]:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            r = client.post("/api/inpaint", files={"image": ("i.png", image), "mask": ("m.png", mask)})
            assert r.status_code == 200
            time.sleep(1.0)
            rss_after = rss_bytes(server.pid)

    counts = collections.Counter(status for status, _, _ in results)
    ok = sorted(t for status, t, _ in results if status == 200)
    every = sorted(t for _, t, _ in results)
    p50, p95 = np.percentile(every, 50), np.percentile(every, 95)
    print(
        f"\nload: {len(results)} requests in {BURSTS} bursts of {CONCURRENT} (queue {QUEUE}), {wall:.1f} s; "
        f"status {dict(counts)}; latency all p50 {p50 * 1000:.0f} ms p95 {p95 * 1000:.0f} ms; "
        f"200s p50 {np.percentile(ok, 50) * 1000:.0f} ms p95 {np.percentile(ok, 95) * 1000:.0f} ms; "
        f"RSS before {rss_before / 2**20:.1f} MiB after {rss_after / 2**20:.1f} MiB"
    )
    assert set(counts) <= {200, 503}, counts
    assert counts[200] >= QUEUE, "at least a queue's worth of requests per run must succeed"
    assert all(extra.isdigit() and int(extra) >= 1 for status, _, extra in results if status == 503)
    assert rss_after <= 1.10 * rss_before, (rss_before, rss_after)  # issue 18: back within 10 %
