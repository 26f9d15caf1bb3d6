"""End to end in a real headless browser: Debian's chromium driven by Playwright.

Starts the real server (uvicorn, loopback, free port), opens the page, uploads an image,
paints strokes with mouse events, checks brush / eraser / undo / redo, runs, downloads the
result and compares it with the input: changed inside the stroke, bit-identical outside.
Also "more results" with a (tiny) pluralistic model, "use as input", and an API error
shown as its message. Saves a screenshot to the test's tmp folder, or to
docs/web_screenshot.png with INPAINTKIT_UPDATE_SCREENSHOT=1 (so a test run leaves the
checked-out tree untouched).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from web_helpers import noise_image, serve_thread

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("INPAINTKIT_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update"]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "web_screenshot.png"

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install chromium, or set INPAINTKIT_CHROMIUM)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def server():
    import torch

    from inpaintkit.models.registry import create_model
    from inpaintkit.web.app import create_app

    torch.manual_seed(0)
    app = create_app("telea", models={"tiny_pic": create_model("pic_net", tiny=True)}, device="cpu")
    with serve_thread(app) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, timeout=60_000)
        except Exception as exc:  # a chromium that cannot start here: say why, do not fail
            pytest.skip(f"chromium at {CHROMIUM} does not start under playwright: {exc}")
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server.url + "/")
    pg.wait_for_function("() => document.querySelectorAll('#model option').length > 0")
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def painted_pixels(pg) -> int:
    return pg.evaluate(
        """() => {
            const c = document.getElementById('mask-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] >= 128) n++;
            return n;
        }"""
    )


def stroke(pg, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through ``points`` (image pixel coordinates) on the mask canvas."""
    box = pg.locator("#mask-canvas").bounding_box()
    width = pg.evaluate("document.getElementById('mask-canvas').width")
    s = box["width"] / width
    xs = [(box["x"] + x * s, box["y"] + y * s) for x, y in points]
    pg.mouse.move(*xs[0])
    pg.mouse.down()
    for x, y in xs[1:]:
        pg.mouse.move(x, y, steps=8)
    pg.mouse.up()


def test_paint_run_download(page, tmp_path):
    h, w = 200, 300
    image = noise_image(h, w, seed=3)
    path = tmp_path / "noise.png"
    Image.fromarray(image).save(path)
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#stage:not(.empty)")
    assert page.evaluate("[document.getElementById('image-canvas').width, "
                         "document.getElementById('image-canvas').height]") == [w, h]
    box = page.locator("#mask-canvas").bounding_box()
    assert abs(box["width"] - w) < 1, "a small image is shown at its own size"
    page.fill("#brush-size", "20")  # 20 screen px = 20 image px at this size

    # brush, undo, redo, eraser, clear
    stroke(page, [(40, 60), (260, 60)])
    first = painted_pixels(page)
    assert first > 200 * 15
    stroke(page, [(150, 150), (150, 190)])
    assert painted_pixels(page) > first
    page.click("#undo")
    assert painted_pixels(page) == first
    page.click("#redo")
    assert painted_pixels(page) > first
    page.click("#undo")
    page.click("#eraser")
    stroke(page, [(40, 60), (90, 60)])
    assert painted_pixels(page) < first
    page.click("#undo")
    assert painted_pixels(page) == first
    page.click("#brush")

    # run: the button is disabled while the server works, then the result appears
    page.select_option("#model", "telea")
    page.evaluate(
        """() => {
            window.sawBusy = false;
            const run = document.getElementById('run');
            new MutationObserver(() => {
                if (run.disabled && run.classList.contains('busy')) window.sawBusy = true;
            }).observe(run, {attributes: true});
        }"""
    )
    page.click("#run")
    page.wait_for_selector("#result-panel:not([hidden])")
    assert page.evaluate("window.sawBusy"), "the button shows a spinner and is disabled while working"
    assert page.is_enabled("#run")
    assert "done in" in page.inner_text("#status")
    assert page.get_attribute("#download", "href").startswith("blob:")
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "noise_inpainted.png"
    out = np.asarray(Image.open(download.path()).convert("RGB"))
    assert out.shape == image.shape

    yy, xx = np.mgrid[0:h, 0:w]
    # distance to the painted segment (40..260, y=60): inside = core of the stroke,
    # outside = beyond the brush radius plus antialiasing.
    dx = np.maximum(np.maximum(40 - xx, xx - 260), 0)
    dist = np.hypot(dx, yy - 60)
    inside, outside = dist < 6, dist > 13
    changed = (out != image).any(axis=-1)
    assert changed[inside].mean() > 0.9, "pixels under the stroke must be filled"
    assert not changed[outside].any(), "pixels away from the stroke must be bit-identical"
    # before / after comparison
    page.click("#toggle")
    assert page.input_value("#compare") == "0"
    assert "100%" in page.evaluate("document.getElementById('after').style.clipPath")

    # keep working on the result: it becomes the input, the mask starts empty
    page.click("#use-result")
    page.wait_for_selector("#result-panel[hidden]", state="attached")
    assert painted_pixels(page) == 0
    shown = page.evaluate(
        """() => Array.from(document.getElementById('image-canvas').getContext('2d')
                 .getImageData(0, 0, 300, 200).data)"""
    )
    assert np.array_equal(np.array(shown, np.uint8).reshape(h, w, 4)[..., :3], out)


def scene(h: int = 220, w: int = 330) -> np.ndarray:
    """A little landscape (sky, sun, hills) with a dark pole to remove."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([90 + 0.5 * yy, 150 + 0.4 * yy, 235 - 0.1 * yy], axis=-1)
    hills = yy > 140 + 18 * np.sin(xx / 37.0)
    ground = np.stack([70 + 30 * np.sin(xx / 9.0) * np.sin(yy / 7.0), 130 + 0.2 * yy, 60 + 0 * yy], axis=-1)
    img = np.where(hills[..., None], ground, sky)
    sun = (xx - 70) ** 2 + (yy - 55) ** 2 < 22**2
    img[sun] = (255, 220, 120)
    img[30:190, 226:236] = (45, 40, 38)  # the pole
    img[30:40, 206:256] = (45, 40, 38)
    return img.clip(0, 255).astype(np.uint8)


def test_screenshot_for_the_docs(page, tmp_path):
    path = tmp_path / "landscape.png"
    Image.fromarray(scene()).save(path)
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#stage:not(.empty)")
    page.fill("#brush-size", "24")
    stroke(page, [(231, 24), (231, 196)])
    stroke(page, [(200, 35), (262, 35)])
    page.select_option("#model", "telea")
    page.click("#run")
    page.wait_for_selector("#result-panel:not([hidden])")
    page.fill("#compare", "80")
    page.dispatch_event("#compare", "input")
    shot = SCREENSHOT if os.environ.get("INPAINTKIT_UPDATE_SCREENSHOT") == "1" else tmp_path / "web.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def test_more_results_and_error_message(page, tmp_path):
    image = noise_image(96, 128, seed=5)
    path = tmp_path / "small.png"
    Image.fromarray(image).save(path)
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#stage:not(.empty)")
    page.select_option("#model", "tiny_pic")
    assert page.is_enabled("#samples")
    page.fill("#samples", "2")
    stroke(page, [(20, 40), (100, 40)])
    page.click("#run")
    page.wait_for_selector("#result-panel:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#thumbs img').length === 2")
    page.click("#more")
    page.wait_for_function("() => document.querySelectorAll('#thumbs img').length === 4", timeout=60_000)
    page.click("#thumbs img:nth-child(3)")
    assert page.get_attribute("#download", "download") == "small_inpainted_3.png"

    # empty mask: the page says so before asking the server
    page.click("#clear")
    page.click("#run")
    assert "mask is empty" in page.inner_text("#error")

    # a server error shows the API's JSON detail
    stroke(page, [(20, 40), (100, 40)])
    page.evaluate("state.input = new Blob(['this is not an image'], {type: 'image/png'})")
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    page.wait_for_function("() => document.getElementById('error-text').textContent.includes('HTTP')")
    text = page.inner_text("#error-text")
    assert "not a supported image file" in text and "HTTP 415" in text
    assert page.is_enabled("#run"), "the button comes back after an error"


def test_file_that_is_not_an_image(page, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("plain text")
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#error:not([hidden])")
    assert "cannot open notes.png" in page.inner_text("#error-text")
    assert page.is_disabled("#run")
