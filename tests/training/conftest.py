from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    """A small folder of synthetic photos (smooth gradients + texture), recursive."""
    root = tmp_path_factory.mktemp("train_images")
    rng = np.random.default_rng(0)
    for i in range(12):
        h, w = rng.integers(70, 110, size=2)
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        base = np.stack([np.sin(6 * xx + i), np.cos(5 * yy - i), xx * yy], axis=-1)
        img = (127.5 * (base + 1) + rng.normal(0, 8, size=(h, w, 3))).clip(0, 255).astype(np.uint8)
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        Image.fromarray(img).save(sub / f"img_{i:02d}.png")
    return root
