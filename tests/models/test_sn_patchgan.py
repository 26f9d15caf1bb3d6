"""SN-PatchGAN discriminator: structure, output map, spectral norm, inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inpaintkit.models import DISCRIMINATORS, create_discriminator
from inpaintkit.models.sn_patchgan import SNPatchGAN, SNPatchGANConfig


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def _inputs(h: int = 64, w: int = 64, batch: int = 2):
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, h, w, generator=gen) * 2 - 1
    mask = torch.zeros(batch, 1, h, w)
    mask[:, :, h // 4 : h // 2, w // 4 : w // 2] = 1
    return image, mask


def test_registered_with_tiny() -> None:
    assert DISCRIMINATORS["sn_patchgan"] is SNPatchGAN
    tiny = create_discriminator("sn_patchgan", tiny=True)
    assert max(c.out_channels for c in _convs(tiny)) <= 32


def test_official_structure() -> None:
    model = SNPatchGAN(SNPatchGANConfig())
    convs = _convs(model)
    assert [c.out_channels for c in convs] == [64, 128, 256, 256, 256, 256]
    assert convs[0].in_channels == 4  # image + mask
    for conv in convs:
        assert conv.kernel_size == (5, 5) and conv.stride == (2, 2) and conv.padding == (2, 2)
        assert hasattr(conv, "parametrizations") and "weight" in conv.parametrizations
    slopes = [m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)]
    assert slopes == [0.2] * 6


@pytest.mark.parametrize(("size", "grid"), [((64, 64), (1, 1)), ((128, 192), (2, 3)),
                                            ((72, 96), (2, 2))])
def test_output_is_a_map_of_patch_scores(size: tuple[int, int], grid: tuple[int, int]) -> None:
    model = create_discriminator("sn_patchgan", tiny=True)
    image, mask = _inputs(*size)
    out = model(image, mask)
    assert out.shape == (2, 32, *grid)
    assert torch.isfinite(out).all()


def test_patch_scores_are_local() -> None:
    """Changing the left edge leaves the scores of the right-most patches unchanged."""
    model = create_discriminator("sn_patchgan", tiny=True).eval()
    image, mask = _inputs(64, 512, batch=1)
    changed = image.clone()
    changed[..., :32] = -image[..., :32]
    with torch.no_grad():
        a, b = model(image, mask), model(changed, mask)
    assert a.shape[-1] == 8
    assert not torch.equal(a[..., 0], b[..., 0])
    assert torch.equal(a[..., -1], b[..., -1])


def test_mask_and_sketch_are_inputs() -> None:
    model = create_discriminator("sn_patchgan", tiny=True).eval()
    image, mask = _inputs()
    with torch.no_grad():
        assert not torch.equal(model(image, mask), model(image, 1 - mask))
    with pytest.raises(ValueError, match="sketch"):
        model(image, mask, sketch=mask)
    guided = create_discriminator("sn_patchgan", tiny=True, in_extra=1).eval()
    assert _convs(guided)[0].in_channels == 5
    with torch.no_grad():
        assert not torch.equal(guided(image, mask, mask), guided(image, mask, 1 - mask))
    with pytest.raises(ValueError, match="sketch"):
        guided(image, mask)


def test_spectral_norm_bounds_every_layer_after_power_iterations() -> None:
    torch.manual_seed(1)
    model = create_discriminator("sn_patchgan", tiny=True)
    for conv in _convs(model):
        with torch.no_grad():
            conv.parametrizations.weight.original.mul_(10.0)
    model.train()
    image, mask = _inputs()
    for _ in range(30):
        model(image, mask)
    for conv in _convs(model):
        sigma = float(torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2))
        assert sigma == pytest.approx(1.0, abs=0.02)


def test_backward_reaches_image_and_weights() -> None:
    model = create_discriminator("sn_patchgan", tiny=True)
    image, mask = _inputs()
    image.requires_grad_(True)
    model(image, mask).mean().backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()
    assert image.grad.abs().sum() > 0
    for conv in _convs(model):
        grad = conv.parametrizations.weight.original.grad
        assert grad is not None and torch.isfinite(grad).all()
