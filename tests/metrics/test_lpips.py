"""LPIPS from tiny random-weight files, checked against a direct re-statement of the formula;
and sample diversity."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from inpaintkit.errors import InpaintError
from inpaintkit.metrics import LPIPS, load_lpips, lpips_distance, sample_diversity

TINY = {"alex": (8, 12, 16, 8, 8), "vgg": (4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8)}


def _tiny(net: str, seed: int = 0) -> LPIPS:
    torch.manual_seed(seed)
    model = LPIPS(net, TINY[net])
    with torch.no_grad():
        for k in range(5):  # trained heads are non-negative
            head = getattr(model, f"lin{k}").model[1].weight
            head.copy_(head.abs())
    return model.eval()


def _save_split(model: LPIPS, folder, lpips_package_names: bool = False):
    """Trunk as torchvision (plus a classifier to ignore) or lpips' ``net.sliceK`` names;
    heads as lpips' ``lin<k>.model.1.weight``."""
    state = model.state_dict()
    trunk = {k: v for k, v in state.items() if k.startswith("features.")}
    if lpips_package_names:
        taps = list(model.taps)
        renamed = {}
        for key, value in trunk.items():
            index = int(key.split(".")[1])
            slice_no = 1 + sum(index > t for t in taps)
            renamed[f"net.slice{slice_no}.{index}.{key.split('.')[2]}"] = value
        trunk = renamed
    trunk["classifier.1.weight"] = torch.zeros(3, 3)
    heads = {k: v for k, v in state.items() if k.startswith("lin")}
    trunk_path, heads_path = folder / "trunk.safetensors", folder / "heads.pth"
    save_file({k: v.contiguous() for k, v in trunk.items()}, str(trunk_path))
    torch.save(heads, heads_path)
    return trunk_path, heads_path


def reference_lpips(model: LPIPS, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """LPIPS v0.1 written out from the paper/lpips code with plain functional ops."""
    state = model.state_dict()
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)
    if model.net == "alex":
        plan = [("c", 0, 4, 2), ("t",), ("p", 3), ("c", 3, 1, 2), ("t",), ("p", 3),
                ("c", 6, 1, 1), ("t",), ("c", 8, 1, 1), ("t",), ("c", 10, 1, 1), ("t",)]
    else:
        plan = []
        for block, convs in enumerate(((0, 2), (5, 7), (10, 12, 14), (17, 19, 21),
                                       (24, 26, 28))):
            if block:
                plan.append(("p", 2))
            plan += [("c", i, 1, 1) for i in convs]
            plan.append(("t",))

    def taps(img):
        h, out = (img - shift) / scale, []
        for step in plan:
            if step[0] == "c":
                _, i, stride, pad = step
                h = F.relu(F.conv2d(h, state[f"features.{i}.weight"], state[f"features.{i}.bias"],
                                    stride=stride, padding=pad))
            elif step[0] == "p":
                h = F.max_pool2d(h, step[1], 2)
            else:
                out.append(h / (h.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    total = torch.zeros(x.shape[0])
    for k, (fx, fy) in enumerate(zip(taps(x), taps(y), strict=True)):
        w = state[f"lin{k}.model.1.weight"]
        total += F.conv2d((fx - fy) ** 2, w).mean(dim=(1, 2, 3))
    return total


def _images(seed, n=3, size=64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 4, size // 4, generator=g) * 2 - 1
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


@pytest.mark.parametrize("net", ["alex", "vgg"])
@pytest.mark.parametrize("package_names", [False, True])
def test_load_and_match_reference(net, package_names, tmp_path):
    model = _tiny(net)
    loaded = load_lpips(*_save_split(model, tmp_path, package_names))
    assert loaded.net == net
    x, y = _images(0), _images(1)
    with torch.no_grad():
        ours = loaded(x, y)
        ref = reference_lpips(model, x, y)
    assert ours.shape == (3,)
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-6)
    # chunks of 2+1 vs one batch of 3: float32 convolutions blocked per batch size round
    # differently; 1e-5 relative is ~80 ulps of each distance, far below a wrong layer's effect
    assert torch.allclose(lpips_distance(loaded, x, y, batch_size=2), ours.double(), rtol=1e-5, atol=1e-6)


def test_full_size_layouts_match_published_parameter_counts():
    # torchvision AlexNet / VGG16 feature extractors + the 5 linear heads
    assert sum(p.numel() for p in LPIPS("alex").parameters()) == 2_469_696 + 1152
    assert sum(p.numel() for p in LPIPS("vgg").parameters()) == 14_714_688 + 1472


def test_properties():
    model = _tiny("alex")
    x, y = _images(2), _images(3)
    d = lpips_distance(model, x, y)
    assert (d > 0).all()
    # d(x, x) is zero up to rounding: x's two copies share one batch, and a rounding difference
    # between them only enters squared (~1e-14 of d); a real offset would be a fraction of d
    assert (lpips_distance(model, x, x).abs() <= 1e-9 * d.min()).all()
    assert torch.allclose(d, lpips_distance(model, y, x), atol=1e-6)
    g = torch.Generator().manual_seed(4)
    noise = torch.randn(x.shape, generator=g)
    mild = lpips_distance(model, x, (x + 0.05 * noise).clamp(-1, 1))
    strong = lpips_distance(model, x, (x + 0.5 * noise).clamp(-1, 1))
    assert (mild < strong).all()
    # uint8 input is the same as its [-1,1] form
    u8 = ((x + 1) * 127.5).round().to(torch.uint8)
    assert torch.allclose(lpips_distance(model, u8, y), lpips_distance(model, u8.float() / 127.5 - 1, y),
                          atol=1e-6)


def test_bad_files(tmp_path):
    with pytest.raises(InpaintError, match="not found"):
        load_lpips(tmp_path / "nope.pth")
    model = _tiny("alex")
    trunk, heads = _save_split(model, tmp_path)
    with pytest.raises(InpaintError, match="lin0"):  # heads missing
        load_lpips(trunk)
    odd = tmp_path / "odd.safetensors"
    save_file({"features.0.weight": torch.zeros(4, 3, 5, 5)}, str(odd))
    with pytest.raises(InpaintError, match="unknown LPIPS trunk"):
        load_lpips(odd, heads)


# --- diversity -------------------------------------------------------------------------


def test_diversity_l1_in_the_hole():
    g = torch.Generator().manual_seed(0)
    base = torch.rand(2, 1, 3, 16, 16, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 16, 16)
    mask[:, :, 4:12, 4:12] = 1
    samples = base.repeat(1, 3, 1, 1, 1)
    # identical samples: no diversity
    assert torch.equal(sample_diversity(samples, mask), torch.zeros(2, dtype=torch.float64))
    # vary the hole only: the score is the mean pairwise |difference| there, in % of 255
    varied = samples.clone()
    fill = torch.rand(2, 3, 3, 8, 8, generator=g) * 2 - 1
    varied[..., 4:12, 4:12] = fill
    pix = ((varied + 1) * 127.5).round()
    expected = torch.zeros(2, dtype=torch.float64)
    for i, j in itertools.combinations(range(3), 2):
        expected += (pix[:, i] - pix[:, j]).abs()[..., 4:12, 4:12].mean(dim=(1, 2, 3)).double()
    expected = expected / 3 * 100 / 255
    assert torch.allclose(sample_diversity(varied, mask), expected, atol=1e-9)
    # without a mask the same differences are averaged over the whole image (64 / 256 of it)
    assert torch.allclose(sample_diversity(varied), expected * 64 / 256, atol=1e-9)


def test_diversity_with_lpips_is_mean_pairwise_lpips():
    model = _tiny("alex")
    samples = torch.stack([_images(s, n=2) for s in range(3)], dim=1)  # (2,3,3,64,64)
    pairs = [lpips_distance(model, samples[:, i], samples[:, j])
             for i, j in itertools.combinations(range(3), 2)]
    expected = torch.stack(pairs).mean(0)
    assert torch.allclose(sample_diversity(samples, lpips=model), expected, atol=1e-6)


def test_diversity_needs_two_samples():
    with pytest.raises(ValueError):
        sample_diversity(torch.zeros(1, 1, 3, 8, 8))
    with pytest.raises(ValueError):
        sample_diversity(torch.zeros(1, 2, 3, 8, 8), mask=torch.zeros(1, 1, 4, 4))
