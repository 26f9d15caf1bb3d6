"""Stylization losses against hand-computed references; the two loss networks."""

import pytest
import torch

from inpaintkit.losses.style_transfer import (
    STYLE_LAYERS,
    RandomFeatures,
    content_loss,
    gram_style_loss,
    loss_network,
    style_grams,
    total_variation,
)


def test_gram_style_loss_by_hand():
    # one tap, C=2, H*W=2: features f = [[1,2],[3,4]] -> f f^T / (C H W) = [[5,11],[11,25]] / 4
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    target = {"t": torch.zeros(1, 2, 2)}
    expected = (5**2 + 11**2 + 11**2 + 25**2) / 16
    assert gram_style_loss({"t": f}, target).item() == pytest.approx(expected)
    # batch mean, and a sum over taps
    g = style_grams({"t": f}, ["t"])
    assert gram_style_loss({"t": torch.cat([f, 2 * f])}, g).item() == pytest.approx(
        (0 + sum(x**2 for x in (15 / 4, 33 / 4, 33 / 4, 75 / 4))) / 2)
    two = gram_style_loss({"a": f, "b": f}, {"a": torch.zeros(1, 2, 2), "b": torch.zeros(1, 2, 2)})
    assert two.item() == pytest.approx(2 * expected)


def test_content_and_tv_by_hand():
    a, b = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    assert content_loss(a, b).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    # rows differ by 2, columns by 1
    assert total_variation(a).item() == pytest.approx(4 + 1)


def test_random_features_fixed_across_constructions_and_taps():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    a = RandomFeatures(("relu2_2", *STYLE_LAYERS), seed=3)(x)
    b = RandomFeatures(("relu2_2", *STYLE_LAYERS), seed=3)(x)
    c = RandomFeatures(("relu2_2",), seed=3)(x)  # fewer taps: same weights
    d = RandomFeatures(("relu2_2",), seed=4)(x)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(a["relu2_2"], c["relu2_2"]) and not torch.allclose(c["relu2_2"], d["relu2_2"])
    shapes = {k: tuple(v.shape[-2:]) for k, v in a.items()}
    assert shapes == {"relu2_2": (16, 16), "relu1_1": (32, 32), "relu2_1": (16, 16), "relu3_1": (8, 8),
                      "relu4_1": (4, 4), "relu5_1": (2, 2)}
    assert not any(p.requires_grad for p in RandomFeatures().parameters())
    with pytest.raises(ValueError, match="unknown tap"):
        RandomFeatures(("pool3",))


def _tiny_vgg19_file(path, seed=0):
    """A VGG-19 in torchvision layout with 4-channel convs (random weights)."""
    from safetensors.torch import save_file

    from inpaintkit.losses.perceptual import vgg_layout

    g = torch.Generator().manual_seed(seed)
    state, cin = {}, 3
    for name, index in vgg_layout("vgg19"):
        if name.startswith("conv"):
            state[f"features.{index}.weight"] = torch.randn(4, cin, 3, 3, generator=g) * 0.3
            state[f"features.{index}.bias"] = torch.randn(4, generator=g) * 0.1
            cin = 4
    save_file(state, str(path))
    return state


def test_vgg_path_loads_the_file_and_matches_a_hand_run(tmp_path):
    state = _tiny_vgg19_file(tmp_path / "vgg.safetensors")
    net = loss_network(tmp_path / "vgg.safetensors", ("relu2_2", *STYLE_LAYERS))
    assert net.kind == "vgg19" and set(net.layers) == {"relu2_2", *STYLE_LAYERS}
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    feats = net(x)
    # relu1_1 by hand: ImageNet-normalised [0,1] input, conv 0, ReLU
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    ref = torch.relu(torch.nn.functional.conv2d(((x + 1) / 2 - mean) / std, state["features.0.weight"],
                                                state["features.0.bias"], padding=1))
    assert torch.allclose(feats["relu1_1"], ref, atol=1e-5)
    assert feats["relu5_1"].shape == (1, 4, 2, 2)


def test_no_vgg_gives_random_features():
    assert loss_network(None).kind == "random"
