"""The page's Select tool, end to end in headless chromium (like test_browser.py).

A scene with two objects on a textured background: a box dragged around both proposes a mask
covering both (drawn objects are the reference); a Shift+click on one removes it; undo / redo
step through the proposals; the eraser refines; the fill then removes the selected object and
leaves the far background bit-identical; a click that the server refuses shows its message.
The page is waited on through events it exposes (``#mask-canvas`` ``data-proposals``, the
download link's new URL), never sleeps.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from test_browser import browser, page, server, stroke  # noqa: F401 - fixtures shared with the page test

pytestmark = pytest.mark.browser

H, W = 180, 260


def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    image = np.clip(np.array([60.0, 110, 170]) + rng.normal(0, 12, (H, W, 3)), 0, 255)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    angle = np.arctan2(yy - 90, xx - 80)
    star = np.hypot(yy - 90, xx - 80) < 50 * (0.7 + 0.3 * np.cos(5 * angle))
    square = (np.abs(yy - 90) < 22) & (np.abs(xx - 185) < 22)
    image[star] = np.clip(np.array([235.0, 210, 50]) + rng.normal(0, 8, (int(star.sum()), 3)), 0, 255)
    image[square] = np.clip(np.array([200.0, 40, 40]) + rng.normal(0, 8, (int(square.sum()), 3)), 0, 255)
    return image.astype(np.uint8), star, square


def painted(pg) -> np.ndarray:
    flat = pg.evaluate(
        """() => {
            const c = document.getElementById('mask-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const out = [];
            for (let i = 3; i < d.length; i += 4) out.push(d[i] >= 128 ? 1 : 0);
            return out;
        }"""
    )
    return np.array(flat, bool).reshape(H, W)


def wait_proposals(pg, n: int) -> None:
    pg.wait_for_function(f"() => document.getElementById('mask-canvas').dataset.proposals === '{n}'",
                         timeout=30_000)


def click(pg, x: float, y: float, shift: bool = False) -> None:
    box = pg.locator("#mask-canvas").bounding_box()
    s = box["width"] / W
    if shift:
        pg.keyboard.down("Shift")
    pg.mouse.click(box["x"] + x * s, box["y"] + y * s)
    if shift:
        pg.keyboard.up("Shift")


def covers(mask: np.ndarray, obj: np.ndarray, tight_px: float = 8) -> bool:
    """``mask`` holds the whole object and nothing farther than ``tight_px`` from it."""
    far = ndimage.distance_transform_edt(~obj) > tight_px
    return bool(mask[obj].all() and not (mask & far).any())


def test_select_refine_undo_fill(page, tmp_path):  # noqa: F811
    image, star, square = _scene()
    path = tmp_path / "objects.png"
    Image.fromarray(image).save(path)
    page.set_input_files("#file-input", str(path))
    page.wait_for_selector("#stage:not(.empty)")
    page.click("#select")
    assert page.get_attribute("#select", "aria-pressed") == "true"

    stroke(page, [(20, 30), (140, 90), (220, 150)])  # drag a box around both objects
    wait_proposals(page, 1)
    first = painted(page)
    assert covers(first, star | square)
    assert "selected in" in page.inner_text("#status")

    click(page, 185, 90, shift=True)  # "not this": the square goes, the star stays
    wait_proposals(page, 2)
    second = painted(page)
    assert covers(second, star)
    assert not second[square].any()

    page.click("#undo")
    assert np.array_equal(painted(page), first)
    page.click("#redo")
    assert np.array_equal(painted(page), second)

    page.click("#eraser")  # refine: erase a strip of the selection
    page.fill("#brush-size", "10")
    stroke(page, [(40, 90), (70, 90)])
    erased = painted(page)
    assert erased.sum() < second.sum() and not erased[88:93, 45:66].any()
    page.click("#undo")
    assert np.array_equal(painted(page), second)

    # fill the selection: the star is gone, the background far from it bit-identical
    page.select_option("#model", "telea")
    before = page.get_attribute("#download", "href")
    page.click("#run")
    page.wait_for_function("(old) => { const a = document.getElementById('download');"
                           " return a.href && a.getAttribute('href') !== old; }", arg=before)
    with page.expect_download() as info:
        page.click("#download")
    out = np.asarray(Image.open(info.value.path()).convert("RGB")).astype(int)
    yellow = (out[..., 0] > 180) & (out[..., 1] > 160) & (out[..., 2] < 110)
    assert yellow[star].mean() < 0.02
    far = ndimage.distance_transform_edt(~star) > 12
    assert np.array_equal(out[far], image[far].astype(int))

    # a new selection of one "not this" click alone: the server's refusal is shown
    page.click("#select")
    page.click("#clear")
    click(page, 10, 10, shift=True)
    page.wait_for_selector("#error:not([hidden])")
    page.wait_for_function("() => document.getElementById('error-text').textContent.includes('HTTP 422')")
    assert "positive point" in page.inner_text("#error-text")
