"""Classical fills (telea, ns, smooth, patchmatch, patchmatch_lf): on uint8 arrays, as the coarse input of networks,
and as registered models behind the generator protocol."""

from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest
import torch

from inpaintkit.conventions import image_to_tensor, mask_to_tensor, masked_input, tensor_to_image
from inpaintkit.errors import InpaintError, LoadFailed
from inpaintkit.inference.weights import available_models
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.classical import (
    CLASSICAL_METHODS,
    DEFAULT_RADIUS,
    HOLE_VALUE,
    SKETCH_METHODS,
    SMOOTH_SIGMA,
    ClassicalConfig,
    ClassicalModel,
    PatchMatch,
    classical_fill,
    coarse_batch,
    coarse_from_tensors,
    coarse_methods,
    mean_fill,
    patchmatch_fill,
    patchmatch_lowfreq_fill,
    smooth_fill,
)


def _texture(h: int = 96, w: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _square_hole(h: int = 96, w: int = 96, a: int = 16, b: int = 80) -> np.ndarray:
    hole = np.zeros((h, w), np.uint8)
    hole[a:b, a:b] = 255
    return hole


@pytest.mark.parametrize("method", CLASSICAL_METHODS)
def test_known_pixels_unchanged_and_constant_image_stays_constant(method: str) -> None:
    image = _texture()
    hole = _square_hole()
    out = classical_fill(image, hole, method)
    assert out.dtype == np.uint8 and out.shape == image.shape
    known = hole == 0
    assert np.array_equal(out[known], image[known])
    # Nothing to invent on a flat image (OpenCV's Telea drifts by a few levels deep inside).
    error = np.abs(classical_fill(np.full_like(image, 77), hole, method).astype(int) - 77)
    assert error.mean() < 1 and error.max() <= 6


def test_smooth_is_the_telea_ns_mean_at_the_boundary_and_blurred_deep_inside() -> None:
    image = _texture(seed=1)
    hole = _square_hole()
    telea = cv2.inpaint(image, hole, 3, cv2.INPAINT_TELEA).astype(np.float32)
    ns = cv2.inpaint(image, hole, 3, cv2.INPAINT_NS).astype(np.float32)
    mean = (telea + ns) / 2
    out = classical_fill(image, hole, "smooth").astype(np.float32)
    # The first hole row (1 px deep) is almost unblurred: weight 1 / (2 sigma).
    edge = out[16, 30:66] - mean[16, 30:66]
    blurred = cv2.GaussianBlur(mean, (0, 0), SMOOTH_SIGMA, borderType=cv2.BORDER_REFLECT)
    assert np.abs(edge).mean() < np.abs(blurred[16, 30:66] - mean[16, 30:66]).mean() / 4
    # The centre is >= 2 sigma from the boundary: fully the blurred mean.
    assert np.abs(out[48, 48] - blurred[48, 48]).max() <= 1.0


def test_smooth_removes_streaks_that_opencv_leaves() -> None:
    image = _texture(seed=2)
    hole = _square_hole()

    def roughness(method: str) -> float:  # mean |Laplacian| >= 2 sigma inside the hole
        lap = cv2.Laplacian(classical_fill(image, hole, method).astype(np.float32), cv2.CV_32F)
        return float(np.abs(lap[32:64, 32:64]).mean())

    # (uint8 rounding alone leaves a mean |Laplacian| near 1)
    assert roughness("smooth") < min(roughness("telea"), roughness("ns")) / 1.5


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown classical method 'exemplar'"):
        classical_fill(_texture(), _square_hole(), "exemplar")


def _gradient(h: int = 48, w: int = 64) -> np.ndarray:
    x = np.linspace(0, 255, w)[None, :, None]
    y = np.linspace(0, 120, h)[:, None, None]
    return np.clip(np.broadcast_to(x * 0.5 + y, (h, w, 3)), 0, 255).astype(np.uint8).copy()


def test_hole_value_is_masked_input_zero_as_uint8() -> None:
    zero = masked_input(torch.ones(1, 3, 1, 1), torch.ones(1, 1, 1, 1))
    assert int(tensor_to_image(zero)[0, 0, 0]) == HOLE_VALUE


def _raw(image: np.ndarray, hole: np.ndarray, method: str) -> np.ndarray:
    """The fill without classical_fill's grey hole: OpenCV (smooth, PatchMatch) as they are."""
    hole_u8 = hole.astype(np.uint8) * 255
    if method == "smooth":
        return smooth_fill(image, hole_u8)
    if method == "patchmatch":
        return patchmatch_fill(image, hole_u8)
    if method == "patchmatch_lf":
        return patchmatch_lowfreq_fill(image, hole_u8)
    if method == "mean":
        return mean_fill(image, hole_u8)
    return cv2.inpaint(image, hole_u8, 3, cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS)


@pytest.mark.parametrize("method", CLASSICAL_METHODS)
def test_hole_content_never_matters_even_at_the_border(method: str) -> None:
    image = _texture(40, 56, seed=3)
    hole = np.zeros((40, 56), bool)
    hole[0:12, 30:56] = True  # touches the top and right borders
    other = image.copy()
    other[hole] = _texture(40, 56, seed=4)[hole]
    # OpenCV itself reads hole pixels next to the border (PatchMatch reads the hole's content
    # too, e.g. for a central hole, but fills this border hole alike: not asserted for it)...
    if not method.startswith("patchmatch") and method != "mean":
        assert not np.array_equal(_raw(image, hole, method), _raw(other, hole, method))
    # ...classical_fill does not: it is the fill of the image with a mid-grey hole.
    grey = image.copy()
    grey[hole] = HOLE_VALUE
    expected = _raw(grey, hole, method)
    assert np.array_equal(classical_fill(image, hole, method), expected)
    assert np.array_equal(classical_fill(other, hole.astype(np.uint8) * 255, method), expected)


def test_coarse_batch_and_tensor_helper_match_the_per_sample_fill() -> None:
    images = np.stack([_texture(32, 40, seed=5), _gradient(32, 40)])
    holes = np.zeros((2, 32, 40), bool)
    holes[0, 4:20, 6:30] = True
    holes[1, 20:32, 0:12] = True
    got = coarse_batch(images, holes, "smooth")
    assert got.shape == (2, 3, 32, 40) and got.dtype == torch.float32
    for i in range(2):
        want = image_to_tensor(classical_fill(images[i], holes[i], "smooth", 3))[0]
        assert torch.equal(got[i], want)
    assert torch.equal(coarse_batch(images[1], holes[1], "smooth")[0], got[1])  # one image
    tensors = torch.cat([image_to_tensor(x) for x in images])
    masks = torch.cat([mask_to_tensor(h) for h in holes])
    assert torch.equal(coarse_from_tensors(tensors, masks, "smooth"), got)
    with pytest.raises(ValueError, match="do not match"):
        coarse_batch(images, holes[:, :16], "telea")


def test_stacked_coarse_inputs_are_the_fills_in_order() -> None:
    images = np.stack([_texture(32, 40, seed=7)])
    holes = np.zeros((1, 32, 40), bool)
    holes[0, 8:24, 10:30] = True
    assert coarse_methods("patchmatch+smooth") == ("patchmatch", "smooth")
    got = coarse_batch(images, holes, "telea+smooth")
    assert got.shape == (1, 6, 32, 40)
    assert torch.equal(got[:, :3], coarse_batch(images, holes, "telea"))
    assert torch.equal(got[:, 3:], coarse_batch(images, holes, "smooth"))
    for bad in ("telea+telea", "smooth+navier", ""):
        with pytest.raises(ValueError, match="coarse input"):
            coarse_methods(bad)


@pytest.mark.parametrize("method", CLASSICAL_METHODS)
def test_registered_models_follow_the_protocol(method: str) -> None:
    model = create_model(method)
    assert isinstance(model, ClassicalModel) and MODELS[method] is type(model)
    assert (model.config.method, model.config.radius, model.name) == (method, DEFAULT_RADIUS[method], method)
    assert model.multiple == 1 and model.classical and not model.exportable
    assert not model.pluralistic and not model.stochastic
    assert model.coarse_input is None and model.sketch_channels == (1 if method in SKETCH_METHODS else 0)
    assert not list(model.parameters())
    with pytest.raises(ValueError, match=f"is the '{method}' fill"):
        MODELS[method](ClassicalConfig("ns" if method != "ns" else "telea"))


@pytest.mark.parametrize("method", [m for m in CLASSICAL_METHODS if m != "mean"])  # mean: flat by design
def test_fills_a_smooth_image_smoothly_and_keeps_known_pixels(method: str) -> None:
    image = _gradient()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[16:32, 20:40] = True
    damaged = image.copy()
    damaged[mask] = 0
    out = create_model(method).inpaint_array(damaged, mask)
    assert np.array_equal(out[~mask], image[~mask])
    # A gradient is the easy case: the fill stays within a few levels of the truth.
    assert np.abs(out[mask].astype(int) - image[mask].astype(int)).mean() < 8


@pytest.mark.parametrize("method", CLASSICAL_METHODS)
def test_tensor_path_equals_array_path(method: str) -> None:
    image = _gradient()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[5:20, 40:60] = True
    model = create_model(method, radius=5)
    batch = torch.cat([image_to_tensor(image)] * 2)
    masks = torch.cat([mask_to_tensor(mask)] * 2)
    out = model.inpaint(batch, masks)
    assert out.shape == batch.shape and out.min() >= -1 and out.max() <= 1
    assert np.array_equal(tensor_to_image(out[0]), model.inpaint_array(image, mask))
    assert np.array_equal(model.inpaint_array(image, mask), classical_fill(image, mask, method, 5))
    with pytest.raises(ValueError, match="takes no coarse"):
        model.inpaint(batch, masks, coarse=batch)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown classical method"):
        create_model("telea", method="exemplar")
    with pytest.raises(ValueError, match="radius"):
        create_model("telea", radius=0)
    with pytest.raises(InpaintError, match="mask is"):
        create_model("telea").inpaint_array(_gradient(), np.zeros((3, 3), dtype=bool))


def _stripes(h: int = 96, w: int = 96, period: int = 8) -> np.ndarray:
    """Diagonal stripes of two colours: a texture no boundary-smearing fill can continue."""
    y, x = np.mgrid[0:h, 0:w]
    first = ((x + y) % period < period // 2)[..., None]
    return np.where(first, np.uint8([200, 60, 30]), np.uint8([20, 90, 220])).astype(np.uint8)


def test_patchmatch_copies_the_texture_that_telea_smears() -> None:
    truth = _stripes()
    hole = np.zeros(truth.shape[:2], bool)
    hole[32:64, 32:64] = True

    def error(method: str) -> float:  # mean |fill - truth| inside the hole, in levels
        return float(np.abs(classical_fill(truth, hole, method)[hole].astype(int) - truth[hole]).mean())

    # Measured: patchmatch 2.3, telea 68, ns 66, smooth 67 levels.
    assert error("patchmatch") < 8 and error("patchmatch") < min(error(m) for m in ("telea", "ns", "smooth")) / 8
    # Copied, not averaged: most hole pixels are within 5 levels of one of the two stripe
    # colours (measured 81 %; the patch votes blend a little at stripe edges), Telea's none.
    def share_of_stripe_colours(method: str) -> float:
        out = classical_fill(truth, hole, method)[hole].astype(int)
        gap = np.minimum(np.abs(out - [200, 60, 30]).max(1), np.abs(out - [20, 90, 220]).max(1))
        return float((gap <= 5).mean())

    assert share_of_stripe_colours("patchmatch") > 0.7 and share_of_stripe_colours("telea") < 0.05


def test_patchmatch_ignores_the_library_seed_left_by_other_callers() -> None:
    from patchmatch import patch_match

    image, hole = _texture(48, 64, seed=6), _square_hole(48, 64, 12, 36)
    first = classical_fill(image, hole, "patchmatch")
    patch_match.set_random_seed(12345)  # a fill right after this seed differs...
    masked = image.copy()
    masked[hole > 0] = HOLE_VALUE
    assert not np.array_equal(patch_match.inpaint(masked, mask=hole, patch_size=3), first)
    assert np.array_equal(classical_fill(image, hole, "patchmatch"), first)  # ...ours does not


def test_patchmatch_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "patchmatch", None)  # makes `import patchmatch` fail
    for call in (lambda: create_model("patchmatch"), lambda: classical_fill(_texture(), _square_hole(), "patchmatch")):
        with pytest.raises(LoadFailed, match="pip install pypatchmatch") as info:
            call()
        assert "\n" not in str(info.value)
    # Listing and the other fills still work.
    assert MODELS["patchmatch"] is PatchMatch and "patchmatch" in CLASSICAL_METHODS
    assert "patchmatch" in [choice.name for choice in available_models()]
    assert np.array_equal(create_model("telea").inpaint_array(_gradient(), np.zeros((48, 64), bool)), _gradient())


def test_patchmatch_without_its_native_library(monkeypatch: pytest.MonkeyPatch) -> None:
    from patchmatch import patch_match

    monkeypatch.setattr(patch_match, "patchmatch_available", False)
    with pytest.raises(LoadFailed, match="native library"):
        create_model("patchmatch")


def test_patchmatch_lf_is_patchmatch_plus_the_low_passed_smooth_correction() -> None:
    image, hole = _texture(48, 64, seed=7), _square_hole(48, 64, 12, 36)
    grey = image.copy()
    grey[hole > 0] = HOLE_VALUE
    pm = patchmatch_fill(grey, hole, 2).astype(np.float32)  # radius 2: 5 x 5 patches
    diff = smooth_fill(grey, hole).astype(np.float32) - pm
    expected = np.clip(pm + cv2.GaussianBlur(diff, (0, 0), SMOOTH_SIGMA) + 0.5, 0, 255).astype(np.uint8)
    expected[hole == 0] = image[hole == 0]
    out = classical_fill(image, hole, "patchmatch_lf", radius=2)
    assert np.array_equal(out, expected)
    assert np.array_equal(create_model("patchmatch_lf").inpaint_array(image, hole > 0), out)



def test_the_sketch_reaches_patchmatch_lf_through_both_paths_and_only_there() -> None:
    image = np.full((48, 64, 3), 60, np.uint8)
    image[:, 26:] = 190  # two tones; the boundary inside the hole, off its centre (32)
    hole = np.zeros((48, 64), bool)
    hole[4:44, 12:52] = True
    strokes = np.zeros((48, 64), bool)
    strokes[4:44, 26] = True
    model = create_model("patchmatch_lf")
    plain, guided = model.inpaint_array(image, hole), model.inpaint_array(image, hole, strokes)
    grey = guided.astype(np.float64).mean(axis=2)
    assert np.mean(grey[4:44, 29] - grey[4:44, 23]) > 65 and not np.array_equal(plain, guided)
    as_tensors = model.inpaint(image_to_tensor(image), mask_to_tensor(hole), sketch=mask_to_tensor(strokes))
    assert np.array_equal(tensor_to_image(as_tensors[0])[hole], guided[hole])
    with pytest.raises(InpaintError, match="takes no sketch"):
        create_model("telea").inpaint_array(image, hole, strokes)
    with pytest.raises(InpaintError, match="takes no sketch"):
        model.inpaint_array(image, hole, strokes[:, :63])
