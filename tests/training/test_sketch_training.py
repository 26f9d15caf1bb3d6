"""DeepFill v2 with a sketch channel: the objective feeds strokes (and D sees them), the
sketch is really used, and the zero-expanded init from an in_extra=0 model reproduces it."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from inpaintkit.errors import InpaintError
from inpaintkit.models import create_discriminator, create_model
from inpaintkit.training.config import load_config
from inpaintkit.training.init import fit_state, init_generator
from inpaintkit.training.objectives import OBJECTIVES

CONFIG = Path(__file__).parents[2] / "configs" / "cpu" / "deepfill_v2_sketch.yaml"


def objective(*overrides):
    cfg = load_config(CONFIG, ["tiny=true", "size=64", "batch_size=2", "init=", "init_discriminator=",
                               "model_args.cnum=16", "disc_args.cnum=8", *overrides])
    return OBJECTIVES[cfg.method](cfg)


def batch():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    image[:, :, :, 32:] = 0.8  # a strong vertical edge, so the strokes are not empty
    mask = torch.zeros(2, 1, 64, 64)
    mask[:, :, 16:48, 16:48] = 1
    return image, mask


@pytest.mark.parametrize("prob", [0.0, 1.0])
def test_one_step_with_and_without_sketch(prob):
    obj = objective(f"objective_args.sketch_prob={prob}")
    torch.manual_seed(0)
    G, D = obj.build_generator(), obj.build_discriminator()
    assert G.sketch_channels == 1 and D.config.in_extra == 1  # D follows the generator
    image, mask = batch()
    out = obj.generate(G, image, mask)
    sketch = out[2]
    assert sketch.shape == (2, 1, 64, 64)
    assert (sketch.sum() > 0) == (prob == 1.0)
    assert torch.equal(sketch * (1 - mask), torch.zeros_like(sketch))  # hole only
    d_loss, _ = obj.discriminator_loss(D, image, mask, out)
    g_loss, _ = obj.generator_loss(D, image, mask, out)
    (d_loss + g_loss).backward()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert D.body[0].parametrizations.weight.original.grad[:, 4].abs().sum() > 0 or prob == 0.0


def test_the_sketch_reaches_the_output_inside_the_hole_only():
    obj = objective()
    torch.manual_seed(0)
    G, D = obj.build_generator(), obj.build_discriminator()
    image, mask = batch()
    sketch = torch.zeros(2, 1, 64, 64)
    sketch[:, :, :, 31] = 1  # a line through the hole and beyond it
    sketch.requires_grad_(True)
    out = obj.generate(G, image, mask, sketch=sketch)
    g_loss, _ = obj.generator_loss(D, image, mask, out)
    g_loss.backward()
    grad = sketch.grad.abs()
    assert grad[mask.bool()].sum() > 0
    assert grad[~mask.bool()].sum() == 0  # outside the hole the strokes count for nothing


def test_disc_args_in_extra_must_follow_the_generator():
    with pytest.raises(InpaintError, match="in_extra"):
        objective("disc_args.in_extra=0").build_discriminator()


def test_zero_expanded_init_reproduces_the_model_without_sketch(tmp_path):
    torch.manual_seed(1)
    base = create_model("deepfill_v2", tiny=True).eval()
    path = tmp_path / "base.safetensors"
    save_file(base.state_dict(), str(path))
    grown = create_model("deepfill_v2", tiny=True, in_extra=1).eval()
    with pytest.raises(InpaintError, match="init_expand_inputs"):
        init_generator(grown, str(path))  # never a silent shape mismatch
    init_generator(grown, str(path), expand=True)
    image, mask = batch()
    with torch.no_grad():
        want = base.inpaint(image, mask)
        # The grown first convolution has one more input channel, so oneDNN may block and sum
        # it differently: float32 rounding, not the sketch, may move the [-1,1] output by a
        # few ulps through the network. 64 ulps of the largest value (3.7e-6 here) is 40x below
        # what a stroke moves the output by when the new channel's weights are just 1 % of
        # the others' scale instead of zero (measured 1.5e-4).
        tol = 64 * torch.finfo(torch.float32).eps * float(want.abs().max())
        assert torch.allclose(grown.inpaint(image, mask), want, atol=tol, rtol=0)  # no sketch: zeros
        zero = torch.zeros(2, 1, 64, 64)
        assert torch.allclose(grown.inpaint(image, mask, sketch=zero), want, atol=tol, rtol=0)
        line = zero.clone()
        line[:, :, :, 31] = 1
        # zero weights: the sketch does nothing yet (fine-tuning teaches it)
        assert torch.allclose(grown.inpaint(image, mask, sketch=line), want, atol=tol, rtol=0)


def test_discriminator_expansion_keeps_its_scores():
    torch.manual_seed(2)
    d0 = create_discriminator("sn_patchgan", tiny=True).eval()
    d1 = create_discriminator("sn_patchgan", tiny=True, in_extra=1).eval()
    with pytest.raises(InpaintError, match="wrong-shaped"):
        fit_state(d1, d0.state_dict(), "d0")
    d1.load_state_dict(fit_state(d1, d0.state_dict(), "d0", expand=True))
    image, mask = batch()
    with torch.no_grad():
        want = d0(image, mask)
        got = d1(image, mask, torch.zeros(2, 1, 64, 64))
    # one more (zero) input channel: a different float32 summation, same value (see above)
    assert torch.allclose(got, want, atol=64 * torch.finfo(torch.float32).eps * float(want.abs().max()), rtol=0)
