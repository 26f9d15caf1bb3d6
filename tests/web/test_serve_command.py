"""``inpaintkit serve``: options reach the app and uvicorn; bad options fail before serving."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import box_mask, decode_png, noise_image, png_bytes

from inpaintkit.cli import app


@pytest.fixture()
def captured(monkeypatch):
    """Replace uvicorn's serving loop: record the config instead of listening."""
    import uvicorn

    seen: dict = {}

    def fake_run(self, sockets=None):
        seen["config"] = self.config

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    return seen


def test_help_lists_the_options():
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0
    for option in ("--host", "--port", "--model", "--max-pixels", "--max-upload-mb", "--queue", "--timeout"):
        assert option in r.stdout


def test_defaults_bind_loopback_only(captured):
    r = CliRunner().invoke(app, ["serve", "--model", "telea"])
    assert r.exit_code == 0, r.output
    config = captured["config"]
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    with TestClient(config.app, base_url="http://127.0.0.1:8080") as c:
        body = c.get("/api/models").json()
        assert body["default"] == "telea" and body["limits"]["queue"] == 8
        assert body["limits"]["max_pixels"] == 16_000_000
        # A DNS-rebinding page reaches a loopback server under a foreign Host name.
        assert c.get("/healthz", headers={"Host": "evil.example:8080"}).status_code == 400
        assert c.get("/healthz", headers={"Host": "localhost:8080"}).status_code == 200


def test_options_reach_the_app(captured):
    r = CliRunner().invoke(app, ["serve", "--port", "9999", "--model", "ns", "--max-pixels", "100",
                                 "--max-upload-mb", "1.5", "--queue", "3", "--workers", "2", "--timeout", "7",
                                 "--max-memory", "300"])
    assert r.exit_code == 0, r.output
    config = captured["config"]
    assert config.port == 9999
    with TestClient(config.app, base_url="http://127.0.0.1:9999") as c:
        body = c.get("/api/models").json()
    assert body["default"] == "ns"
    assert body["limits"] == {"max_pixels": 100, "max_upload_bytes": int(1.5 * 2**20), "max_samples": 8,
                              "queue": 3, "workers": 2, "timeout_s": 7.0, "max_memory_bytes": 300 * 2**20}


def test_public_host_warns(captured):
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--model", "telea"])
    assert r.exit_code == 0
    assert "no authentication" in r.output
    assert captured["config"].host == "0.0.0.0"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--queue", "0"], "--queue"),
        (["--port", "70000"], "--port"),
        (["--max-upload-mb", "0"], "--max-upload-mb"),
    ],
)
def test_bad_options_exit_2(captured, args, words):
    r = CliRunner().invoke(app, ["serve", *args])
    assert r.exit_code == 2
    assert words in r.output
    assert "config" not in captured


def test_checkpoint_path_is_the_operators_choice(captured, tmp_path):
    from inpaintkit.inference import save_model
    from inpaintkit.models.registry import create_model

    folder = save_model(create_model("pconv_unet", tiny=True), tmp_path / "my_ckpt")
    r = CliRunner().invoke(app, ["serve", "--model", str(folder), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    image, mask = noise_image(), box_mask()
    with TestClient(captured["config"].app, base_url="http://127.0.0.1:8080") as c:
        body = c.get("/api/models").json()
        assert body["default"] == "file:my_ckpt"
        entry = next(m for m in body["models"] if m["default"])
        assert entry["kind"] == "file" and entry["loaded"] and not entry["untrained"]
        out = c.post("/api/inpaint", files={"image": ("a.png", png_bytes(image)), "mask": ("m.png", png_bytes(mask))})
        assert out.status_code == 200 and out.headers["x-inpaintkit-model"] == "pconv_unet"
        result = decode_png(out.content)
        assert np.array_equal(result[mask == 0], image[mask == 0])
