"""The generator contract (:mod:`inpaintkit.models.base`), checked for every entry of ``MODELS``.

Every registered model, in its tiny config, must:
* never let pixel values inside the hole reach its output (eval and train mode);
* give the same output for the same weights, input and generator seed (and, unless it is
  ``stochastic``, ignore the seed);
* return (B,3,H,W) in [-1,1], whose hole part depends on the known pixels, so that the
  caller's composite keeps every known pixel exactly;
* train: one forward/backward sends finite gradients to every parameter.

A model with ``coarse_input`` set gets its classical coarse fill as input, computed as the
data pipeline does (:func:`~inpaintkit.models.classical.coarse_from_tensors`). Model-specific
behaviour lives in the per-model test files.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch

from inpaintkit.conventions import composite
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.base import InpaintModel
from inpaintkit.models.classical import coarse_from_tensors

# Every registered model as it is, plus config variants that change the data path.
VARIANTS: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in sorted(MODELS)] + [
    ("deepfill_v2", {"coarse": "smooth", "residual": True}),  # the shipped default's layout
    ("deepfill_v2", {"slim": True, "in_extra": 1, "refine_sees_mask": False}),
    ("rn_inpaint", {"norm": "instance", "mask_input": False}),
    ("rn_inpaint", {"rn_mode": "batch"}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in overrides.items()) for name, overrides in VARIANTS]


def _build(name: str, overrides: dict[str, Any], seed: int = 0) -> InpaintModel:
    torch.manual_seed(seed)
    return create_model(name, tiny=True, **overrides)


def _batch(model: InpaintModel, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two uint8-valued images (so that fills working on uint8 are exact) of a small
    non-square size the model accepts, with a central hole and a hole on the border."""
    h = max(model.multiple, 16)
    w = 2 * h
    g = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (2, 3, h, w), generator=g).float() / 127.5 - 1.0
    mask = torch.zeros(2, 1, h, w)
    mask[0, :, h // 4 : 3 * h // 4, w // 3 : 2 * w // 3] = 1.0
    mask[1, :, h // 2 :, : w // 4] = 1.0
    return image, mask


def _extra(model: InpaintModel, image: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    if model.coarse_input is None:
        return {}
    return {"coarse": coarse_from_tensors(image, mask, model.coarse_input)}


def _inpaint(model: InpaintModel, image: torch.Tensor, mask: torch.Tensor,
             seed: int | None = 0) -> torch.Tensor:
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return model.inpaint(image, mask, generator, **_extra(model, image, mask))


def _tensors(output: Any) -> Iterator[torch.Tensor]:
    """Every tensor in a model-specific forward output (tensor, tuple, NamedTuple, None)."""
    if isinstance(output, torch.Tensor):
        yield output
    elif isinstance(output, (tuple, list)):
        for item in output:
            yield from _tensors(item)


def test_every_model_is_covered() -> None:
    assert {name for name, _ in VARIANTS} == set(MODELS)
    assert {"telea", "ns", "smooth"} <= set(MODELS)  # classical methods are ordinary entries


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=IDS)
def test_pixels_inside_the_hole_never_reach_the_output(name: str, overrides: dict, mode: str) -> None:
    model = _build(name, overrides).train(mode == "train")
    image, mask = _batch(model)
    # Out-of-range values too: nothing inside the hole may leak, however extreme.
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(9)) * 10
    changed = torch.where(mask > 0.5, noise, image)
    assert not torch.equal(changed, image)
    assert torch.equal(_inpaint(model, image, mask), _inpaint(model, changed, mask))


@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=IDS)
def test_deterministic_for_a_seed(name: str, overrides: dict) -> None:
    model, twin = _build(name, overrides, seed=3).eval(), _build(name, overrides, seed=3).eval()
    image, mask = _batch(model)
    # model runs once before: a call that changed the model's state would show up here.
    other_seed = _inpaint(model, image, mask, seed=6)
    out = _inpaint(model, image, mask, seed=5)
    assert torch.equal(out, _inpaint(twin, image, mask, seed=5))
    hole = (mask > 0.5).expand_as(image)
    if model.stochastic:
        assert not torch.equal(out[hole], other_seed[hole])
    else:
        assert torch.equal(out, other_seed)


@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=IDS)
def test_output_range_and_known_pixel_composite(name: str, overrides: dict) -> None:
    model = _build(name, overrides).eval()
    image, mask = _batch(model)
    out = _inpaint(model, image, mask)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert torch.isfinite(out).all() and out.min() >= -1 and out.max() <= 1
    hole = (mask > 0.5).expand_as(image)
    final = composite(out, image, mask)
    assert torch.equal(final[~hole], image[~hole]) and torch.equal(final[hole], out[hole])
    # The fill is built from the known pixels: changing them changes the hole.
    shifted = torch.where(hole, image, (image + 0.5).clamp(-1, 1))
    assert not torch.equal(_inpaint(model, shifted, mask)[hole], out[hole])


@pytest.mark.parametrize(("name", "overrides"), VARIANTS, ids=IDS)
def test_forward_backward_reaches_every_parameter(name: str, overrides: dict) -> None:
    model = _build(name, overrides).train()
    params = dict(model.named_parameters())
    if not params:
        pytest.skip(f"{name} has no parameters")
    image, mask = _batch(model)
    output = model(image, mask, **_extra(model, image, mask))
    learned = [t for t in _tensors(output) if t.requires_grad]
    assert learned, "forward returned no tensor that depends on the parameters"
    assert all(torch.isfinite(t).all() for t in learned)
    sum(t.square().mean() for t in learned).backward()
    for key, p in params.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), key
    assert sum(float(p.grad.abs().sum()) for p in params.values()) > 0
