"""``inpaintkit serve``: the local web app (page + HTTP API) with uvicorn.

Binds to 127.0.0.1 by default: the server has no authentication, so only this machine
can reach it, and it accepts only loopback ``Host`` headers then (DNS-rebinding guard).
``--host 0.0.0.0`` exposes it to the network (with a warning). ``--port 0`` picks a free
port (the address is printed).
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from inpaintkit.commands.options import Device
from inpaintkit.errors import InpaintError
from inpaintkit.web.defaults import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_MB, DEFAULT_QUEUE, DEFAULT_TIMEOUT

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")] = 8080,
    model: Annotated[
        str, typer.Option("--model", "-m", help="Default model: a name (see `inpaintkit models`) or a checkpoint.")
    ] = "default",
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", min=1, help="Refuse larger images (413).")
    ] = DEFAULT_MAX_PIXELS,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", min=0.001, help="Refuse larger request bodies (413).")
    ] = DEFAULT_MAX_UPLOAD_MB,
    queue: Annotated[
        int, typer.Option("--queue", min=1, help="Requests admitted at once; more get 503 + Retry-After.")
    ] = DEFAULT_QUEUE,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Inference threads.")] = 1,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Seconds per request before a 504.")
    ] = DEFAULT_TIMEOUT,
    max_memory: Annotated[
        float | None, typer.Option("--max-memory", min=1, help="MiB of estimated peak memory for the requests "
                                   "running at once; larger requests get 413 (default: half the RAM, at most 4096).")
    ] = None,
    device: Device = "auto",
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in a browser.")] = False,
) -> None:
    """Serve the web app: paint a mask over an image in the browser and fill it."""
    try:
        import uvicorn
    except ImportError:
        raise InpaintError("the web app needs fastapi and uvicorn: pip install 'inpaintkit[web]'") from None
    from rich.console import Console

    from inpaintkit.web.app import create_app

    console = Console(stderr=True, highlight=False)
    loopback = _is_loopback(host)
    allowed = [*_LOOPBACK_NAMES, host] if loopback else None
    if not loopback:
        console.print(
            f"warning: binding to {host}: anyone who can reach this machine can use the server "
            f"(it has no authentication)", markup=False,
        )
    app = create_app(model, device=device, max_pixels=max_pixels, max_upload_mb=max_upload_mb, queue=queue,
                     workers=workers, timeout=timeout, allowed_hosts=allowed, max_memory_mb=max_memory)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if open_browser:
        _open_when_started(server, host)
    server.run()


def _open_when_started(server, host: str) -> None:
    """Open the page once uvicorn listens (its port is only known then with --port 0)."""
    import threading
    import time
    import webbrowser

    def wait_and_open() -> None:
        for _ in range(600):
            if server.started and server.servers:
                sockets = server.servers[0].sockets
                if sockets:
                    port = sockets[0].getsockname()[1]
                    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
                    webbrowser.open(f"http://{shown}:{port}/")
                return
            time.sleep(0.1)

    threading.Thread(target=wait_and_open, daemon=True).start()
