"""The stylization generator: shapes at any size, and instance vs batch norm checked against
the definitions (IN: per-image statistics, also in eval mode; BN: batch statistics)."""

import pytest
import torch

from inpaintkit.models import MODELS, STYLIZERS, create_stylizer
from inpaintkit.models.stylizer import Stylizer, StylizerConfig


def _model(norm: str, seed: int = 0) -> Stylizer:
    torch.manual_seed(seed)
    return create_stylizer("stylizer", tiny=True, norm=norm)


@pytest.mark.parametrize("hw", [(16, 16), (17, 23), (5, 9), (33, 14)])
def test_any_size_in_range(hw):
    model = _model("instance").eval()
    x = torch.rand(2, 3, *hw) * 2 - 1
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert y.abs().max() <= 1.0


def test_separate_registry():
    assert "stylizer" in STYLIZERS and "stylizer" not in MODELS
    with pytest.raises(ValueError, match="norm"):
        StylizerConfig(norm="group")


def test_width_and_blocks_set_the_layers():
    model = Stylizer(StylizerConfig(width=0.5, blocks=3))
    assert model.down[0][1].out_channels == 16 and model.down[2][1].out_channels == 64
    assert len(model.res) == 3 and model.out[1].out_channels == 3


def _first_norm_output(model, x):
    """Output of the first norm layer, and the conv output it normalised (reference input)."""
    block = model.down[0]  # reflection pad, conv, norm, ReLU
    pre = block[1](block[0](x))
    return block[2](pre), pre


@pytest.mark.parametrize("train_mode", [True, False])
def test_instance_norm_uses_each_images_own_statistics(train_mode):
    model = _model("instance").train(train_mode)
    norm = model.down[0][2].norm
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
        x = torch.rand(3, 3, 20, 20) * 2 - 1
        out, pre = _first_norm_output(model, x)
        mu = pre.mean(dim=(2, 3), keepdim=True)
        var = pre.var(dim=(2, 3), unbiased=False, keepdim=True)
        ref = (pre - mu) / torch.sqrt(var + norm.eps) * norm.weight.view(1, -1, 1, 1) + norm.bias.view(1, -1, 1, 1)
        assert torch.allclose(out, ref, atol=1e-5)
        # whole network: a sample's output does not depend on the rest of the batch
        alone = model(x[:1])
        other = model(torch.cat([x[:1], torch.rand(2, 3, 20, 20) * 2 - 1]))[:1]
    # Batch 1 vs 3: oneDNN blocks each batch size its own way, so ~10 float32 layers leave a
    # few ulps of the largest output (measured 15 ulps with AVX2). 128 ulps (1.3e-5 for outputs
    # up to 0.9); batch statistics instead would move outputs by ~0.6 (as the next test shows).
    tol = 128 * torch.finfo(torch.float32).eps * float(other.abs().max())
    assert torch.allclose(alone, other, atol=tol, rtol=0)


def test_batch_norm_mixes_the_batch_in_training_and_uses_running_stats_in_eval():
    model = _model("batch").train()
    x = torch.rand(3, 3, 20, 20) * 2 - 1
    with torch.no_grad():
        out, pre = _first_norm_output(model, x)
        norm = model.down[0][2].norm
        mu = pre.mean(dim=(0, 2, 3), keepdim=True)
        var = pre.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        assert torch.allclose(out, (pre - mu) / torch.sqrt(var + norm.eps), atol=1e-5)
        alone = model(x[:1])
        other = model(torch.cat([x[:1], torch.rand(2, 3, 20, 20) * 2 - 1]))[:1]
        assert not torch.allclose(alone, other, atol=1e-3)
        model.eval()
        out, pre = _first_norm_output(model, x)
        rm, rv = norm.running_mean.view(1, -1, 1, 1), norm.running_var.view(1, -1, 1, 1)
        assert torch.allclose(out, (pre - rm) / torch.sqrt(rv + norm.eps), atol=1e-5)
        whole = model(x)  # eval: running statistics, so again only rounding differs per batch size
        assert torch.allclose(model(x[:1]), whole[:1], atol=128 * torch.finfo(torch.float32).eps
                              * float(whole.abs().max()), rtol=0)


def test_gradients_reach_every_parameter():
    model = _model("instance").train()
    model(torch.rand(2, 3, 24, 24) * 2 - 1).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_checkpoint_round_trip_fp16(tmp_path):
    from inpaintkit.models.serialization import load_checkpoint, save_model

    model = _model("batch").eval()
    save_model(model, tmp_path / "m", dtype=torch.float16, metadata={"style_image": "x.jpg"})
    loaded, meta = load_checkpoint(tmp_path / "m", kind="stylizer")
    assert meta["style_image"] == "x.jpg" and loaded.config == model.config
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=2e-2)
    from inpaintkit.errors import InpaintError

    with pytest.raises(InpaintError, match="not a generator"):
        load_checkpoint(tmp_path / "m")  # an inpainting load refuses it
