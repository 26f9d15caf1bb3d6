"""The ``deepfill_v2_tf`` format (the official DeepFill v2 TensorFlow release): the official
variable table, round trips through a TensorFlow checkpoint, hand-written references of
what the official graph computes (TF's HWIO conv on BGR input, the two-step mask resize),
bad checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inpaintkit.errors import InpaintError, NotFound, Unsupported
from inpaintkit.io.tf_checkpoint import write_tf_checkpoint
from inpaintkit.layers.contextual_attention_official import OfficialContextualAttention
from inpaintkit.models.registry import create_model
from inpaintkit.official import get_format
from inpaintkit.official.deepfill_port import OVERRIDES

FMT = get_format("deepfill_v2_tf")
TABLE: dict[str, list[int]] = json.loads(
    (Path(__file__).parent.parent / "data" / "official" / "deepfill_v2_tf.json").read_text())["tensors"]
IGNORED = {
    "discriminator/sn_patch_gan/conv1/kernel": torch.zeros(5, 5, 4, 64),
    "discriminator/sn_patch_gan/conv1/u": torch.zeros(1, 64),
    "inpaint_net/conv1/kernel/Adam": torch.zeros(5, 5, 5, 48),
    "inpaint_net/conv1/kernel/Adam_1": torch.zeros(5, 5, 5, 48),
    "beta1_power": torch.tensor(0.5), "beta2_power": torch.tensor(0.9), "lr": torch.tensor(1e-4),
    "global_step": torch.tensor(12, dtype=torch.int64),
}


def _tf_state(seed: int = 0, table: dict[str, list[int]] = TABLE) -> dict[str, torch.Tensor]:
    """Random official variables (kernels HWIO), scaled like a trained net (fan-in)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in table.items():
        t = torch.randn(shape, generator=g)
        out[name] = t * (1.5 / np.sqrt(np.prod(shape[:3]))) if len(shape) == 4 else t * 0.1
    return out


def _imported(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    overrides, ours, disc = FMT.convert(state)
    assert disc is None
    model = create_model(FMT.model, **overrides).eval()
    model.load_state_dict(ours, strict=True)
    return model


def _pair(size: int = 64, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : size // 2 + 5, size // 5 : 3 * size // 4] = 1
    return image, mask


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


# -- the official variable table ------------------------------------------------------------


def test_convert_of_a_table_shaped_state_loads_strictly_with_the_tf_settings() -> None:
    state = {**_tf_state(), **IGNORED}  # discriminator / optimizer variables are ignored
    overrides, ours, _ = FMT.convert(state)
    assert overrides == {"cnum": 48, "in_extra": 0, **OVERRIDES["port_tf"],
                         "attention_fuse": True, "attention_resize": "tf"}
    model = create_model(FMT.model, **overrides)
    model.load_state_dict(ours, strict=True)
    # every official tensor lands somewhere, its values kept (up to the layout)
    sums = {round(float(t.double().sum()), 4) for t in ours.values()}
    assert all(round(float(state[k].double().sum()), 4) in sums for k in TABLE)


def test_export_matches_the_official_table() -> None:
    model = _imported(_tf_state())
    exported = FMT.export(model)
    assert {k: list(v.shape) for k, v in exported.items()} == TABLE


def test_export_refuses_other_settings() -> None:
    with torch.device("meta"):
        port_tf = create_model("deepfill_v2", **OVERRIDES["port_tf"])  # fuse off, one-step mask
    with pytest.raises(InpaintError, match="attention_fuse") as exc:
        FMT.export(port_tf)
    _one_line(exc)


# -- round trip through a TensorFlow checkpoint ---------------------------------------------


def test_round_trip_through_a_checkpoint_folder(tmp_path: Path) -> None:
    model = _imported(_tf_state(seed=3))
    write_tf_checkpoint(tmp_path / "release" / "snap-1000", {**FMT.export(model), **IGNORED})
    again = _imported(FMT.read(tmp_path / "release"))
    assert again.config == model.config
    image, mask = _pair()
    with torch.no_grad():
        assert torch.equal(again.inpaint(image, mask), model.inpaint(image, mask))


def test_weights_import_command_path(tmp_path: Path) -> None:
    from inpaintkit.models.serialization import load_checkpoint
    from inpaintkit.official.importer import import_weights

    model = _imported(_tf_state(seed=4))
    write_tf_checkpoint(tmp_path / "release" / "snap-7", FMT.export(model))
    result = import_weights(tmp_path / "release", "deepfill_v2_tf", tmp_path / "out")
    loaded, _ = load_checkpoint(result.folder)
    image, mask = _pair(seed=2)
    with torch.no_grad():
        assert torch.equal(loaded.inpaint(image, mask), model.inpaint(image, mask))


# -- independent references of what the official graph computes -----------------------------


def _tf_conv_same(x_nhwc: np.ndarray, kernel_hwio: np.ndarray, stride: int = 1) -> np.ndarray:
    """tf.nn.conv2d(..., padding="SAME") on one image, float64: pad total (k-1) (stride 1),
    the odd zero at the bottom/right; out[y, x, o] = sum_{dy, dx, i} in[...] * K[dy, dx, i, o]."""
    k = kernel_hwio.shape[0]
    h, w = x_nhwc.shape[:2]
    total_h = max((-(-h // stride) - 1) * stride + k - h, 0)
    total_w = max((-(-w // stride) - 1) * stride + k - w, 0)
    padded = np.pad(x_nhwc, ((total_h // 2, total_h - total_h // 2), (total_w // 2, total_w - total_w // 2), (0, 0)))
    oh, ow = -(-h // stride), -(-w // stride)
    out = np.zeros((oh, ow, kernel_hwio.shape[3]))
    for dy in range(k):
        for dx in range(k):
            patch = padded[dy : dy + stride * oh : stride, dx : dx + stride * ow : stride]
            out += patch @ kernel_hwio[dy, dx]
    return out


def test_first_layer_is_the_official_conv_on_the_bgr_image() -> None:
    state = _tf_state(seed=5)
    model = _imported(state)
    image, mask = _pair(size=16)
    rgb_in = torch.cat([image * (1 - mask), torch.ones_like(mask), mask], dim=1)  # ours: RGB
    with torch.no_grad():
        ours = model.coarse_net.body[0](rgb_in)[0].permute(1, 2, 0).double().numpy()
    bgr = torch.cat([rgb_in[:, [2, 1, 0]], rgb_in[:, 3:]], dim=1)[0].permute(1, 2, 0).double().numpy()
    y = _tf_conv_same(bgr, state["inpaint_net/conv1/kernel"].double().numpy()) + state["inpaint_net/conv1/bias"].numpy()
    feat, gate = np.split(y, 2, axis=2)  # gen_conv: tf.split(x, 2, 3), ELU(features) * sigmoid(gates)
    ref = np.where(feat > 0, feat, np.expm1(np.minimum(feat, 0))) / (1 + np.exp(-gate))
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_output_layer_writes_the_official_bgr_channels_as_rgb() -> None:
    state = _tf_state(seed=6)
    model = _imported(state)
    z = torch.randn(1, 24 // 2, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model.refine_net.decoder[-1](z)[0].permute(1, 2, 0).double().numpy()  # RGB
    z_nhwc = z[0].permute(1, 2, 0).double().numpy()
    bgr = _tf_conv_same(z_nhwc, state["inpaint_net/allconv17/kernel"].double().numpy())
    bgr = bgr + state["inpaint_net/allconv17/bias"].numpy()
    np.testing.assert_allclose(ours, bgr[..., ::-1], rtol=1e-5, atol=1e-5 * np.abs(bgr).max())


def test_whole_network_on_rgb_is_the_unswapped_network_on_bgr() -> None:
    from inpaintkit.official.deepfill_port import convert_port_tf_layout
    from inpaintkit.official.deepfill_tf import PAIRS

    state = _tf_state(seed=7)
    model = _imported(state)
    # The TF weights as they are (no channel swap) compute the official graph on BGR.
    port = {PAIRS[k]: (v.permute(3, 2, 0, 1) if v.ndim == 4 else v).contiguous() for k, v in state.items()}
    overrides, plain_state = convert_port_tf_layout(port)
    plain = create_model(FMT.model, **{**overrides, "attention_fuse": True, "attention_resize": "tf"}).eval()
    plain.load_state_dict(plain_state, strict=True)
    image, mask = _pair(size=64)
    with torch.no_grad():
        ours = model.inpaint(image, mask)
        official = plain.inpaint(image.flip(1), mask).flip(1)
        swapped_wrong = plain.inpaint(image, mask)
    torch.testing.assert_close(ours, official, rtol=1e-4, atol=1e-5)
    assert (ours - swapped_wrong).abs().max() > 1e-3  # the swap matters


def _tf_nearest(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """tf.image.resize_nearest_neighbor(align_corners=True): row round(i*(H-1)/(h-1))."""
    def rows(n_in: int, n_out: int) -> list[int]:
        return [int(np.floor(i * (n_in - 1) / (n_out - 1) + 0.5)) for i in range(n_out)]
    return x[:, :, rows(x.shape[-2], size[0])][..., rows(x.shape[-1], size[1])]


def test_tf_attention_resizes_the_mask_in_two_steps() -> None:
    torch.manual_seed(2)
    feats = torch.randn(1, 4, 32, 32, dtype=torch.float64)  # the features' grid (H/4)
    mask = torch.zeros(1, 1, 128, 128, dtype=torch.float64)
    mask[..., 17:75, 17:97] = 1  # row / column 17: picked by one step (j=2), not by two (16)
    tf_layer = OfficialContextualAttention(3, 1, 2, fuse=True, resize="tf")
    one_step = OfficialContextualAttention(3, 1, 2, fuse=True, resize="align_corners")
    # resize_mask_like (to H/4), then the attention's own align-corners resize by its rate
    reference, _ = one_step(feats, feats, _tf_nearest(mask, (32, 32)))
    out, _ = tf_layer(feats, feats, mask)
    torch.testing.assert_close(out, reference, rtol=1e-12, atol=1e-12)
    assert (one_step(feats, feats, mask)[0] - out).abs().max() > 1e-3  # one step differs here


# -- bad checkpoints ------------------------------------------------------------------------


def test_missing_data_shard_and_truncated_index(tmp_path: Path) -> None:
    prefix = write_tf_checkpoint(tmp_path / "r" / "snap-1", _tf_state())
    shard = Path(f"{prefix}.data-00000-of-00001")
    shard.rename(tmp_path / "aside")
    with pytest.raises(NotFound) as exc:
        FMT.read(tmp_path / "r")
    assert "snap-1.data-00000-of-00001" in _one_line(exc)
    (tmp_path / "aside").rename(shard)
    index = Path(f"{prefix}.index")
    index.write_bytes(index.read_bytes()[:-30])
    with pytest.raises(Unsupported) as exc:
        FMT.read(prefix)
    assert "snap-1.index" in _one_line(exc)


def test_a_port_file_or_another_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "states_tf_places2.pth"
    torch.save({"G": {"conv1.conv.weight": torch.zeros(48, 5, 5, 5)}}, path)
    with pytest.raises(Unsupported, match="not a TensorFlow checkpoint"):
        FMT.read(path)
    with pytest.raises(InpaintError, match="deepfill_v2_port"):
        FMT.convert({"G.conv1.conv.weight": torch.zeros(48, 5, 5, 5)})
    other = {"generator/conv1/kernel": torch.zeros(3, 3, 4, 64), **IGNORED}
    with pytest.raises(InpaintError, match="no 'inpaint_net/' variables") as exc:
        FMT.convert(other)
    assert "generator/conv1/kernel" in _one_line(exc)


def test_missing_and_unexpected_variables_are_counted_and_named() -> None:
    state = _tf_state()
    del state["inpaint_net/pmconv6/bias"]
    state["inpaint_net/pmconv7/kernel"] = torch.zeros(3, 3, 96, 192)
    state["static_view/x"] = torch.zeros(1)
    with pytest.raises(InpaintError) as exc:
        FMT.convert(state)
    message = _one_line(exc)
    assert "1 missing (inpaint_net/pmconv6/bias)" in message
    assert "2 unexpected" in message and "inpaint_net/pmconv7/kernel" in message


def _resized(cnum: int, in_ch: int = 5, gated: bool = True) -> dict[str, list[int]]:
    """The table of a variant: another width, extra input channels, or no gates (v1)."""
    out = {}
    for name, shape in TABLE.items():  # 3 / 5: kernel sizes, RGB channels; the rest scale
        out[name] = [s if s in (3, 5) else s * cnum // 48 for s in shape]
    out["inpaint_net/conv1/kernel"] = [5, 5, in_ch, cnum]
    if not gated:
        out["inpaint_net/conv2_downsample/kernel"] = [3, 3, cnum, 2 * cnum]
    return out


@pytest.mark.parametrize(("variant", "hint"), [
    (_resized(32), "another width"), (_resized(48, in_ch=6), "guided"), (_resized(32, gated=False), "DeepFill v1"),
])
def test_other_variants_are_refused_with_a_hint(variant: dict[str, list[int]], hint: str) -> None:
    with pytest.raises(InpaintError, match=hint) as exc:
        FMT.convert(_tf_state(table=variant))
    assert "needs" in _one_line(exc)


def test_non_float_generator_variable_is_refused() -> None:
    state = _tf_state()
    state["inpaint_net/conv1/bias"] = torch.zeros(48, dtype=torch.int32)
    with pytest.raises(InpaintError, match="int32"):
        FMT.convert(state)

