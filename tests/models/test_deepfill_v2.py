"""DeepFill v2 generator: forward outputs, channel plan, classical coarse input + residual
mode (the generator contract is in test_contract.py)."""

from __future__ import annotations

import cv2
import pytest
import torch

from inpaintkit.conventions import composite, image_to_tensor, tensor_to_image, tensor_to_mask
from inpaintkit.layers.gated_conv import GatedConv2d
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.base import config_from_dict, config_to_dict
from inpaintkit.models.classical import CLASSICAL_METHODS, classical_fill, coarse_from_tensors
from inpaintkit.models.deepfill_v2 import COARSE_MODES, DeepFillV2, DeepFillV2Config, DeepFillV2Vanilla


def _batch(h: int, w: int, batch: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, h, w, generator=gen) * 2 - 1
    mask = torch.zeros(batch, 1, h, w)
    mask[0, :, h // 4 : h // 2, w // 4 : w // 2 + 5] = 1.0
    mask[-1, :, h // 2 :, : w // 3] = 1.0
    return image, mask


def _coarse(model: DeepFillV2, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """The coarse input the model asks for (None for the learned coarse network)."""
    if model.coarse_input is None:
        return None
    return coarse_from_tensors(image, mask, model.coarse_input)


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_registered() -> None:
    assert MODELS["deepfill_v2"] is DeepFillV2
    assert MODELS["deepfill_v2_vanilla"] is DeepFillV2Vanilla
    assert create_model("deepfill_v2_vanilla", tiny=True).config.gated is False
    assert create_model("deepfill_v2", tiny=True).config.gated is True


def test_forward_returns_coarse_refined_and_the_flow() -> None:
    torch.manual_seed(0)
    model = create_model("deepfill_v2", tiny=True)
    image, mask = _batch(72, 96)
    coarse, refined = model(image, mask)
    for out in (coarse, refined):
        assert out.shape == image.shape
        assert torch.isfinite(out).all() and out.min() >= -1 and out.max() <= 1
    assert model.last_flow is not None and model.last_flow.shape == (2, 2, 72 // 4, 96 // 4)


def test_sketch_channel() -> None:
    torch.manual_seed(3)
    model = create_model("deepfill_v2", tiny=True, in_extra=1).eval()
    image, mask = _batch(64, 64)
    sketch = torch.zeros_like(mask)
    sketch[..., 20:24, :] = 1.0
    with torch.no_grad():
        plain = model.inpaint(image, mask)
        guided = model.inpaint(image, mask, sketch=sketch)
        assert torch.equal(plain, model.inpaint(image, mask, sketch=torch.zeros_like(mask)))
        assert not torch.equal(plain, guided)
        # Sketch strokes outside the hole are ignored (official: edge * mask).
        outside = sketch * (1 - mask)
        assert torch.equal(plain, model.inpaint(image, mask, sketch=outside))
    with pytest.raises(ValueError, match="sketch"):
        create_model("deepfill_v2", tiny=True)(image, mask, sketch=sketch)
    with pytest.raises(ValueError, match="sketch"):
        model(image, mask, sketch=torch.zeros(2, 2, 64, 64))


def test_sizes_not_divisible_by_eight_raise() -> None:
    model = create_model("deepfill_v2", tiny=True)
    assert model.multiple == 8
    image, mask = _batch(60, 64)
    with pytest.raises(ValueError, match="divisible by 8"):
        model(image, mask)


def test_full_default_parameter_count() -> None:
    # Official channel plan (refinement input = 3 channels): 4,052,478; the paper says 4.1M.
    official = create_model("deepfill_v2", refine_sees_mask=False)
    assert _params(official) == 4_052_478
    # The default also feeds ones + mask to the two refinement branches: 2 * 2*25*48 more.
    default = create_model("deepfill_v2")
    assert _params(default) == 4_052_478 + 2 * (2 * 25 * 48)
    assert 4.0e6 < _params(default) < 4.15e6
    slim = create_model("deepfill_v2", slim=True)
    assert 1.2e6 < _params(slim) < 1.5e6
    # Vanilla has no gate branches: about half.
    vanilla = create_model("deepfill_v2_vanilla")
    assert 0.45 < _params(vanilla) / _params(default) < 0.55


def test_tiny_config_is_small() -> None:
    model = create_model("deepfill_v2", tiny=True)
    widths = [m.out_ch for m in model.modules() if isinstance(m, GatedConv2d)]
    assert max(widths) <= 32
    assert _params(model) < 0.5e6


def test_output_layers_are_plain_convs_and_vanilla_has_no_gates() -> None:
    model = create_model("deepfill_v2", tiny=True)
    for net in (model.coarse_net.body, model.refine_net.decoder):
        assert type(net[-1]) is torch.nn.Conv2d and net[-1].out_channels == 3
    assert all(m.gated for m in model.modules() if isinstance(m, GatedConv2d))
    vanilla = create_model("deepfill_v2_vanilla", tiny=True)
    assert not any(m.gated for m in vanilla.modules() if isinstance(m, GatedConv2d))
    with pytest.raises(ValueError, match="gated=False"):
        DeepFillV2Vanilla(DeepFillV2Config(cnum=16))


def _classical(image: torch.Tensor, mask: torch.Tensor, method: str) -> torch.Tensor:
    out = []
    for img, m in zip(image, mask, strict=True):
        rgb, hole = tensor_to_image(img), tensor_to_mask(m)
        if method == "telea":  # independent of inpaintkit.models.classical on purpose
            filled = cv2.inpaint(rgb, hole, 3, cv2.INPAINT_TELEA)
        else:
            filled = classical_fill(rgb, hole, method, 3)
        out.append(image_to_tensor(filled))
    return torch.cat(out)


@pytest.mark.parametrize("method", ["telea", "smooth"])
def test_untrained_classical_residual_returns_the_classical_result(method: str) -> None:
    torch.manual_seed(4)
    model = create_model("deepfill_v2", tiny=True, coarse=method, residual=True).eval()
    assert model.coarse_net is None
    # A smooth image so Telea has something meaningful to continue.
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 96), indexing="ij")
    image = torch.stack([ys, xs, ys * xs]).unsqueeze(0).repeat(2, 1, 1, 1)
    _, mask = _batch(64, 96)
    expected = _classical(torch.where(mask > 0.5, 0.0, image), mask, method)
    assert model.coarse_input == method
    with torch.no_grad():
        # The hole's content must not matter: the helper zeroes it like masked_input.
        coarse, refined = model(image, mask, coarse=coarse_from_tensors(image, mask, method))
    hole = mask.expand_as(image) > 0.5
    assert (refined[hole] - expected[hole]).abs().max() <= 1 / 127.5
    assert torch.equal(coarse, expected)
    assert torch.equal(refined[~hole], image[~hole])  # outside: the input itself


def test_telea_stage_has_no_gradient_but_refinement_learns() -> None:
    torch.manual_seed(5)
    model = create_model("deepfill_v2", tiny=True, coarse="telea", residual=True)
    image, mask = _batch(64, 64)
    coarse, refined = model(image, mask, coarse=_coarse(model, image, mask))
    assert not coarse.requires_grad
    (refined - image).abs().mean().backward()
    last = model.refine_net.decoder[-1]
    assert last.weight.grad is not None and last.weight.grad.abs().sum() > 0


@pytest.mark.filterwarnings(
    "ignore::UserWarning", "ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning"
)
def test_learned_model_exports_to_onnx_with_dynamic_size(tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(6)
    model = create_model("deepfill_v2", tiny=True).eval()

    class Inpaint(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.model.inpaint(image, mask)

    path = tmp_path / "deepfill.onnx"
    axes = {0: "b", 2: "h", 3: "w"}
    torch.onnx.export(Inpaint(), _batch(64, 64, batch=1), str(path), dynamo=False,
                      opset_version=18, input_names=["image", "mask"],
                      dynamic_axes={"image": axes, "mask": axes})
    image, mask = _batch(72, 96)
    session = ort.InferenceSession(str(path))
    (got,) = session.run(None, {"image": image.numpy(), "mask": mask.numpy()})
    with torch.no_grad():
        want = model.inpaint(image, mask)
    torch.testing.assert_close(torch.from_numpy(got), want, rtol=1e-4, atol=1e-4)


def test_config_validation_and_round_trip() -> None:
    with pytest.raises(ValueError, match="coarse"):
        DeepFillV2Config(coarse="navier")
    with pytest.raises(ValueError, match="multiple of 4"):
        DeepFillV2Config(cnum=18)
    config = DeepFillV2Config(cnum=16, coarse="telea", residual=True, in_extra=1)
    assert config_from_dict(DeepFillV2Config, config_to_dict(config)) == config
    with pytest.raises(AttributeError):
        config.cnum = 8  # type: ignore[misc]


def test_coarse_input_is_required_exactly_when_declared() -> None:
    assert COARSE_MODES == ("learned", *CLASSICAL_METHODS, "patchmatch+smooth")
    image, mask = _batch(64, 64)
    learned = create_model("deepfill_v2", tiny=True).eval()
    smooth = create_model("deepfill_v2", tiny=True, coarse="smooth", residual=True).eval()
    assert learned.coarse_input is None and smooth.coarse_input == "smooth"
    coarse = coarse_from_tensors(image, mask, "smooth")
    with pytest.raises(ValueError, match="needs coarse"):
        smooth.inpaint(image, mask)
    with pytest.raises(ValueError, match="takes no coarse"):
        learned.inpaint(image, mask, coarse=coarse)
    with pytest.raises(ValueError, match="coarse"):
        smooth.inpaint(image, mask, coarse=coarse[:, :, :32])
    with torch.no_grad():
        # Untrained residual: the coarse input itself inside the hole.
        out = smooth.inpaint(image, mask, coarse=coarse)
    hole = mask.expand_as(image) > 0.5
    assert torch.equal(out[hole], coarse[hole])


def _band0_share(x: torch.Tensor) -> float:
    """Share of the energy of x (B,C,H,W) in its finest Laplacian band (x - blur(x))."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    k2 = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)
    blur = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect"),
                                      k2, groups=x.shape[1])
    return float(((x - blur) ** 2).sum() / (x ** 2).sum())


def test_lowfreq_refinement_is_a_smooth_correction_of_the_first_fill() -> None:
    torch.manual_seed(0)
    image, mask = _batch(64, 64)
    coarse = torch.cat([torch.rand(2, 3, 64, 64) * 2 - 1, torch.zeros(2, 3, 64, 64)], dim=1)
    shares = {}
    for f in (1, 4):
        model = create_model("deepfill_v2", tiny=True, coarse="patchmatch+smooth",
                             residual=True, lowfreq=f).eval()
        assert model.multiple == 8 * f
        assert model.inpaint(image, mask, coarse=coarse[:, :3].repeat(1, 2, 1, 1)).shape == image.shape
        # Untrained (zero last layer): exactly the first (patchmatch) fill in the hole.
        out = model.inpaint(image, mask, coarse=coarse)
        hole = mask.expand_as(out) > 0.5
        assert torch.equal(out[hole], coarse[:, :3].clamp(-1, 1)[hole])
        torch.nn.init.normal_(model.refine_net.decoder[-1].weight, std=0.05)
        with torch.no_grad():
            delta = model.inpaint(image, mask, coarse=coarse) - composite(coarse[:, :3], image, mask)
        shares[f] = _band0_share(delta)
    # At 1/4 resolution the correction leaves the finest band (PatchMatch's texture) alone.
    assert shares[4] < 0.02 < shares[1]


def test_lowfreq_config_checks() -> None:
    with pytest.raises(ValueError, match="power of two"):
        DeepFillV2Config(coarse="smooth", residual=True, lowfreq=3)
    with pytest.raises(ValueError, match="residual"):
        DeepFillV2Config(coarse="smooth", lowfreq=4)
    with pytest.raises(ValueError, match="classical coarse"):
        DeepFillV2Config(residual=True, lowfreq=2)


def test_partial_arm_same_weights_as_vanilla_and_partial_layers_throughout() -> None:
    from inpaintkit.layers.partial_conv import PartialConvAct
    from inpaintkit.models.deepfill_v2 import DeepFillV2Partial

    assert MODELS["deepfill_v2_partial"] is DeepFillV2Partial
    partial = create_model("deepfill_v2_partial")
    vanilla = create_model("deepfill_v2_vanilla")
    # Same layer plan, same conv shapes: only the rule that feeds them differs.
    assert _params(partial) == _params(vanilla)
    assert not any(isinstance(m, GatedConv2d) for m in partial.modules())
    n_partial = sum(isinstance(m, PartialConvAct) for m in partial.modules())
    n_plain = sum(isinstance(m, GatedConv2d) for m in vanilla.modules())
    assert n_partial == n_plain == 40  # 36 convs + 4 "deconvs"
    with pytest.raises(ValueError, match="partial=True"):
        DeepFillV2Partial(DeepFillV2Config(cnum=16, gated=False))
    with pytest.raises(ValueError, match="gated=False"):
        DeepFillV2Config(partial=True)


def test_partial_arm_cannot_see_inside_the_hole() -> None:
    # The DeepFill v2 paper's argument against partial convolution: its first layer
    # multiplies every input by the valid mask, so a sketch drawn in the hole is ignored.
    # The gated model (test_sketch_channel) does use it.
    torch.manual_seed(5)
    model = create_model("deepfill_v2_partial", tiny=True, in_extra=1).eval()
    image, mask = _batch(64, 64)
    sketch = torch.zeros_like(mask)
    sketch[..., 20:24, :] = 1.0
    with torch.no_grad():
        plain = model.inpaint(image, mask)
        assert torch.isfinite(plain).all() and plain.abs().max() <= 1
        assert torch.equal(plain, model.inpaint(image, mask, sketch=sketch))
        # ... while the known pixels do matter.
        other = image.clone()
        other[..., :8, :] = -other[..., :8, :]
        assert not torch.equal(plain, model.inpaint(other, mask))
