import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from inpaintkit.errors import InpaintError
from inpaintkit.losses.perceptual import (
    EDGECONNECT_CONTENT,
    PCONV_LAYERS,
    VGGFeatures,
    edgeconnect_layers,
    load_vgg,
    load_vgg_or_none,
    perceptual_loss,
    style_loss,
    vgg_layout,
)
from inpaintkit.losses.reconstruction import gram_matrix

TINY = {"vgg16": [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8],
        "vgg19": [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]}


def tiny_state(arch: str, seed: int = 0, classifier: bool = True) -> dict[str, torch.Tensor]:
    """A random state dict with torchvision's VGG key layout and tiny widths."""
    g = torch.Generator().manual_seed(seed)
    state, cin, widths = {}, 3, iter(TINY[arch])
    for name, index in vgg_layout(arch):
        if name.startswith("conv"):
            cout = next(widths)
            state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * 0.3
            state[f"features.{index}.bias"] = torch.randn(cout, generator=g) * 0.1
            cin = cout
    if classifier:
        state["classifier.0.weight"] = torch.randn(5, 7, generator=g)
    return state


@pytest.fixture
def vgg16_file(tmp_path):
    path = tmp_path / "vgg16.safetensors"
    save_file(tiny_state("vgg16"), str(path))
    return path


def test_torchvision_indices():
    # torchvision vgg16: convs at 0,2,5,...,28 and pools at 4, 9, 16, 23, 30; vgg19: 36 layers
    layout16 = dict(vgg_layout("vgg16"))
    assert [layout16[f"pool{i}"] for i in range(1, 6)] == [4, 9, 16, 23, 30]
    assert layout16["conv5_3"] == 28 and layout16["relu5_3"] == 29
    layout19 = dict(vgg_layout("vgg19"))
    assert layout19["conv3_4"] == 16 and layout19["relu5_1"] == 29 and layout19["pool5"] == 36
    assert layout19["relu2_2"] == 8 and layout19["relu4_4"] == 26 and layout19["relu5_2"] == 31


def test_load_shapes_and_normalisation(vgg16_file):
    vgg = load_vgg(vgg16_file, PCONV_LAYERS)
    assert vgg.arch == "vgg16" and not any(p.requires_grad for p in vgg.parameters())
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    feats = vgg(x)
    assert list(feats) == list(PCONV_LAYERS)
    assert [tuple(f.shape) for f in feats.values()] == [(2, 4, 16, 24), (2, 6, 8, 12), (2, 8, 4, 6)]
    # built only up to pool3 (index 16)
    assert len(vgg.features) == 17
    # pool1 by hand: ImageNet normalisation of (x+1)/2, two conv+relu, 2x2 max pool
    s = tiny_state("vgg16")
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h = ((x + 1) / 2 - mean) / std
    h = F.relu(F.conv2d(h, s["features.0.weight"], s["features.0.bias"], padding=1))
    h = F.relu(F.conv2d(h, s["features.2.weight"], s["features.2.bias"], padding=1))
    torch.testing.assert_close(feats["pool1"], F.max_pool2d(h, 2))


def test_pth_vgg19_and_arch_callable(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save(tiny_state("vgg19", seed=1), path)
    vgg = load_vgg(path, lambda arch: EDGECONNECT_CONTENT + edgeconnect_layers(arch))
    assert vgg.arch == "vgg19"
    feats = vgg(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert set(feats) == set(EDGECONNECT_CONTENT) | {"relu2_2", "relu3_4", "relu4_4", "relu5_2"}
    assert feats["relu5_1"].shape == (1, 8, 2, 2) and feats["relu1_1"].shape == (1, 4, 32, 32)


def test_loading_consumes_no_random_numbers(vgg16_file):
    before = torch.get_rng_state()
    load_vgg(vgg16_file, PCONV_LAYERS)
    assert torch.equal(before, torch.get_rng_state())


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(0.05, 1.0))
def test_losses_zero_on_equal_positive_otherwise(seed, scale):
    g = torch.Generator().manual_seed(seed)
    vgg = VGGFeatures("vgg16", PCONV_LAYERS, widths=TINY["vgg16"])
    x = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    y = (x + scale * torch.randn(2, 3, 16, 16, generator=g)).clamp(-1, 1)
    fx, fy = vgg(x), vgg(y)
    assert perceptual_loss(fx, fx).item() == 0 and style_loss(fx, fx).item() == 0
    assert perceptual_loss(fx, fy).item() > 0 and style_loss(fx, fy).item() > 0
    # lists work as dicts do
    assert perceptual_loss(list(fx.values()), list(fy.values())) == perceptual_loss(fx, fy)


def test_style_is_l1_between_gram_matrices():
    a = [torch.randn(2, 4, 5, 6), torch.randn(2, 3, 2, 2)]
    b = [torch.randn(2, 4, 5, 6), torch.randn(2, 3, 2, 2)]
    expected = sum((gram_matrix(p) - gram_matrix(q)).abs().mean() for p, q in zip(a, b, strict=True))
    torch.testing.assert_close(style_loss(a, b), expected)
    expected = sum((p - q).abs().mean() for p, q in zip(a, b, strict=True))
    torch.testing.assert_close(perceptual_loss(a, b), expected)


def test_gradient_reaches_input_not_weights(vgg16_file):
    vgg = load_vgg(vgg16_file, PCONV_LAYERS)
    x = (torch.rand(1, 3, 16, 16) * 2 - 1).requires_grad_()
    target = vgg(torch.zeros(1, 3, 16, 16))
    (perceptual_loss(vgg(x), target) + style_loss(vgg(x), target)).backward()
    assert x.grad.abs().sum() > 0
    assert all(p.grad is None for p in vgg.parameters())


def test_bad_files(tmp_path):
    with pytest.raises(InpaintError, match="not found"):
        load_vgg(tmp_path / "missing.safetensors", PCONV_LAYERS)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a weights file")
    with pytest.raises(InpaintError, match="junk.safetensors"):
        load_vgg(junk, PCONV_LAYERS)
    other = tmp_path / "other.safetensors"
    save_file({"encoder.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(InpaintError, match="not a VGG"):
        load_vgg(other, PCONV_LAYERS)
    # right names, wrong shapes (5x5 kernels)
    state = tiny_state("vgg16")
    state["features.2.weight"] = torch.zeros(4, 4, 5, 5)
    wrong = tmp_path / "wrong.safetensors"
    save_file(state, str(wrong))
    with pytest.raises(InpaintError, match=r"features\.2\.weight"):
        load_vgg(wrong, PCONV_LAYERS)
    # truncated file: pool3 needs conv3_3 (index 14)
    state = {k: v for k, v in tiny_state("vgg16").items() if not k.startswith("features.14.")}
    short = tmp_path / "short.safetensors"
    save_file(state, str(short))
    with pytest.raises(InpaintError, match=r"features\.14"):
        load_vgg(short, PCONV_LAYERS)
    load_vgg(short, ("pool2",))  # ... but pool2 does not
    with pytest.raises(InpaintError, match="relu3_4"):
        load_vgg(short, ("relu3_4",))  # a VGG16 file has no relu3_4


def test_no_file_disables_with_warning():
    with pytest.warns(UserWarning, match="perceptual and style loss terms are disabled"):
        assert load_vgg_or_none(None, PCONV_LAYERS, "pconv") is None
