"""The web API through FastAPI's TestClient: every endpoint and every bad input."""

from __future__ import annotations

import base64
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import BlockingModel, box_mask, decode_png, noise_image, png_bytes

from inpaintkit.errors import InpaintError, NotFound, TooLarge, Unsupported
from inpaintkit.models.base import GeneratorProtocol
from inpaintkit.models.registry import create_model
from inpaintkit.web.app import create_app
from inpaintkit.web.catalog import ModelCatalog


def files(image: bytes, mask: bytes) -> dict:
    return {"image": ("photo.png", image, "image/png"), "mask": ("mask.png", mask, "image/png")}


@pytest.fixture()
def client():
    with TestClient(create_app("telea")) as c:
        yield c


@pytest.fixture(scope="module")
def tiny_pic():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return create_model("pic_net", tiny=True)


def post(c: TestClient, image: np.ndarray, mask: np.ndarray, **data):
    return c.post("/api/inpaint", files=files(png_bytes(image), png_bytes(mask)),
                  data={k: str(v) for k, v in data.items()})


def assert_inpainted(out: np.ndarray, image: np.ndarray, hole: np.ndarray) -> None:
    assert out.shape == image.shape
    assert np.array_equal(out[~hole], image[~hole]), "known pixels must be bit-identical"
    assert (out[hole] != image[hole]).any(axis=-1).mean() > 0.5, "the hole was not filled"


# --- GET endpoints ---------------------------------------------------------------------

def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["busy"] == 0 and body["queue"] == 8
    assert body["loaded_models"] == []  # nothing loaded before it is asked for


def test_models_lists_names_default_and_flags(tiny_pic):
    app = create_app("ns", models={"tiny_pic": tiny_pic}, max_pixels=1234, max_upload_mb=2, queue=3,
                     max_memory_mb=512)
    with TestClient(app) as c:
        body = c.get("/api/models").json()
    by_name = {m["name"]: m for m in body["models"]}
    assert body["default"] == "ns"
    assert {"default", "telea", "ns", "pic_net", "deepfill_v2", "tiny_pic"} <= set(by_name)
    assert [m["name"] for m in body["models"] if m["default"]] == ["ns"]
    assert by_name["pic_net"]["pluralistic"] and by_name["tiny_pic"]["pluralistic"]
    assert not by_name["telea"]["pluralistic"] and not by_name["deepfill_v2"]["pluralistic"]
    assert by_name["deepfill_v2_vanilla"]["untrained"] and not by_name["telea"]["untrained"]
    assert not by_name["deepfill_v2"]["untrained"]  # shipped CPU-trained weights
    assert body["limits"] == {"max_pixels": 1234, "max_upload_bytes": 2 * 2**20, "max_samples": 8,
                              "queue": 3, "workers": 1, "timeout_s": 120.0, "max_memory_bytes": 512 * 2**20}


def test_page_and_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/static/app.js" in r.text and 'id="mask-canvas"' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/../app.py").status_code == 404


def test_openapi_documents_the_api(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/models", "/api/inpaint", "/healthz"} <= set(spec["paths"])
    post_spec = spec["paths"]["/api/inpaint"]["post"]
    assert set(post_spec["responses"]["200"]["content"]) == {"image/png", "application/json"}
    assert {"404", "413", "415", "422", "503", "504"} <= set(post_spec["responses"])
    form = post_spec["requestBody"]["content"]["multipart/form-data"]["schema"]
    if "$ref" in form:
        form = spec["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    assert {"image", "mask", "model", "seed", "samples", "strategy"} <= set(form["properties"])


# --- POST /api/inpaint: results ---------------------------------------------------------

def test_one_result_is_a_png(client, image_and_mask):
    image, mask = image_and_mask
    r = post(client, image, mask)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-inpaintkit-model"] == "telea"
    assert r.headers["x-inpaintkit-strategy"] == "full"
    assert_inpainted(decode_png(r.content), image, mask > 0)
    # The model is loaded now, and listed as such.
    assert client.get("/healthz").json()["loaded_models"] == ["telea"]


def test_format_json_gives_the_same_image(client, image_and_mask):
    image, mask = image_and_mask
    png = post(client, image, mask).content
    r = post(client, image, mask, format="json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["model"] == "telea" and (body["width"], body["height"]) == (64, 48)
    assert len(body["images"]) == 1
    assert np.array_equal(decode_png(base64.b64decode(body["images"][0])), decode_png(png))


def test_default_model_and_named_model(image_and_mask):
    image, mask = image_and_mask
    with TestClient(create_app("ns")) as c:
        assert post(c, image, mask).headers["x-inpaintkit-model"] == "ns"
        assert post(c, image, mask, model="telea").headers["x-inpaintkit-model"] == "telea"


def test_pluralistic_samples_come_back_as_json(tiny_pic, image_and_mask):
    image, mask = image_and_mask
    with TestClient(create_app("telea", models={"tiny_pic": tiny_pic})) as c:
        r = post(c, image, mask, model="tiny_pic", samples=3, seed=7)
        assert r.status_code == 200, r.text
        body = r.json()
        outs = [decode_png(base64.b64decode(b)) for b in body["images"]]
        assert len(outs) == 3 and body["seed"] == 7
        for out in outs:
            assert np.array_equal(out[mask == 0], image[mask == 0])
        assert not np.array_equal(outs[0], outs[1]), "pluralistic samples should differ"
        again = post(c, image, mask, model="tiny_pic", samples=3, seed=7).json()
        assert again["images"] == body["images"], "a seed makes the results reproducible"


def test_network_without_weights_is_refused(image_and_mask):
    # deepfill_v2_vanilla ships no weights: random weights would only paint noise
    image, mask = image_and_mask
    with TestClient(create_app("telea")) as c:
        r = post(c, image, mask, model="deepfill_v2_vanilla", format="json")
    assert r.status_code == 404, r.text
    assert "no trained weights" in r.json()["detail"]


def test_mask_modes(client):
    image = noise_image()
    hole = box_mask() > 0
    # A painted canvas: white strokes on a transparent background (luminance handles it).
    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[hole] = (255, 255, 255, 255)
    out = decode_png(client.post("/api/inpaint", files=files(png_bytes(image), png_bytes(rgba))).content)
    assert_inpainted(out, image, hole)
    # painted: any opaque pixel is a hole, whatever its colour.
    red = np.zeros((48, 64, 4), np.uint8)
    red[hole] = (255, 0, 0, 255)
    r = client.post("/api/inpaint", files=files(png_bytes(image), png_bytes(red)), data={"mask_mode": "painted"})
    assert_inpainted(decode_png(r.content), image, hole)
    # alpha: transparent = hole (the CLI's --mask-alpha).
    cut = np.full((48, 64, 4), 255, np.uint8)
    cut[hole, 3] = 0
    r = client.post("/api/inpaint", files=files(png_bytes(image), png_bytes(cut)), data={"mask_mode": "alpha"})
    assert_inpainted(decode_png(r.content), image, hole)
    r = client.post("/api/inpaint", files=files(png_bytes(image), png_bytes(box_mask())), data={"mask_mode": "alpha"})
    assert r.status_code == 422 and "no alpha channel" in r.json()["detail"]


def test_resize_mask(client):
    image = noise_image(96, 128)
    small = box_mask()  # 64x48: half the image's size
    r = post(client, image, small)
    assert r.status_code == 422
    assert "64x48" in r.json()["detail"] and "128x96" in r.json()["detail"] and "resize_mask" in r.json()["detail"]
    r = post(client, image, small, resize_mask="true")
    assert r.status_code == 200
    assert_inpainted(decode_png(r.content), image, np.kron(small > 0, np.ones((2, 2), bool)))


def test_empty_mask_returns_the_input(client):
    image = noise_image()
    r = post(client, image, np.zeros((48, 64), np.uint8), format="json")
    assert r.status_code == 200
    assert np.array_equal(decode_png(base64.b64decode(r.json()["images"][0])), image)
    assert any("empty" in n for n in r.json()["notes"])


# --- POST /api/inpaint: bad input -------------------------------------------------------

@pytest.mark.parametrize(
    "name", ["nope", "../telea", "/etc/passwd", "weights/default", "file:x", "TELEA"]
)
def test_unknown_model_is_404(client, image_and_mask, name):
    r = post(client, *image_and_mask, model=name)
    assert r.status_code == 404
    assert f"unknown model '{name}'" in r.json()["detail"] and "telea" in r.json()["detail"]


def test_existing_path_is_not_a_model_name(client, image_and_mask, tmp_path):
    from inpaintkit.inference import save_model

    folder = save_model(create_model("pconv_unet", tiny=True), tmp_path / "ckpt")
    r = post(client, *image_and_mask, model=str(folder))
    assert r.status_code == 404
    assert client.get("/healthz").json()["loaded_models"] == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"samples": "0"}, "samples"),
        ({"samples": "9"}, "samples"),
        ({"samples": "two"}, "samples"),
        ({"seed": "-1"}, "seed"),
        ({"strategy": "magic"}, "strategy"),
        ({"mask_mode": "inverted"}, "mask_mode"),
        ({"dilate": "65"}, "dilate"),
        ({"format": "gif"}, "format"),
    ],
)
def test_bad_fields_are_422_naming_the_field(client, image_and_mask, data, field):
    image, mask = image_and_mask
    r = client.post("/api/inpaint", files=files(png_bytes(image), png_bytes(mask)), data=data)
    assert r.status_code == 422
    assert r.json()["detail"].startswith(f"{field}:")


def test_missing_files_are_422(client, image_and_mask):
    image, _ = image_and_mask
    r = client.post("/api/inpaint", files={"image": ("a.png", png_bytes(image), "image/png")})
    assert r.status_code == 422 and r.json()["detail"].startswith("mask:")
    assert client.post("/api/inpaint").status_code == 422


def test_samples_on_deterministic_model_is_422(client, image_and_mask):
    r = post(client, *image_and_mask, samples=2)
    assert r.status_code == 422 and "deterministic" in r.json()["detail"]


def truncated_png() -> bytes:
    data = png_bytes(noise_image())
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("field", "payload", "status", "words"),
    [
        ("image", b"%PDF-1.4 not an image", 415, "not a supported image"),
        ("image", b"", 422, "empty file"),
        ("image", truncated_png(), 422, "cannot decode"),
        ("image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 415, "photo.png"),
        ("mask", b"GIF89a....", 415, "not a supported image"),
        ("mask", truncated_png(), 422, "cannot decode"),
    ],
)
def test_bad_files_are_rejected_with_a_message(client, image_and_mask, field, payload, status, words):
    image, mask = image_and_mask
    sent = {"image": png_bytes(image), "mask": png_bytes(mask), field: payload}
    r = client.post("/api/inpaint", files=files(sent["image"], sent["mask"]))
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert words in detail
    assert field in detail, "the message names the upload at fault"


def test_filename_in_messages_is_sanitised(client):
    bad = {"image": ("a\"'\\\x00\x1b[31m.png", b"junk", "image/png"),
           "mask": ("m.png", png_bytes(box_mask()), "image/png")}
    detail = client.post("/api/inpaint", files=bad).json()["detail"]
    assert "\x1b" not in detail and "\x00" not in detail and '"' not in detail


def test_image_over_max_pixels_is_413(image_and_mask):
    image, mask = image_and_mask  # 64x48 = 3072 pixels
    with TestClient(create_app("telea", max_pixels=3000)) as c:
        r = post(c, image, mask)
        assert r.status_code == 413
        assert "3,072 pixels" in r.json()["detail"] and "3,000" in r.json()["detail"]
        small = noise_image(40, 40)
        assert post(c, small, np.zeros((40, 40), np.uint8)).status_code == 200
        # An oversized mask is refused the same way, before it is decoded.
        r = post(c, small, np.zeros((60, 60), np.uint8))
        assert r.status_code == 413 and "mask" in r.json()["detail"]


def test_upload_over_limit_is_413_from_content_length(image_and_mask):
    image, mask = image_and_mask
    big = png_bytes(noise_image(400, 400))  # ~480 KB of incompressible noise
    with TestClient(create_app("telea", max_upload_mb=0.25)) as c:
        r = c.post("/api/inpaint", files=files(big, png_bytes(mask)))
        assert r.status_code == 413
        assert "upload too large" in r.json()["detail"] and "262,144" in r.json()["detail"]
        assert post(c, image, mask).status_code == 200


def test_upload_over_limit_is_413_while_streaming(image_and_mask):
    """Without Content-Length (chunked), the body is counted as it arrives."""
    import httpx

    _, mask = image_and_mask
    request = httpx.Request("POST", "http://testserver/api/inpaint",
                            files=files(png_bytes(noise_image(400, 400)), png_bytes(mask)))
    body = request.read()
    headers = {"content-type": request.headers["content-type"]}

    def chunks():
        for i in range(0, len(body), 65536):
            yield body[i:i + 65536]

    with TestClient(create_app("telea", max_upload_mb=0.25)) as c:
        r = c.post("/api/inpaint", content=chunks(), headers=headers)
        assert r.status_code == 413 and "upload too large" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200


def test_cross_origin_post_is_refused(client, image_and_mask):
    image, mask = image_and_mask
    r = client.post("/api/inpaint", files=files(png_bytes(image), png_bytes(mask)),
                    headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["detail"]
    r = client.post("/api/inpaint", files=files(png_bytes(image), png_bytes(mask)),
                    headers={"Origin": "http://testserver"})
    assert r.status_code == 200


def test_allowed_hosts_guard_against_dns_rebinding():
    with TestClient(create_app("telea", allowed_hosts=["127.0.0.1", "testserver"])) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"Host": "attacker.example"}).status_code == 400


def test_bad_settings_are_refused():
    for kwargs in ({"max_upload_mb": 0}, {"queue": 0}, {"workers": 0}, {"timeout": 0}, {"max_pixels": 0}):
        with pytest.raises(InpaintError):
            create_app("telea", **kwargs)
    with pytest.raises(InpaintError, match="unknown model 'nope'"):
        create_app("nope")


# --- concurrency: queue, timeout, worker threads ---------------------------------------

def _submit(c: TestClient, image: np.ndarray, mask: np.ndarray, pool: ThreadPoolExecutor, **data):
    return pool.submit(post, c, image, mask, **data)


def test_full_queue_answers_503_with_retry_after(image_and_mask):
    image, mask = image_and_mask
    blocking = BlockingModel()
    app = create_app("blocking", models={"blocking": blocking}, queue=2, workers=1)
    with TestClient(app) as c, ThreadPoolExecutor(4) as pool:
        running = _submit(c, image, mask, pool)
        assert blocking.entered.acquire(timeout=20)
        waiting = _submit(c, image, mask, pool)
        deadline = time.monotonic() + 10
        while c.get("/healthz").json()["busy"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        r = post(c, image, mask)
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) >= 1 and "busy" in r.json()["detail"]
        # Refused before the upload is parsed: even a malformed body gets the 503.
        r = c.post("/api/inpaint", content=b"garbage", headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        # The event loop is free while the worker is stuck: other endpoints answer at once.
        t0 = time.monotonic()
        assert c.get("/api/models").status_code == 200
        assert time.monotonic() - t0 < 2
        blocking.release.set()
        assert running.result(20).status_code == 200
        assert waiting.result(20).status_code == 200
        assert c.get("/healthz").json()["busy"] == 0
        assert post(c, image, mask).status_code == 200


def test_timeout_is_504_and_the_slot_waits_for_the_thread(image_and_mask):
    image, mask = image_and_mask
    blocking = BlockingModel()
    app = create_app("blocking", models={"blocking": blocking}, queue=1, timeout=0.3)
    with TestClient(app) as c:
        r = post(c, image, mask)
        assert r.status_code == 504 and "0.3 s" in r.json()["detail"]
        # The worker thread is still inside the model: its queue slot stays taken, so
        # abandoned work cannot pile up beyond --queue.
        assert c.get("/healthz").json()["busy"] == 1
        assert post(c, image, mask).status_code == 503
        blocking.release.set()
        deadline = time.monotonic() + 10
        while c.get("/healthz").json()["busy"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert blocking.finished == 1
        assert post(c, image, mask).status_code == 200


def test_job_that_never_started_is_dropped_on_timeout(image_and_mask):
    image, mask = image_and_mask
    blocking = BlockingModel()
    app = create_app("blocking", models={"blocking": blocking}, queue=2, workers=1, timeout=0.5)
    with TestClient(app) as c, ThreadPoolExecutor(2) as pool:
        first = _submit(c, image, mask, pool)
        assert blocking.entered.acquire(timeout=20)
        second = post(c, image, mask)  # waits behind the first, then times out
        assert second.status_code == 504
        blocking.release.set()
        assert first.result(20).status_code == 504
        # Wait for the event (the released worker frees its slot), not a fixed sleep: on a
        # loaded machine the thread may need longer than any guess.
        deadline = time.monotonic() + 10
        while c.get("/healthz").json()["busy"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert blocking.calls == 1, "the queued job must not run after its request gave up"


def test_model_failure_is_500_and_the_server_stays_up(image_and_mask):
    image, mask = image_and_mask
    broken = BlockingModel(fail=True)
    broken.release.set()
    with TestClient(create_app("telea", models={"broken": broken})) as c:
        r = post(c, image, mask, model="broken")
        assert r.status_code == 500 and "RuntimeError: the model broke" in r.json()["detail"]
        assert post(c, image, mask).status_code == 200
        assert c.get("/healthz").json()["busy"] == 0


class RaisingModel(GeneratorProtocol):
    """Raises the given error from inpaint: the status must follow its type."""

    multiple = 1

    def __init__(self, error: Exception) -> None:
        self.error = error

    def inpaint(self, image, mask, generator=None):
        raise self.error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (TooLarge("too many pixels"), 413),
        (Unsupported("a format we do not read"), 415),
        (NotFound("no such thing"), 404),
        # The words of a 413 / 415 message in a plain InpaintError stay a 422: only types count.
        (InpaintError("image is over the limit of 5 pixels: not a supported image"), 422),
    ],
)
def test_typed_errors_map_to_their_status(image_and_mask, error, status):
    image, mask = image_and_mask
    with TestClient(create_app("telea", models={"raising": RaisingModel(error)})) as c:
        r = post(c, image, mask, model="raising")
        assert r.status_code == status and r.json()["detail"] == str(error)
        assert c.get("/healthz").json()["busy"] == 0


def test_models_load_once_even_under_concurrent_first_requests(monkeypatch, image_and_mask):
    image, mask = image_and_mask
    loads: list[str] = []
    real = ModelCatalog._make

    def counting(self, source, name):
        loads.append(name)
        time.sleep(0.2)  # widen the window in which a second load could start
        return real(self, source, name)

    monkeypatch.setattr(ModelCatalog, "_make", counting)
    with TestClient(create_app("telea", queue=8, workers=4)) as c, ThreadPoolExecutor(6) as pool:
        futures = [_submit(c, image, mask, pool, model="ns") for _ in range(6)]
        assert all(f.result(30).status_code == 200 for f in futures)
    assert loads == ["ns"]


def test_concurrent_requests_do_not_share_state(tiny_pic):
    """Different users' images at once: each gets its own image back, with its own notes."""
    with TestClient(create_app("telea", models={"tiny_pic": tiny_pic}, workers=3, queue=16)) as c:
        jobs = []
        for i in range(9):
            image = noise_image(40 + 8 * (i % 3), 64, seed=i)
            mask = box_mask(*image.shape[:2], box=(4, 20, 8, 30)) if i % 2 else np.zeros(image.shape[:2], np.uint8)
            model = "tiny_pic" if i % 3 == 0 else "telea"
            jobs.append((image, mask, model))
        barrier = threading.Barrier(len(jobs))

        def go(job):
            image, mask, model = job
            barrier.wait()
            return post(c, image, mask, model=model, format="json")

        with ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(go, jobs))
    for (image, mask, _model), r in zip(jobs, results, strict=True):
        assert r.status_code == 200, r.text
        body = r.json()
        out = decode_png(base64.b64decode(body["images"][0]))
        assert out.shape == image.shape
        assert np.array_equal(out[mask == 0], image[mask == 0])
        empty = not mask.any()
        assert any("empty" in n for n in body["notes"]) == empty


def test_png_round_trip_keeps_16_bit_and_exif_rules(client):
    """Uploads go through inpaintkit.io: EXIF orientation applies to image and mask alike."""
    image = noise_image(32, 48)
    mask = box_mask(32, 48, box=(0, 8, 0, 8))
    buf_i, buf_m = io.BytesIO(), io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    Image.fromarray(image).save(buf_i, format="PNG", exif=exif)
    Image.fromarray(mask).save(buf_m, format="PNG", exif=exif)
    r = client.post("/api/inpaint", files=files(buf_i.getvalue(), buf_m.getvalue()))
    assert r.status_code == 200
    out = decode_png(r.content)
    assert out.shape == (48, 32, 3)
    rotated = np.rot90(image, k=-1)
    hole = np.rot90(mask, k=-1) > 0
    assert_inpainted(out, rotated, hole)
