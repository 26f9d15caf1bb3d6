"""The page's sketch pen, end to end in headless chromium (like test_browser.py).

What it checks: a hole painted with the brush and a straight cyan sketch line drawn
across it with the sketch pen reach the server (the sketch as its own upload, only when
something was drawn), and the model's result then has an edge along the line that the
result without the sketch (the pen stroke undone with the shared undo) lacks: the
horizontal gradient magnitude next to the line, inside the hole.

The models: the server's default (``patchmatch_lf``, whose strokes are walls of its
structure fill): a pen line on a two-tone boundary inside a tall hole puts the step there;
and, picked in the model list, a tiny DeepFill v2 checkpoint (``in_extra=1``) built here
whose weights make the sketch channel write straight to the output
(``tests/sketch_models.py``): it checks the plumbing page -> API -> Inpainter -> model,
not what a trained model draws.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_browser import browser, page, stroke  # noqa: F401 - fixtures shared with the page test
from web_helpers import serve_thread

from sketch_models import strong_sketch_deepfill

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from inpaintkit.inference import load_model
    from inpaintkit.web.app import create_app

    model = load_model(str(strong_sketch_deepfill(tmp_path_factory.mktemp("guided") / "deepfill_sketch")))
    with serve_thread(create_app("default", models={"sketch_deepfill": model}, device="cpu")) as live:
        yield live


def sketch_pixels(pg) -> int:
    return pg.evaluate(
        """() => {
            const c = document.getElementById('sketch-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] >= 128) n++;
            return n;
        }"""
    )


def fill_and_download(pg) -> np.ndarray:
    pg.evaluate("() => { window.sentSketch = null; const f = window.fetch; window.fetch = (u, o) => {"
                " if (o && o.body instanceof FormData) window.sentSketch = o.body.has('sketch'); return f(u, o); }; }")
    # The panel stays visible from the previous run and the page sets "busy" only after it has
    # encoded the mask, so neither says that *this* run is done: the download link's new
    # object URL does (it changes on every result).
    before = pg.get_attribute("#download", "href")
    pg.click("#run")
    pg.wait_for_function("(old) => { const a = document.getElementById('download');"
                         " return a.href && a.getAttribute('href') !== old; }", arg=before)
    pg.wait_for_selector("#result-panel:not([hidden])")
    with pg.expect_download() as info:
        pg.click("#download")
    return np.asarray(Image.open(info.value.path()).convert("RGB")).astype(np.float32)


def test_a_sketch_line_gives_the_fill_an_edge_along_it(page, tmp_path):  # noqa: F811
    h, w = 160, 200
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((h, w, 3), 110, np.uint8)).save(path)
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#stage:not(.empty)")
    page.select_option("#model", "sketch_deepfill")
    page.fill("#brush-size", "60")
    stroke(page, [(30, 80), (170, 80)])  # the hole: a band y 50..110
    page.click("#sketch")
    assert page.get_attribute("#sketch", "aria-pressed") == "true"
    stroke(page, [(100, 20), (100, 140)])  # a vertical line across the band
    drawn = sketch_pixels(page)
    assert 100 < drawn < 120 * 4  # thin: a few pixels wide

    guided = fill_and_download(page)
    assert page.evaluate("window.sentSketch") is True
    page.click("#undo")  # the shared undo takes the pen stroke back, the hole stays
    assert sketch_pixels(page) == 0
    plain = fill_and_download(page)
    assert page.evaluate("window.sentSketch") is False  # nothing drawn: nothing sent

    def edge_along_line(img: np.ndarray) -> float:
        grad = np.abs(np.diff(img.mean(axis=2), axis=1))  # horizontal gradient magnitude
        return float(grad[60:100, 90:110].max(axis=1).mean())  # rows inside the hole, near x=100

    assert edge_along_line(guided) > 40 and edge_along_line(plain) < 5


def test_the_default_model_follows_a_pen_line_on_a_two_tone_boundary(page, tmp_path):  # noqa: F811
    h, w, boundary = 160, 200, 85
    pixels = np.full((h, w, 3), 60, np.uint8)
    pixels[:, boundary:] = 190  # dark left, bright right
    path = tmp_path / "two_tone.png"
    Image.fromarray(pixels).save(path)
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#stage:not(.empty)")
    assert page.input_value("#model") == "default"
    page.fill("#brush-size", "60")
    stroke(page, [(100, 10), (100, 150)])  # a tall hole x 70..130: the boundary 15 px left of its centre
    page.click("#sketch")
    stroke(page, [(boundary, 15), (boundary, 145)])  # the pen on the boundary
    guided = fill_and_download(page)
    assert page.evaluate("window.sentSketch") is True
    page.click("#undo")
    plain = fill_and_download(page)
    assert page.evaluate("window.sentSketch") is False

    def step(img: np.ndarray) -> float:
        grey = img.mean(axis=2)
        return float(np.mean(grey[40:120, boundary + 4] - grey[40:120, boundary - 4]))

    assert step(guided) >= 0.5 * (190 - 60) and step(guided) >= 3 * step(plain)
