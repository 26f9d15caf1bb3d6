"""Format ``rn`` (geekyutao/RN): the official key table, round trips through the official
file layout, hand-written references of the official arithmetic (RN through a BatchNorm
on a mean-filled tensor, RN-B's summed betas, the [0, 1] white-hole input, the whole
G_Net forward), bad files."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import inpaintkit.official.rn as rn
from inpaintkit.conventions import image_to_tensor
from inpaintkit.errors import InpaintError
from inpaintkit.layers.region_norm import RegionNormB, RegionNormL, region_normalize
from inpaintkit.models import create_discriminator, create_model
from inpaintkit.models.rn_inpaint import RNInpaintConfig, _unit_range
from inpaintkit.official import FORMATS

FMT = FORMATS["rn"]
TABLE = json.loads((Path(__file__).parent.parent / "data" / "official" / "rn.json").read_text())["tensors"]


@functools.cache
def _model(seed: int = 0, split: bool = True) -> torch.nn.Module:
    """The imported configuration with non-trivial weights: RN-B affine away from the
    identity and (``split``) RN-L detectors strong enough to make two regions. Cached:
    the tests only read it."""
    torch.manual_seed(seed)
    model = create_model("rn_inpaint", **rn.CONFIG).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("enc_norm"):
                p.add_(torch.randn_like(p) * 0.2)
            if split and name.endswith("detector.weight"):
                p.normal_(0.0, 0.3)
    return model


def _pair(size: int = 32, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : size // 2 + 3, size // 5 : 3 * size // 4] = 1
    return image, mask


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


def _official_file(tmp_path: Path, model: torch.nn.Module, released: bool = False, disc=None) -> Path:
    """``InpaintingModel.state_dict()`` as main.py saves it; ``released``: the layout of the
    published file (DataParallel ``module.`` segment, ``features`` alias of D's conv1)."""
    disc = disc or create_discriminator("edge_patchgan", **rn.DISCRIMINATOR_CONFIG)
    state = {**FMT.export(model), **rn.export_discriminator(disc)}
    state["adversarial_loss.real_label"] = torch.tensor(1.0)
    state["adversarial_loss.fake_label"] = torch.tensor(0.0)
    if released:
        state = {k.replace("generator.", "generator.module.", 1): v for k, v in state.items()}
        state = {k.replace("discriminator.", "discriminator.module.", 1): v for k, v in state.items()}
        for k in [k for k in state if ".conv1.0." in k and k.startswith("discriminator")]:
            state[k.replace(".conv1.", ".features.")] = state[k]
    path = tmp_path / "rn.pth"
    torch.save(state, path)
    return path


# --- the key table -----------------------------------------------------------------


def test_export_gives_exactly_the_official_generator_table():
    exported = {k: list(v.shape) for k, v in FMT.export(_model()).items()}
    assert exported == {k: v for k, v in TABLE.items() if k.startswith("generator.")}
    disc = create_discriminator("edge_patchgan", **rn.DISCRIMINATOR_CONFIG)
    d = {k: list(v.shape) for k, v in rn.export_discriminator(disc).items()}
    assert d == {k: v for k, v in TABLE.items() if k.startswith("discriminator.")}


def test_convert_of_a_table_shaped_state_loads_strictly():
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v, generator=g) for k, v in TABLE.items()}
    overrides, ours, disc = FMT.convert(state)
    assert FMT.model == "rn_inpaint" and overrides == rn.CONFIG
    with torch.device("meta"):  # shapes and names only: no initialisation
        model = create_model("rn_inpaint", **overrides)
    model.load_state_dict(ours, strict=True, assign=True)
    # RN-B: our weight is the official (1 + gamma), the betas are the official betas.
    gamma = state["generator.encoder_in2.foreground_gamma"]
    assert torch.equal(model.enc_norm2.hole_weight.detach(), 1.0 + gamma)
    assert torch.equal(model.enc_norm2.known_bias.detach(), state["generator.encoder_in2.background_beta"])
    assert torch.equal(
        model.middle[3].norm2.detector.weight.detach(), state["generator.middle.3.conv_block.6.sa.conv1.weight"]
    )
    assert torch.equal(model.out.weight.detach(), state["generator.decoder.9.weight"])
    name, d_config, d_state = disc
    d = create_discriminator(name, **d_config)
    d.load_state_dict(d_state, strict=True)
    assert torch.equal(d_state["layers.4.parametrizations.weight.0._v"], state["discriminator.conv5.0.weight_v"])


# --- round trips through the official file --------------------------------------------


@pytest.mark.parametrize("released", [False, True])
def test_round_trip_through_the_official_file_gives_identical_outputs(tmp_path, released):
    model, source_d = _model(), create_discriminator("edge_patchgan", **rn.DISCRIMINATOR_CONFIG).eval()
    overrides, ours, (d_name, d_config, d_state) = FMT.convert(
        FMT.read(_official_file(tmp_path, model, released, source_d))
    )
    loaded = create_model("rn_inpaint", **overrides).eval()
    loaded.load_state_dict(ours, strict=True)
    loaded_d = create_discriminator(d_name, **d_config).eval()
    loaded_d.load_state_dict(d_state, strict=True)
    image, mask = _pair()
    with torch.no_grad():
        assert torch.equal(loaded.inpaint(image, mask), model.inpaint(image, mask))
        assert torch.equal(loaded_d(image), source_d(image))


def test_a_file_without_discriminator_gives_none(tmp_path):
    path = tmp_path / "g.pth"
    torch.save(FMT.export(_model()), path)
    assert FMT.convert(FMT.read(path))[2] is None


# --- independent references of the official arithmetic --------------------------------


def _official_rn(x: torch.Tensor, label: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """RN_binarylabel as the paper's code computes it: each region filled outside with its
    mean, a batch-statistics BatchNorm (no affine), rescaled by sqrt(|R| / N); summed."""
    out = torch.zeros_like(x)
    for m in (label, 1 - label):
        m = m.expand_as(x)
        region = x * m
        count = m.sum((0, 2, 3))
        count = torch.where(count == 0, torch.ones_like(count), count)
        mu = region.sum((0, 2, 3)) / count
        filled = region + (1 - m) * mu[None, :, None, None]
        bn = F.batch_norm(filled, None, None, training=True, eps=eps)
        out = out + bn * torch.sqrt(count / (x.shape[0] * x.shape[2] * x.shape[3]))[None, :, None, None]
    return out


def _features(b: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, 4, 10, 12, generator=g)
    label = (torch.rand(b, 1, 10, 12, generator=g) > 0.85).float()
    # A nearly constant small region: there eps * N / |R| is far from eps.
    x = torch.where(label > 0, 3.0 + 1e-3 * x, x)
    return x, label


def _scaled_eps_formula(x: torch.Tensor, label: torch.Tensor, mode: str, eps: float = 1e-5) -> torch.Tensor:
    """The algebra behind the official arithmetic, pixel sets by hand: in each region R of
    each sample (instance) or of the batch (batch), (x - mean_R) / sqrt(var_R + eps N / |R|)."""
    out = torch.zeros_like(x)
    groups = [[i] for i in range(x.shape[0])] if mode == "instance" else [list(range(x.shape[0]))]
    for idx in groups:
        n = len(idx) * x.shape[2] * x.shape[3]
        for sel in (label[idx, 0] > 0.5, label[idx, 0] <= 0.5):
            if not sel.any():
                continue
            for ch in range(x.shape[1]):
                block = out[idx, ch]
                vals = x[idx, ch][sel]
                block[sel] = (vals - vals.mean()) / torch.sqrt(vals.var(unbiased=False) + eps * n / sel.sum())
                out[idx, ch] = block
    return out


@pytest.mark.parametrize("mode", ["batch", "instance"])
@pytest.mark.parametrize("b", [1, 3])
def test_official_stats_are_the_scaled_eps_formula(b, mode):
    x, label = _features(b, seed=b)
    if b > 1:
        label[0] = 0  # an empty region in one sample
    ref = _scaled_eps_formula(x, label, mode)
    ours = region_normalize(x, label, mode, stats="official")
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, ref, atol=1e-4 * ref.abs().max().item(), rtol=1e-4)
    if mode == "batch":  # and the paper's code, transcribed
        torch.testing.assert_close(ours, _official_rn(x, label), atol=1e-4 * ref.abs().max().item(), rtol=1e-4)
    # The setting matters on these features: the plain eps is another function ...
    assert (region_normalize(x, label, mode) - ref).abs().max() > 0.1
    # ... and the same one when eps does not matter.
    torch.testing.assert_close(
        region_normalize(x, label, mode, eps=1e-12, stats="official"),
        region_normalize(x, label, mode, eps=1e-12),
        atol=1e-3 * ref.abs().max().item(),
        rtol=1e-3,
    )


def test_rn_b_summed_betas_are_the_official_affine():
    x, mask = _features(2, seed=5)
    layer = RegionNormB(4, mode="batch", stats="official", bias_mode="sum")
    g = torch.Generator().manual_seed(6)
    fg_gamma, fg_beta, bg_gamma, bg_beta = (torch.randn(4, generator=g) * 0.5 for _ in range(4))
    with torch.no_grad():
        layer.hole_weight.copy_(1 + fg_gamma)
        layer.hole_bias.copy_(fg_beta)
        layer.known_weight.copy_(1 + bg_gamma)
        layer.known_bias.copy_(bg_beta)
    rn_x = _official_rn(x, mask)
    v = (1, -1, 1, 1)
    ref = (
        (rn_x * mask) * (1 + fg_gamma.view(v))
        + fg_beta.view(v)
        + (rn_x * (1 - mask)) * (1 + bg_gamma.view(v))
        + bg_beta.view(v)
    )
    torch.testing.assert_close(layer(x, mask), ref, atol=1e-4 * ref.abs().max().item(), rtol=1e-4)
    default = RegionNormB(4, mode="batch", stats="official")
    default.load_state_dict(layer.state_dict())
    assert (default(x, mask) - ref).abs().max() > 0.1  # each region's own beta: not the official


def test_rn_l_with_official_stats_is_the_official_rn_l():
    x, _ = _features(2, seed=7)
    layer = RegionNormL(4, threshold=0.6, mode="batch", stats="official")
    with torch.no_grad():
        layer.detector.weight.normal_(0.0, 0.4)
    s = torch.sigmoid(
        F.conv2d(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1), layer.detector.weight, padding=3)
    )
    region = (s >= 0.6).float()
    assert 0 < region.mean() < 1
    ref = _official_rn(x, region) * (1 + layer.gamma_conv(s)) + layer.beta_conv(s)
    torch.testing.assert_close(layer(x), ref, atol=1e-4 * ref.abs().max().item(), rtol=1e-4)


def _official_g_net(state: dict[str, torch.Tensor], gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The official G_Net forward from its file's tensors, functional (inputs in [0, 1])."""
    p = {k.removeprefix("generator."): v for k, v in state.items()}

    def conv(x, name, **kw):
        return F.conv2d(x, p[f"{name}.weight"], p[f"{name}.bias"], **kw)

    def rn_b(x, k):
        m = F.interpolate(mask, size=x.shape[2:], mode="nearest")
        r = _official_rn(x, m)
        v = (1, -1, 1, 1)
        pre = f"encoder_in{k}"
        return (
            (r * m) * (1 + p[f"{pre}.foreground_gamma"].view(v))
            + p[f"{pre}.foreground_beta"].view(v)
            + (r * (1 - m)) * (1 + p[f"{pre}.background_gamma"].view(v))
            + p[f"{pre}.background_beta"].view(v)
        )

    def rn_l(x, name):
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
        s = torch.sigmoid(F.conv2d(pooled, p[f"{name}.sa.conv1.weight"], padding=3))
        regions.append((s >= 0.8).float().mean().item())
        r = _official_rn(x, (s >= 0.8).float())
        return r * (1 + conv(s, f"{name}.sa.gamma_conv", padding=3)) + conv(s, f"{name}.sa.beta_conv", padding=3)

    regions: list[float] = []
    x = gt * (1 - mask) + mask
    x = F.relu(rn_b(conv(F.pad(x, (3,) * 4, mode="reflect"), "encoder_conv1"), 1))
    x = F.relu(rn_b(conv(x, "encoder_conv2", stride=2, padding=1), 2))
    x = F.relu(rn_b(conv(x, "encoder_conv3", stride=2, padding=1), 3))
    for i in range(8):
        h = conv(F.pad(x, (2,) * 4, mode="reflect"), f"middle.{i}.conv_block.1", dilation=2)
        h = F.relu(rn_l(h, f"middle.{i}.conv_block.2"))
        h = rn_l(conv(F.pad(h, (1,) * 4, mode="reflect"), f"middle.{i}.conv_block.5"), f"middle.{i}.conv_block.6")
        x = x + h
    x = F.relu(rn_l(F.pixel_shuffle(conv(x, "decoder.0", padding=1), 2), "decoder.2"))
    x = F.relu(rn_l(F.pixel_shuffle(conv(x, "decoder.4", padding=1), 2), "decoder.6"))
    x = conv(F.pad(x, (3,) * 4, mode="reflect"), "decoder.9")
    assert any(0.05 < r < 0.95 for r in regions), "the reference never split an RN-L map"
    return (torch.tanh(x) + 1) / 2


def test_whole_network_equals_the_official_forward():
    model = _model(seed=3)
    image, mask = _pair(size=32, seed=4)
    with torch.no_grad():
        ref = _official_g_net(FMT.export(model), (image + 1) / 2, mask)
        ours = (model.inpaint(image, mask) + 1) / 2
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


def test_white_input_hides_the_hole_and_ignores_the_memory_layout():
    model = _model(seed=2)
    image, mask = _pair()
    other = torch.where(mask > 0, -image, image).to(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.equal(model.inpaint(image, mask), model.inpaint(other, mask))


def test_white_input_of_8_bit_images_has_the_official_bits():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    official = torch.from_numpy(levels).permute(2, 0, 1).contiguous()[None].float() / 255  # to_tensor
    assert torch.equal(_unit_range(image_to_tensor(levels)), official)
    off_grid = torch.tensor([-0.999, -0.3, 0.12345, 0.77])
    assert torch.equal(_unit_range(off_grid), (off_grid + 1) / 2)


def test_defaults_are_unchanged():
    config = RNInpaintConfig()
    assert (config.input_fill, config.rn_stats, config.rn_bias) == ("zero", "direct", "region")
    for bad in ({"input_fill": "black"}, {"rn_bias": "mean"}, {"rn_stats": "exact"}):
        with pytest.raises(ValueError):
            RNInpaintConfig(**bad)


# --- bad files ---------------------------------------------------------------------------


def test_export_refuses_a_model_of_another_config():
    with pytest.raises(InpaintError) as exc:
        FMT.export(create_model("rn_inpaint", tiny=True))
    assert "channels=8" in _one_line(exc)


def test_another_formats_file_is_named(tmp_path):
    port = {"G": {"stage1.conv1.conv.weight": torch.zeros(48, 5, 5, 5)}, "D": {"x.weight": torch.zeros(1)}}
    torch.save(port, tmp_path / "port.pth")
    with pytest.raises(InpaintError) as exc:
        FMT.convert(FMT.read(tmp_path / "port.pth"))
    assert "DeepFill v2 PyTorch-port" in _one_line(exc)
    ours = create_model("rn_inpaint", tiny=True).state_dict()
    with pytest.raises(InpaintError) as exc:
        FMT.convert(ours)
    assert "inpaintkit rn_inpaint" in _one_line(exc)


def test_a_variant_with_other_widths_is_refused():
    state = FMT.export(_model(split=False))
    state["generator.encoder_conv1.weight"] = torch.zeros(32, 3, 7, 7)
    state["generator.encoder_conv1.bias"] = torch.zeros(32)
    with pytest.raises(InpaintError) as exc:
        FMT.convert(state)
    message = _one_line(exc)
    assert "2 shapes differ" in message and "generator.encoder_conv1.weight (32, 3, 7, 7)" in message


def test_missing_and_unexpected_keys_are_counted():
    state = FMT.export(_model(split=False))
    del state["generator.decoder.9.bias"], state["generator.middle.7.conv_block.5.weight"]
    state["generator.middle.8.conv_block.1.weight"] = torch.zeros(1)
    with pytest.raises(InpaintError) as exc:
        FMT.convert(state)
    message = _one_line(exc)
    assert "2 missing keys" in message and "1 unexpected keys" in message and "generator.decoder.9.bias" in message


def test_an_incomplete_discriminator_is_refused_not_dropped():
    disc = create_discriminator("edge_patchgan", **rn.DISCRIMINATOR_CONFIG)
    state = {**FMT.export(_model(split=False)), **rn.export_discriminator(disc)}
    del state["discriminator.conv3.0.weight_u"]
    with pytest.raises(InpaintError) as exc:
        FMT.convert(state)
    assert "discriminator" in _one_line(exc) and "1 missing" in _one_line(exc)


@pytest.mark.parametrize("what", ["truncated", "tensor"])
def test_unreadable_files_are_named(tmp_path, what):
    path = _official_file(tmp_path, _model(split=False))
    if what == "truncated":
        path.write_bytes(path.read_bytes()[:100_000])
    else:
        torch.save(torch.zeros(3), path)
    with pytest.raises(InpaintError) as exc:
        FMT.read(path)
    assert str(path) in _one_line(exc) and (what == "truncated" or "Tensor" in _one_line(exc))


class _Payload:
    """A class needed to unpickle: a file holding it must be refused, never loaded."""

    loaded = False

    def __setstate__(self, state: dict) -> None:
        _Payload.loaded = True


def test_a_pickle_holding_code_is_refused(tmp_path):
    path = tmp_path / "code.pth"
    torch.save({"generator.x": torch.zeros(1), "obj": _Payload()}, path)
    with pytest.raises(InpaintError) as exc:
        FMT.read(path)
    assert str(path) in _one_line(exc) and not _Payload.loaded
