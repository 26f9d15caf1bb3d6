"""The web server's default limits, shared by :func:`~inpaintkit.web.app.create_app` and
``inpaintkit serve`` (importable without FastAPI, so that ``serve --help`` works without it)."""

#: Smaller than the CLI's 50 MP: a server holds several images at once.
DEFAULT_MAX_PIXELS = 16_000_000
DEFAULT_MAX_UPLOAD_MB = 25.0
DEFAULT_QUEUE = 8
DEFAULT_TIMEOUT = 120.0
MAX_SAMPLES = 8
