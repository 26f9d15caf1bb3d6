"""POST /api/inpaint with a ``sketch`` upload: the strokes land in the hole of a guided
model's result; a misfit sketch or a model without a sketch channel is a 422 one-liner."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient
from web_helpers import box_mask, decode_png, noise_image, png_bytes

from inpaintkit.web.app import create_app
from sketch_models import SketchEcho


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app("telea", models={"echo": SketchEcho()}, device="cpu")) as c:
        yield c


def post(c, image, mask, sketch=None, **data):
    files = {"image": ("photo.png", png_bytes(image), "image/png"),
             "mask": ("mask.png", png_bytes(mask), "image/png")}
    if sketch is not None:
        files["sketch"] = ("sketch.png", sketch if isinstance(sketch, bytes) else png_bytes(sketch), "image/png")
    return c.post("/api/inpaint", files=files, data=data)


def test_the_sketch_lands_on_its_pixels(client):
    image, mask = noise_image(), box_mask()
    hole = mask > 127
    sketch = np.zeros(mask.shape, np.uint8)
    sketch[:, 30] = 255
    r = post(client, image, mask, sketch, model="echo")
    assert r.status_code == 200, r.text
    out = decode_png(r.content)
    want = image.copy()
    want[hole] = 0
    want[hole & (sketch > 127)] = 255
    assert np.array_equal(out, want)
    plain = decode_png(post(client, image, mask, model="echo").content)  # no sketch: all black
    assert (plain[hole] == 0).all()


@pytest.mark.parametrize("case, words", [
    ("size", "sketch is 63x48 but the image is 64x48"),
    ("unreadable", "sketch 'sketch.png'"),
    ("model", "takes no sketch"),
])
def test_bad_sketches_are_422_with_one_line(client, case, words):
    image, mask = noise_image(), box_mask()
    sketch = {"size": np.zeros((48, 63), np.uint8), "unreadable": b"GIF89a garbage",
              "model": np.zeros((48, 64), np.uint8)}[case]
    r = post(client, image, mask, sketch, model="telea" if case == "model" else "echo")
    assert r.status_code in (415, 422), r.text
    detail = r.json()["detail"]
    assert words in detail and "\n" not in detail


def test_the_default_model_takes_the_sketch_field():
    """The app's default (patchmatch_lf): a stroke on a two-tone boundary inside a tall hole
    puts the step there; without the field the fill's step there is much smaller."""
    h, w, boundary = 96, 128, 40
    image = np.full((h, w, 3), 60, np.uint8)
    image[:, boundary:] = 190
    mask = box_mask(h, w, (8, 88, 24, 104))
    sketch = np.zeros((h, w), np.uint8)
    sketch[:, boundary] = 255
    with TestClient(create_app("default", device="cpu")) as c:
        guided = post(c, image, mask, sketch)
        plain = post(c, image, mask)
    assert guided.status_code == 200 and plain.status_code == 200, guided.text

    def step(r) -> float:
        grey = decode_png(r.content).astype(np.float64).mean(axis=2)
        return float(np.mean(grey[8:88, boundary + 3] - grey[8:88, boundary - 3]))

    assert step(guided) >= 0.5 * (190 - 60) and step(guided) >= 3 * step(plain)
