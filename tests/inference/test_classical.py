"""Classical (OpenCV) inpainting behind the generator protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inpaintkit.conventions import image_to_tensor, mask_to_tensor, tensor_to_image
from inpaintkit.errors import InpaintError
from inpaintkit.inference import ClassicalInpainter


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 120, h)[:, None, None]
    return np.clip(np.broadcast_to(x * 0.5 + y, (h, w, 3)), 0, 255).astype(np.uint8).copy()


@pytest.mark.parametrize("method", ["telea", "ns", "smooth"])
def test_fills_a_smooth_image_smoothly_and_keeps_known_pixels(method):
    image = _gradient()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[16:32, 20:40] = True
    damaged = image.copy()
    damaged[mask] = 0
    model = ClassicalInpainter(method)
    out = model.inpaint_array(damaged, mask)
    assert np.array_equal(out[~mask], image[~mask])
    # A gradient is the easy case: the fill stays within a few levels of the truth.
    assert np.abs(out[mask].astype(int) - image[mask].astype(int)).mean() < 8
    assert model.multiple == 1 and not model.pluralistic


@pytest.mark.parametrize("method", ["telea", "ns", "smooth"])
def test_tensor_path_equals_array_path(method):
    image = _gradient()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[5:20, 40:60] = True
    model = ClassicalInpainter(method, radius=5)
    batch = torch.cat([image_to_tensor(image)] * 2)
    masks = torch.cat([mask_to_tensor(mask)] * 2)
    out = model.inpaint(batch, masks)
    assert out.shape == batch.shape and out.min() >= -1 and out.max() <= 1
    assert np.array_equal(tensor_to_image(out[0]), model.inpaint_array(image, mask))


def test_bad_arguments():
    with pytest.raises(InpaintError, match="unknown classical method"):
        ClassicalInpainter("patchmatch")
    with pytest.raises(InpaintError, match="radius"):
        ClassicalInpainter("telea", radius=0)
    with pytest.raises(InpaintError, match="mask is"):
        ClassicalInpainter().inpaint_array(_gradient(), np.zeros((3, 3), dtype=bool))
