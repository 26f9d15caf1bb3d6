"""``patchmatch_lfnet``: the learned coarse bands over PatchMatch (models/patchmatch_lfnet.py)."""

import pytest
import torch

from inpaintkit.layers.pyramid import laplacian_bands
from inpaintkit.models import create_model
from inpaintkit.models.patchmatch_lfnet import PatchMatchLFNet, PatchMatchLFNetConfig


def _inputs(h=64, w=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(2, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, h, w)
    mask[0, :, 16:48, 24:72] = 1
    mask[1, :, 40:, :30] = 1
    coarse = torch.rand(2, 9, h, w, generator=g) * 2 - 1
    return image, mask, coarse


def test_untrained_is_the_patchmatch_fill_exactly():
    model = create_model("patchmatch_lfnet", tiny=True)
    image, mask, coarse = _inputs()
    with torch.no_grad():
        out = model.inpaint(image, mask, coarse=coarse)
    assert torch.equal(out, coarse[:, :3])


def _trained_like(seed=0):
    torch.manual_seed(seed)
    model = create_model("patchmatch_lfnet", tiny=True)
    torch.nn.init.normal_(model.out.weight, std=0.5)  # as if trained: a nonzero correction
    return model.eval()


def test_the_correction_lives_in_the_coarse_bands():
    model = _trained_like()
    image, mask, coarse = _inputs()
    with torch.no_grad():
        delta = model.correction(image, mask, coarse)  # (B,3,H,W), before the hole mask
    assert delta.shape == image.shape and float(delta.abs().max()) > 0.05
    fine = sum(float(b[..., 8:-8, 8:-8].square().sum()) for b in laplacian_bands(delta, 2))
    total = float(delta[..., 8:-8, 8:-8].square().sum())
    assert fine < 0.02 * total, (fine, total)  # white noise: about 0.9 (measured)


def test_only_the_hole_changes_and_the_input_pixels_of_the_hole_are_ignored():
    model = _trained_like(1)
    image, mask, coarse = _inputs(seed=1)
    with torch.no_grad():
        out = model.inpaint(image, mask, coarse=coarse)
        scrambled = torch.where(mask.bool(), -image, image)
        again = model.inpaint(scrambled, mask, coarse=coarse)
    hole = mask.bool().expand_as(out)
    assert torch.equal(out[~hole], coarse[:, :3][~hole])
    assert not torch.equal(out[hole], coarse[:, :3][hole])
    assert torch.equal(out, again)


@pytest.mark.parametrize(("args", "match"), [
    ({"coarse": "patchmatch+smooth"}, "three distinct fills"),
    ({"coarse": "smooth+smooth+telea"}, "three distinct fills"),
    ({"factor": 3}, "power of two"),
    ({"factor": 1}, "power of two"),
    ({"width": 0}, "width"),
])
def test_bad_configs_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        PatchMatchLFNetConfig(**args)


def test_size_and_coarse_checks():
    model = PatchMatchLFNet(PatchMatchLFNetConfig(factor=2, width=4))
    assert model.multiple == 8 and model.coarse_input == "patchmatch+smooth+telea"
    image, mask, coarse = _inputs(h=40, w=48)
    assert model.inpaint(image, mask, coarse=coarse).shape == image.shape
    with pytest.raises(ValueError, match="not divisible by 8"):
        model.inpaint(image[..., :36, :], mask[..., :36, :], coarse=coarse[..., :36, :])
    with pytest.raises(ValueError, match="coarse"):
        model.inpaint(image, mask, coarse=coarse[:, :6])
