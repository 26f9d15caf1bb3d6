"""The ``pic_net`` format (lyndonzheng/Pluralistic-Inpainting): the official key/shape table,
round trips through the official file layout, independent references for each
compatibility setting, and bad input. No official code is needed (the table is data)."""

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.errors import InpaintError, NotFound, Unsupported
from inpaintkit.layers.pic_blocks import OfficialSpectralNorm, ResBlock, maybe_spectral_norm, power_iterations
from inpaintkit.layers.short_long_attention import ShortLongAttention
from inpaintkit.models import create_discriminator, create_model
from inpaintkit.official import FORMATS, pic

TABLE = json.loads((Path(__file__).parents[1] / "data" / "official" / "pic_net.json").read_text())
FMT = FORMATS["pic_net"]


def _table(*nets: str) -> dict[str, tuple[int, ...]]:
    return {f"{net}.{k}": tuple(v) for net in nets for k, v in TABLE[net].items()}


@pytest.fixture(scope="module")
def official_model() -> nn.Module:
    torch.manual_seed(0)
    model = create_model("pic_net", **pic.COMPAT)
    _liven(model)
    return model.eval()


def _liven(model: nn.Module, seed: int = 1) -> None:
    """Weights with a spread of singular values, random (u, v), live attention."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith(("weight_u", "weight_v")):
                r = torch.randn(t.shape, generator=g)
                t.copy_(r / r.norm())
            elif name.endswith(("weight_bar", "bias", "query.weight")):
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)
            elif name.endswith(("gamma", "alpha")):
                t.fill_(0.8)


def _batch(size: int = 64, b: int = 1):
    g = torch.Generator().manual_seed(3)
    image = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(b, 1, size, size)
    mask[..., size // 4: size // 2 + 5, size // 8: 3 * size // 4] = 1
    return image, mask


def _save(state: dict, folder: Path, prefix: str = "latest", wrap: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for net in ("E", "G", "D"):
        part = {wrap + k[2:]: v for k, v in state.items() if k.startswith(net + ".")}
        if part:
            torch.save(part, folder / f"{prefix}_net_{net}.pth")


# --- the official table -------------------------------------------------------------------

def test_export_has_exactly_the_official_keys_and_shapes(official_model):
    got = {k: tuple(v.shape) for k, v in pic.export(official_model).items()}
    assert got == _table("E", "G")
    d = create_discriminator("pic_patchgan", **pic.DISCRIMINATOR_COMPAT)
    assert {k: tuple(v.shape) for k, v in pic.export_discriminator(d).items()} == _table("D")


def test_convert_of_a_table_shaped_state_loads_strictly():
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(shape, generator=g) for k, shape in _table("E", "G", "D").items()}
    overrides, ours, disc = FMT.convert(state)
    assert overrides == pic.COMPAT | {"output_scale": 4}
    model = create_model("pic_net", **overrides)
    model.load_state_dict(ours, strict=True)
    # The forward uses model.<i> / shortcut.<i>; their duplicates (conv1, ...) load first in
    # the official load order, so model.<i> is what the official network ends up with.
    assert torch.equal(model.encoder.blocks[1].body[1].module.weight_bar, state["E.encoder0.model.1.module.weight_bar"])
    assert not torch.equal(model.encoder.blocks[1].body[1].module.weight_bar,
                           state["E.encoder0.conv1.module.weight_bar"])
    assert torch.equal(model.generator.attention.query.weight, state["G.attn1.query_conv.weight"])
    name, d_over, d_state = disc
    d = create_discriminator(name, **d_over)
    d.load_state_dict(d_state, strict=True)
    assert torch.equal(d.score.module.weight_bar, state["D.conv.module.weight_bar"])


# --- round trip through the official file layout ------------------------------------------

@pytest.mark.parametrize("wrap", ["", "module."])  # plain, or saved from a DataParallel run
def test_round_trip_through_official_files(tmp_path, official_model, wrap):
    torch.manual_seed(5)
    d = create_discriminator("pic_patchgan", **pic.DISCRIMINATOR_COMPAT)
    _liven(d, seed=2)
    d.eval()
    _save(pic.export(official_model) | pic.export_discriminator(d), tmp_path / "run", wrap=wrap)
    (tmp_path / "run" / "latest_net_D_rec.pth").write_bytes(b"not read")
    for src in (tmp_path / "run", tmp_path / "run" / "latest_net_G.pth"):
        overrides, state, disc = FMT.convert(FMT.read(src))
        model = create_model("pic_net", **overrides)
        model.load_state_dict(state, strict=True)
        image, mask = _batch()
        want = official_model.sample(image, mask, 2, torch.Generator().manual_seed(9))
        got = model.sample(image, mask, 2, torch.Generator().manual_seed(9))
        assert torch.equal(got, want)
        d2 = create_discriminator(disc[0], **disc[1])
        d2.load_state_dict(disc[2], strict=True)
        d2.eval()
        x = torch.rand(1, 3, 96, 96) * 2 - 1
        assert torch.equal(d2(x), d(x))


def test_same_seed_same_samples_and_inpaint_is_the_first(official_model):
    image, mask = _batch()
    a = official_model.sample(image, mask, 3, torch.Generator().manual_seed(4))
    b = official_model.sample(image, mask, 3, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)  # eval mode never moves the stored (u, v)
    one = official_model.inpaint(image, mask, torch.Generator().manual_seed(4))
    assert torch.equal(one, a[:, 0])
    assert (a[:, 0] - a[:, 1]).abs().max() > 1e-2  # the samples differ


# --- independent references for the compatibility settings --------------------------------

def _reference_sn_weight(w: torch.Tensor, u: torch.Tensor, v: torch.Tensor, steps: int) -> torch.Tensor:
    """The official SpectralNorm formula: W as (W.shape[0], -1), v then u, sigma = u.Wv."""
    mat = w.reshape(w.shape[0], -1).double()
    u, v = u.double(), v.double()
    for _ in range(steps):
        v = mat.t() @ u
        v = v / (v.norm() + 1e-12)
        u = mat @ v
        u = u / (u.norm() + 1e-12)
    return (w.double() / (u @ mat @ v)).float()


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("steps", [0, 1, 3])
def test_official_spectral_norm_matches_the_formula(transposed, steps):
    torch.manual_seed(0)
    conv = (nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1) if transposed
            else nn.Conv2d(6, 4, 3, padding=1))
    layer = maybe_spectral_norm(conv, "official")
    assert isinstance(layer, OfficialSpectralNorm)
    m = layer.module
    with torch.no_grad():
        m.weight_bar.normal_()
    u0, v0 = m.weight_u.clone(), m.weight_v.clone()
    assert v0.numel() == m.weight_bar[0].numel()  # dim 0 even for the transposed conv (C_in rows)
    x = torch.randn(2, 6, 8, 8)
    want_w = _reference_sn_weight(m.weight_bar.detach(), u0, v0, steps)
    op = F.conv_transpose2d if transposed else F.conv2d
    extra = {"stride": 2, "padding": 1, "output_padding": 1} if transposed else {"padding": 1}
    want = op(x, want_w, m.bias.detach(), **extra)
    layer.eval()
    with power_iterations(layer, steps):
        got = layer(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * want.abs().max().item())
    assert torch.equal(m.weight_u, u0) and torch.equal(m.weight_v, v0)  # eval: stored vectors kept
    layer.train()
    layer(x)  # training keeps the step, as the official wrapper does on every forward
    stepped = _reference_sn_weight(m.weight_bar.detach(), u0, v0, 2)
    layer.eval()
    with power_iterations(layer, 1):
        torch.testing.assert_close(layer.normalized_weight().detach(), stepped, rtol=1e-5, atol=1e-7)


def test_official_sampling_matches_the_official_test_loop(official_model):
    """Reference: the official loop itself, built from torch calls. The spectral-norm layers
    persist one step per forward (train mode on them only, as the official wrapper does in
    eval mode), Normal(mu, sigma).sample() on the global RNG, one generator call per sample."""
    ref = copy.deepcopy(official_model).eval()
    for layer in ref.modules():
        if isinstance(layer, OfficialSpectralNorm):
            layer.train()
    image, mask = _batch(b=2)
    hole = (mask > 0.5).float()
    img_m = (1 - hole) * image
    with torch.no_grad():
        feats = ref.encoder.features(img_m)
        prior = ref.encoder.prior(feats[-1])
        torch.manual_seed(11)
        outs = []
        for _ in range(3):
            z = torch.distributions.Normal(prior.mu, prior.sigma).sample()
            images, _ = ref.generator(z, feats[-1], feats[2], hole)
            outs.append(images[-1])
    want = torch.stack(outs, dim=1)
    got = official_model.sample(image, mask, 3, torch.Generator().manual_seed(11))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
    assert (want[:, 1] - want[:, 2]).abs().max() > 1e-2


def test_known_mask_convention_matches_the_official_formula():
    torch.manual_seed(0)
    layer = ShortLongAttention(8, known_mask=True, spectral_norm="official").eval()
    with torch.no_grad():
        layer.gamma.fill_(0.5)
        layer.alpha.fill_(0.7)
        layer.query.weight.normal_()
    x, e = torch.randn(2, 8, 6, 6), torch.randn(2, 8, 6, 6)
    hole = (torch.rand(2, 1, 24, 24) > 0.6).float()
    known = F.interpolate(1 - hole, size=(6, 6), mode="bilinear", align_corners=True)
    q = layer.query(x).flatten(2)
    attn = torch.softmax(q.transpose(1, 2) @ q, dim=-1)
    short = (x.flatten(2) @ attn.transpose(1, 2)).view_as(x)
    flow = (e.flatten(2) @ attn.transpose(1, 2)).view_as(e)
    context = 0.7 * (1 - known) * flow + known * e
    want = layer.merge(torch.cat([0.5 * short + x, context], dim=1))
    got, _ = layer(x, e, hole)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_known_mask_input_is_the_official_product(official_model):
    image, mask = _batch()
    visible, missing = official_model._inputs(image, mask)
    want = (1 - mask) * image  # -0.0 where a hole pixel is negative, as the official I_m
    assert torch.equal(visible.view(torch.int32), want.contiguous().view(torch.int32))
    assert torch.equal(missing, mask * image)


def test_pool_each_branch_is_the_official_order():
    torch.manual_seed(0)
    block = ResBlock(4, 6, 4, 0.1, "official", down=True, pool_each=True).eval()
    x = torch.randn(1, 4, 8, 8)
    want = F.avg_pool2d(block.body(x), 2) + F.avg_pool2d(block.shortcut(x), 2)
    assert torch.equal(block(x), want)
    summed = ResBlock(4, 6, 4, 0.1, "official", down=True).eval()
    summed.load_state_dict(block.state_dict())
    torch.testing.assert_close(summed(x), want, rtol=1e-5, atol=1e-6)


def test_defaults_are_unchanged():
    model = create_model("pic_net", tiny=True)
    cfg = model.config
    assert (cfg.spectral_norm_style, cfg.sampling, cfg.mask_convention, cfg.down_pool) == (
        "torch", "joint", "hole", "sum")
    assert not any(isinstance(m, OfficialSpectralNorm) for m in model.modules())
    with pytest.raises(InpaintError, match="spectral_norm_style='official'"):
        pic.export(model)


# --- bad input ------------------------------------------------------------------------------

def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_another_format_is_refused(tmp_path):
    torch.manual_seed(0)
    other = create_model("pic_net", tiny=True).state_dict()  # torch spectral norm: weight_orig names
    _save({f"E.{k}": v for k, v in other.items()} | {f"G.{k}": v for k, v in other.items()}, tmp_path)
    with pytest.raises(InpaintError) as exc:
        FMT.convert(FMT.read(tmp_path))
    msg = _one_line(exc)
    assert "missing" in msg and "unexpected" in msg and "not a PIC-Net file" in msg
    with pytest.raises(InpaintError, match="expected the networks E, G"):
        FMT.convert({"generator.conv.weight": torch.zeros(1)})


def test_other_widths_are_refused(tmp_path):
    torch.manual_seed(0)
    narrow = create_model("pic_net", ngf=16, img_f=64, z_nc=64, **pic.COMPAT)
    with pytest.raises(InpaintError) as exc:
        FMT.convert(pic.export(narrow))
    msg = _one_line(exc)
    assert "another shape" in msg and "E.block0" in msg


def test_bad_files(tmp_path, official_model):
    state = pic.export(official_model)
    _save(state, tmp_path / "ok")
    g = (tmp_path / "ok" / "latest_net_G.pth").read_bytes()
    # truncated
    _save(state, tmp_path / "cut")
    (tmp_path / "cut" / "latest_net_G.pth").write_bytes(g[: len(g) // 2])
    with pytest.raises(Unsupported) as exc:
        FMT.read(tmp_path / "cut")
    assert "latest_net_G.pth" in _one_line(exc)
    # a pickle that needs code to load
    _save(state, tmp_path / "code")
    torch.save({"net": nn.Conv2d(1, 1, 1)}, tmp_path / "code" / "latest_net_E.pth")
    with pytest.raises(Unsupported) as exc:
        FMT.read(tmp_path / "code")
    assert "latest_net_E.pth" in _one_line(exc)
    # not a state dict
    _save(state, tmp_path / "list")
    torch.save([torch.zeros(1)], tmp_path / "list" / "latest_net_E.pth")
    with pytest.raises(Unsupported, match="not a state dict"):
        FMT.read(tmp_path / "list")
    # E missing
    (tmp_path / "noe").mkdir()
    (tmp_path / "noe" / "latest_net_G.pth").write_bytes(g)
    with pytest.raises(NotFound, match="latest_net_E.pth"):
        FMT.read(tmp_path / "noe")
    # a file of another name; an empty folder; several iterations without 'latest'
    with pytest.raises(Unsupported, match="not a PIC-Net network file"):
        FMT.read(_renamed(tmp_path, g))
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotFound):
        FMT.read(tmp_path / "empty")
    _save(state, tmp_path / "iters", prefix="1000")
    _save(state, tmp_path / "iters", prefix="2000")
    with pytest.raises(InpaintError, match="several PIC-Net iterations"):
        FMT.read(tmp_path / "iters")
    assert set(FMT.read(tmp_path / "iters" / "2000_net_E.pth")) == set(state)


def _renamed(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "generator.pth"
    path.write_bytes(data)
    return path


def test_import_of_one_file_records_every_file_read(tmp_path, official_model):
    from inpaintkit.official.importer import import_weights

    _save(pic.export(official_model), tmp_path / "run")
    result = import_weights(tmp_path / "run" / "latest_net_G.pth", "pic_net", tmp_path / "out", dataset="places2")
    names = sorted(f["name"] for f in result.provenance["files"])
    assert names == ["latest_net_E.pth", "latest_net_G.pth"]  # E is read beside the G file named
    assert result.provenance["sha256"] is None  # several files: each has its own
