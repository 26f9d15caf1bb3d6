"""Test doubles and a synthetic data folder for the evaluation tests."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch

from inpaintkit.conventions import masked_input
from inpaintkit.models.base import GeneratorProtocol

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
VAL, MASKS = DATA / "val", DATA / "masks" / "irregular"


class GreyHole(GeneratorProtocol):
    """Zeroes the hole as every model must and returns that: the hole stays mid-grey."""

    @property
    def multiple(self) -> int:
        return 1

    def inpaint(self, image, mask, generator=None, *, coarse=None, sketch=None):
        return masked_input(image, mask)


class Perfect(GeneratorProtocol):
    """Breaks the protocol on purpose: returns its input, the ground truth under the hole
    included (the Inpainter hands models the whole image; models zero the hole)."""

    def inpaint(self, image, mask, generator=None, *, coarse=None, sketch=None):
        return image.clone()


class Recorder(GeneratorProtocol, torch.nn.Module):
    """A stochastic nn.Module: records its mode, generator and batch size per call."""

    stochastic = True

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.calls: list[tuple[bool, bool, int]] = []

    def inpaint(self, image, mask, generator=None, *, coarse=None, sketch=None):
        self.calls.append((self.training, isinstance(generator, torch.Generator), image.shape[0]))
        return (torch.rand(image.shape, generator=generator) * 2 - 1) * self.scale


def square_mask(frac: float, size: int = 64) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    side = round(size * math.sqrt(frac))
    m[:side, :side] = 255
    return m


def synthetic_folders(root: Path) -> tuple[Path, Path]:
    """3 images of different shapes (and a text file), and 4 masks: two in bucket 0, one in
    bucket 3, one outside every bucket."""
    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(((40, 60), (50, 30), (24, 24))):
        grad = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
        img = (grad * 0.7 + rng.integers(0, 60, (h, w, 3))).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(images / f"im{i}.png"), img)
    (images / "notes.txt").write_text("not an image: ignored")
    for name, frac in (("a", 0.05), ("b", 0.06), ("c", 0.35), ("d", 0.8)):
        cv2.imwrite(str(masks / f"{name}.png"), square_mask(frac))
    return images, masks
