"""``POST /api/select`` through FastAPI's TestClient: the mask PNG against the drawn object,
clicks, the dilation field, and every bad input (422 with one line, 413 over the pixel limit)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from web_helpers import png_bytes

from inpaintkit.web.app import create_app

H, W = 80, 110


def _scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    image = np.clip(np.array([70.0, 90, 160]) + rng.normal(0, 10, (H, W, 3)), 0, 255)
    yy, xx = np.mgrid[0:H, 0:W]
    truth = ((yy - 40) / 22.0) ** 2 + ((xx - 50) / 30.0) ** 2 < 1
    truth |= (np.abs(yy - 40) < 5) & (xx >= 50) & (xx < 95)  # a handle: not an ellipse
    image[truth] = np.clip(np.array([230.0, 200, 60]) + rng.normal(0, 8, (int(truth.sum()), 3)), 0, 255)
    return image.astype(np.uint8), truth


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app("telea", max_pixels=200_000)) as c:
        yield c


@pytest.fixture(scope="module")
def scene() -> tuple[bytes, np.ndarray]:
    image, truth = _scene()
    return png_bytes(image), truth


def _post(client, image: bytes, **data):
    return client.post("/api/select", files={"image": ("photo.png", image, "image/png")}, data=data)


def _mask(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as im:
        return np.asarray(im.convert("L"))


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_box_gives_the_object_as_a_white_mask(client, scene):
    image, truth = scene
    response = _post(client, image, box="17,15,97,66", dilate="0")
    mask = _mask(response)
    assert mask.shape == (H, W) and set(np.unique(mask)) <= {0, 255}
    assert _iou(mask > 127, truth) > 0.93
    assert float(response.headers["x-inpaintkit-selected"]) == pytest.approx((mask > 127).mean(), abs=1e-5)


def test_default_dilation_grows_the_selection(client, scene):
    image, truth = scene
    raw = _mask(_post(client, image, box="17,15,97,66", dilate="0")) > 127
    grown = _mask(_post(client, image, box="17,15,97,66")) > 127
    assert (raw <= grown).all() and grown.sum() > raw.sum() + 100
    assert not (truth & ~grown).any()


def test_clicks_and_a_box_with_points(client, scene):
    image, truth = scene
    clicked = _mask(_post(client, image, point=["45,40", "3,3,-"], dilate="0")) > 127
    assert _iou(clicked, truth) > 0.9
    both = _mask(_post(client, image, box="17,15,97,66", point=["80,40,+"], dilate="0")) > 127
    assert _iou(both, truth) > 0.93


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"box": "17,15,200,66"}, "outside the 110x80 image"),
        ({"box": "17,15,17,66"}, "zero area"),
        ({"box": "17,15,97"}, "x0,y0,x1,y1"),
        ({"point": "500,4"}, "point 500,4 is outside"),
        ({"point": "5,4,x"}, "+ (object) or - (background)"),
        ({"point": "5,4,-"}, "at least one positive point"),
        ({}, "needs a box"),
        ({"box": "17,15,97,66", "dilate": "-1"}, "dilate"),
    ],
)
def test_bad_prompts_are_422_with_one_line(client, scene, data, words):
    image, _ = scene
    response = _post(client, image, **data)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert words in detail and "\n" not in detail


def test_not_an_image_and_too_large(client):
    assert _post(client, b"not an image", box="1,1,5,5").status_code in (415, 422)
    big = png_bytes(np.zeros((500, 500, 3), np.uint8))  # 250k pixels, the limit is 200k
    assert _post(client, big, box="1,1,5,5").status_code == 413


def test_fuzz_from_the_openapi_schema_never_500():
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings

    app = create_app("telea", max_pixels=200_000, max_upload_mb=1, timeout=20)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    with TestClient(app):
        strategy = schema["/api/select"]["POST"].as_strategy()

        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def check(case) -> None:
            response = case.call()
            assert response.status_code < 500, (case, response.status_code, response.text[:200])

        check()
