"""The ``mean`` fill: the known pixels' mean colour, flat (issue 26's floor of floors)."""

from __future__ import annotations

import numpy as np

from inpaintkit.inference import Inpainter
from inpaintkit.models import MODELS, create_model


def test_mean_fill_paints_the_known_mean_and_keeps_known_pixels() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    hole = np.zeros((40, 50), bool)
    hole[10:25, 5:30] = True
    out = create_model("mean").inpaint_array(image, hole)
    want = np.rint(image[~hole].astype(np.float64).mean(axis=0)).astype(np.uint8)  # independent: float64 mean
    assert (out[hole] == want).all()
    assert np.array_equal(out[~hole], image[~hole])
    assert MODELS["mean"].classical


def test_mean_fill_through_the_inpainter_and_an_all_hole_image() -> None:
    image = np.full((16, 16, 3), 200, np.uint8)
    image[:, :8] = 0
    hole = np.zeros((16, 16), bool)
    hole[4:12, 6:10] = True  # known pixels: half 0, half 200 -> mean 100
    (out,) = Inpainter("mean").inpaint(image, hole)
    assert (out[hole] == 100).all()
    every = np.ones((8, 8), bool)
    assert (create_model("mean").inpaint_array(image[:8, :8], every) == 128).all()  # no known pixel: mid-grey
