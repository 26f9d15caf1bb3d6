"""The web server's default limits, shared by :func:`~inpaintkit.web.app.create_app` and
``inpaintkit serve`` (importable without FastAPI, so that ``serve --help`` works without it)."""

#: Smaller than the CLI's 50 MP: a server holds several images at once.
DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_MAX_UPLOAD_MB = 25.0
DEFAULT_QUEUE = 8
DEFAULT_TIMEOUT = 120.0
MAX_SAMPLES = 8


def default_max_memory_mb() -> float:
    """Memory budget of the jobs running at once: half the machine's RAM, at most 4 GiB
    (a 1024^2 image at ``strategy=full`` with DeepFill v2 needs about 6 GiB; 2048^2, 75)."""
    from inpaintkit.machine import physical_memory

    total = physical_memory() or 8 * 2**30
    return min(4096.0, total / 2 / 2**20)
