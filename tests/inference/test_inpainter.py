"""Inpainter: bit-identical known pixels, padding, strategies, masks, samples and seeds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.inference import Inpainter
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.base import GeneratorProtocol
from inpaintkit.models.classical import HOLE_VALUE, classical_fill

SENTINEL = np.array([255, 0, 255], dtype=np.uint8)  # magenta: must never survive in a hole


class _Double(GeneratorProtocol, nn.Module):
    """A test generator with a settable ``multiple``."""

    def __init__(self, multiple: int = 8) -> None:
        super().__init__()
        self._multiple = multiple

    @property
    def multiple(self) -> int:
        return self._multiple


class NoiseModel(_Double):
    """Noise everywhere (a leak outside the hole would show); stochastic; records sizes."""

    stochastic = True

    def __init__(self, multiple: int = 8) -> None:
        super().__init__(multiple)
        self.sizes: list[tuple[int, int]] = []

    def inpaint(self, image, mask, generator=None):
        h, w = image.shape[-2:]
        assert h % self.multiple == 0 and w % self.multiple == 0
        self.sizes.append((h, w))
        return torch.rand(image.shape, generator=generator) * 2 - 1


class MeanModel(_Double):
    """Fills with the mean colour of the known input pixels (deterministic); records sizes."""

    def __init__(self, multiple: int = 8) -> None:
        super().__init__(multiple)
        self.sizes: list[tuple[int, int]] = []

    def inpaint(self, image, mask, generator=None):
        self.sizes.append(tuple(image.shape[-2:]))
        known = 1 - mask
        mean = (image * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp(min=1)
        return mean.expand_as(image).clone()


def _scene(h: int, w: int, holes: list[tuple[int, int, int, int]], value: int = 90):
    """Constant image with magenta hole pixels; holes as (y0, y1, x0, x1)."""
    image = np.full((h, w, 3), value, dtype=np.uint8)
    mask = np.zeros((h, w), dtype=bool)
    for y0, y1, x0, x1 in holes:
        mask[y0:y1, x0:x1] = True
    image[mask] = SENTINEL
    return image, mask


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    multiple=st.sampled_from([1, 4, 8, 16]),
    strategy=st.sampled_from(["full", "crop", "resize", "auto"]),
    seed=st.integers(0, 2**16),
)
def test_known_pixels_are_bit_identical(h, w, multiple, strategy, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = rng.random((h, w)) < rng.random()
    inp = Inpainter(NoiseModel(multiple), device="cpu", strategy=strategy, native_size=16)
    (out,) = inp.inpaint(image, mask, seed=seed)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~mask], image[~mask])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiny_models_on_odd_sizes(name):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (67, 101, 3), dtype=np.uint8)
    mask = np.zeros((67, 101), dtype=bool)
    mask[20:45, 30:70] = True
    inp = Inpainter(create_model(name, tiny=True), device="cpu")
    assert inp.model_name == name
    (out,) = inp.inpaint(image, mask, seed=0)
    assert out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])
    (again,) = inp.inpaint(image, mask, seed=0)
    assert np.array_equal(out, again)


def test_classical_coarse_input_is_computed_on_the_padded_image():
    # Untrained residual DeepFill returns its coarse input inside the hole exactly, so the
    # fill shows the coarse the Inpainter computed: the smooth fill of the padded image
    # (symmetric padding to 8) with a mid-grey hole. The hole touches the bottom border.
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (45, 61, 3), dtype=np.uint8)
    mask = np.zeros((45, 61), dtype=bool)
    mask[30:45, 10:30] = True
    model = create_model("deepfill_v2", tiny=True, coarse="smooth", residual=True)
    (out,) = Inpainter(model, device="cpu", strategy="full").inpaint(image, mask)
    padded = np.pad(image, ((0, 3), (0, 3), (0, 0)), mode="symmetric")
    hole = np.pad(mask, ((0, 3), (0, 3)), mode="symmetric")
    padded[hole] = HOLE_VALUE
    want = classical_fill(padded, hole.astype(np.uint8) * 255, "smooth", 3)[:45, :61]
    assert np.array_equal(out[mask], want[mask])
    assert np.array_equal(out[~mask], image[~mask])


def test_objects_outside_the_protocol_are_refused():
    class Bare(nn.Module):
        def inpaint(self, image, mask, generator=None):
            return image

    with pytest.raises(InpaintError, match="generator protocol"):
        Inpainter(Bare(), device="cpu")


@pytest.mark.parametrize("strategy", ["crop", "resize", "full"])
def test_each_strategy_fills_every_hole_pixel_of_a_large_image(strategy):
    image, mask = _scene(600, 520, [(100, 140, 80, 150), (400, 470, 300, 330)])
    model = MeanModel(8)
    inp = Inpainter(model, device="cpu", strategy=strategy, native_size=64)
    (out,) = inp.inpaint(image, mask)
    assert inp.last_strategy == strategy
    assert np.array_equal(out[~mask], image[~mask])
    # The mean of the known context is the constant 90: resizing may blur by a level or two.
    assert np.abs(out[mask].astype(int) - 90).max() <= 2
    pixels = [h * w for h, w in model.sizes]
    if strategy == "full":
        assert model.sizes == [(600, 520)]
    elif strategy == "resize":
        assert len(pixels) == 1 and pixels[0] <= 1.3 * 64 * 64
    else:
        assert len(pixels) == 2 and max(pixels) <= 1.3 * 64 * 64


def test_crop_windows_keep_full_resolution_for_small_holes():
    image, mask = _scene(900, 900, [(400, 420, 400, 430)])
    model = MeanModel(8)
    Inpainter(model, device="cpu", strategy="crop", native_size=256).inpaint(image, mask)
    (h, w), = model.sizes
    assert h < 256 and w < 256  # a window around the hole, not the image, and not scaled up


def test_crop_merges_nearby_holes_and_separates_far_ones():
    near, mask_near = _scene(800, 800, [(100, 120, 100, 120), (100, 120, 130, 150)])
    model = MeanModel()
    Inpainter(model, device="cpu", strategy="crop", native_size=64).inpaint(near, mask_near)
    assert len(model.sizes) == 1
    far, mask_far = _scene(800, 800, [(50, 70, 50, 70), (700, 720, 700, 720)])
    model = MeanModel()
    Inpainter(model, device="cpu", strategy="crop", native_size=64).inpaint(far, mask_far)
    assert len(model.sizes) == 2


def test_auto_rule():
    small, small_mask = _scene(100, 120, [(10, 30, 10, 30)])
    large, large_small_hole = _scene(700, 700, [(300, 340, 300, 340)])
    _, large_big_hole = _scene(700, 700, [(50, 650, 50, 650)])
    inp = Inpainter(MeanModel(), device="cpu", native_size=64)
    inp.inpaint(small, small_mask)
    assert inp.last_strategy == "full"
    inp.inpaint(large, large_small_hole)
    assert inp.last_strategy == "crop"
    inp.inpaint(large, large_big_hole)
    assert inp.last_strategy == "resize"
    telea = Inpainter("telea", device="cpu")
    telea.inpaint(large, large_small_hole)
    assert telea.last_strategy == "full"


def test_empty_mask_returns_copies_with_a_note():
    image, _ = _scene(40, 50, [])
    inp = Inpainter(NoiseModel(), device="cpu")
    outs = inp.inpaint(image, np.zeros((40, 50), dtype=bool), samples=2, seed=1)
    assert len(outs) == 2 and all(np.array_equal(o, image) for o in outs)
    assert outs[0] is not image and outs[0] is not outs[1]
    assert any("empty" in n for n in inp.notes)


@pytest.mark.parametrize("model", ["telea", "ns", "rn_tiny"])
def test_all_hole_mask(model):
    model = create_model("rn_inpaint", tiny=True) if model == "rn_tiny" else model
    image = np.random.default_rng(0).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    inp = Inpainter(model, device="cpu")
    (out,) = inp.inpaint(image, np.ones((30, 45), dtype=bool))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert any("whole image" in n for n in inp.notes)


def test_bad_inputs_are_one_line_errors():
    image, mask = _scene(40, 50, [(5, 10, 5, 10)])
    inp = Inpainter("telea", device="cpu", max_pixels=1000)
    with pytest.raises(InpaintError, match="over the limit"):
        inp.inpaint(image, mask)
    inp = Inpainter("telea", device="cpu")
    with pytest.raises(InpaintError, match="mask is 40x50 but the image is 50x40"):
        inp.inpaint(image, mask.T)
    with pytest.raises(InpaintError, match="uint8"):
        inp.inpaint(image.astype(np.float32), mask)
    with pytest.raises(InpaintError, match="uint8"):
        inp.inpaint(image[..., 0], mask)
    with pytest.raises(InpaintError, match="deterministic"):
        inp.inpaint(image, mask, samples=2)
    with pytest.raises(InpaintError, match="dilate"):
        inp.inpaint(image, mask, dilate=-1)
    with pytest.raises(InpaintError, match="strategy"):
        Inpainter("telea", strategy="tiles")
    with pytest.raises(InpaintError, match="device"):
        Inpainter("telea", device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_cuda_is_an_error():
    with pytest.raises(InpaintError, match="CUDA is not available"):
        Inpainter("telea", device="cuda")


def test_uint8_mask_and_dilation():
    image, mask = _scene(60, 60, [(20, 40, 20, 40)])
    ring = np.zeros_like(mask)
    ring[18:42, 20:40] = True  # 2 px around the hole, without the corners (a disc
    ring[20:40, 18:42] = True  # of radius 2 does not reach them)
    image[ring & ~mask] = SENTINEL  # a ring the plain mask misses
    inp = Inpainter(MeanModel(), device="cpu")
    (plain,) = inp.inpaint(image, mask.astype(np.uint8) * 255)
    assert (plain[ring & ~mask] == SENTINEL).all()
    (grown,) = inp.inpaint(image, mask, dilate=2)
    assert not (grown[ring] == SENTINEL).all(axis=-1).any()


def test_stochastic_samples_are_seeded_and_distinct():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = np.zeros((32, 32), dtype=bool)
    mask[8:24, 8:24] = True
    inp = Inpainter(NoiseModel(), device="cpu")
    a = inp.inpaint(image, mask, samples=3, seed=7)
    b = inp.inpaint(image, mask, samples=3, seed=7)
    c = inp.inpaint(image, mask, samples=3, seed=8)
    assert len(a) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[0], c[0])


@pytest.mark.skipif("pic_net" not in MODELS, reason="pic_net not registered")
def test_pluralistic_samples_with_pic_net():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), dtype=bool)
    mask[16:48, 16:48] = True
    model = create_model("pic_net", tiny=True)
    with torch.no_grad():
        for p in model.parameters():  # make the samples visibly depend on the noise
            p.add_(torch.randn_like(p) * 0.05)
    inp = Inpainter(model, device="cpu")
    a = inp.inpaint(image, mask, samples=3, seed=11)
    b = inp.inpaint(image, mask, samples=3, seed=11)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0][mask], a[1][mask])
    assert all(np.array_equal(x[~mask], image[~mask]) for x in a)


def test_model_names_and_default_note(monkeypatch, tmp_path):
    from inpaintkit.inference import weights

    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", tmp_path / "missing")
    inp = Inpainter("default", device="cpu")
    assert inp.model_name == "patchmatch_lf" and "PatchMatch" in inp.load_notes[0]
    assert Inpainter("ns").model_name == "ns"
    assert Inpainter(NoiseModel()).model_name == "NoiseModel"


def test_merge_boxes_is_transitive_and_scales():
    from inpaintkit.inference.windows import merge_boxes

    # A chain: each box is within the margin of the next, the ends are far apart.
    chain = np.array([[10, 20, x, x + 10] for x in range(0, 300, 25)])
    lone = np.array([[200, 210, 100, 110]])
    group_of, boxes = merge_boxes(np.concatenate([chain, lone]), margin=8, h=300, w=320)
    assert len(boxes) == 2 and len(set(group_of[:-1])) == 1 and group_of[-1] != group_of[0]
    assert boxes[group_of[0]].tolist() == [10, 20, 0, 285]
    # Thousands of far-apart specks stay separate (and this is fast).
    grid = np.array([[y, y + 1, x, x + 1] for y in range(0, 1000, 20) for x in range(0, 1000, 20)])
    group_of, boxes = merge_boxes(grid, margin=4, h=1000, w=1000)
    assert len(boxes) == len(grid) == 2500


def test_many_scattered_holes():
    image, mask = _scene(640, 640, [(y, y + 3, x, x + 3) for y in range(20, 620, 60) for x in range(20, 620, 60)])
    model = MeanModel()
    inp = Inpainter(model, device="cpu", native_size=64, crop_margin=8)
    (out,) = inp.inpaint(image, mask)
    assert inp.last_strategy == "resize"  # 100 groups: one resized pass beats 100 calls
    assert not (out[mask] == SENTINEL).all(axis=-1).any()
    model.sizes.clear()
    inp = Inpainter(model, device="cpu", strategy="crop", native_size=64, crop_margin=8)
    (out,) = inp.inpaint(image, mask)
    assert len(model.sizes) == 100 and np.abs(out[mask].astype(int) - 90).max() <= 2
    assert np.array_equal(out[~mask], image[~mask])
