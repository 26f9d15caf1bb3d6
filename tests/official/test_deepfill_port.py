"""The ``deepfill_v2_port`` format (nipponjo/deepfillv2-pytorch) and the compatibility
settings it turns on: key tables of the official code, round trips through the official
file layout, hand-written references of the official arithmetic, bad files."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from inpaintkit.errors import InpaintError
from inpaintkit.layers.contextual_attention_official import OfficialContextualAttention
from inpaintkit.layers.gated_conv import GatedConv2d
from inpaintkit.models.deepfill_v2 import DeepFillV2Config
from inpaintkit.models.registry import create_model
from inpaintkit.official.deepfill_port import (
    FORMATS,
    OVERRIDES,
    convert_port_tf_layout,
    export_port_tf_layout,
)

FMT = FORMATS["deepfill_v2_port"]
DATA = Path(__file__).parent.parent / "data" / "official"
LAYOUTS = ("port", "port_tf")


def _table(layout: str) -> dict[str, list[int]]:
    return json.loads((DATA / f"deepfill_v2_port_{layout}.json").read_text())["tensors"]


def _tiny(layout: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = create_model("deepfill_v2", cnum=16, **OVERRIDES[layout]).eval()
    with torch.no_grad():  # non-trivial biases, so that a swapped bias would show
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.1)
    return model


def _pair(size: int = 64, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : size // 2 + 5, size // 5 : 3 * size // 4] = 1
    return image, mask


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


# -- key tables of the official code -------------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_export_matches_the_official_key_table(layout: str) -> None:
    with torch.device("meta"):
        model = create_model("deepfill_v2", **OVERRIDES[layout])
    exported = FMT.export(model)
    assert {k: list(v.shape) for k, v in exported.items()} == {f"G.{k}": v for k, v in _table(layout).items()}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_convert_of_a_table_shaped_state_loads_strictly(layout: str) -> None:
    torch.manual_seed(0)
    state = {f"G.{k}": torch.randn(v) for k, v in _table(layout).items()}
    state["n_iter"] = torch.tensor(5)  # bookkeeping beside G is ignored
    overrides, ours, disc = FMT.convert(state)
    assert disc is None and overrides["cnum"] == 48 and overrides["in_extra"] == 0
    assert overrides["padding"] == ("tf" if layout == "port_tf" else "torch")
    model = create_model("deepfill_v2", **overrides)
    model.load_state_dict(ours, strict=True)
    # every official tensor lands somewhere, unchanged
    values = {round(float(t.double().sum()), 3) for t in ours.values()}
    assert all(round(float(state[f"G.{k}"].double().sum()), 3) in values for k in _table(layout)
               if not k.endswith("fuse_weight"))


def test_port_tf_functions_for_the_tf_format() -> None:
    model = _tiny("port_tf")
    state = export_port_tf_layout(model)
    assert "conv1.conv.weight" in state and not any(k.startswith("G.") for k in state)
    overrides, ours = convert_port_tf_layout(state)
    assert overrides == {"cnum": 16, "in_extra": 0, **OVERRIDES["port_tf"]}
    assert all(torch.equal(ours[k], v) for k, v in model.state_dict().items())
    port_state = {k[2:]: v for k, v in FMT.export(_tiny("port")).items()}
    with pytest.raises(InpaintError, match="networks.py"):
        convert_port_tf_layout(port_state)


# -- round trip through the official file layout -------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_through_a_port_file(layout: str, tmp_path: Path) -> None:
    model = _tiny(layout)
    flat = FMT.export(model)
    path = tmp_path / "states.pth"
    disc = {"conv1.conv_sn.weight": torch.randn(4, 4, 5, 5), "conv1.conv_sn.weight_u": torch.randn(4, 1)}
    torch.save({"G": {k[2:]: v for k, v in flat.items()}, "D": disc, "n_iter": 7,
                "G_optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}}, path)
    overrides, ours, _ = FMT.convert(FMT.read(path))
    loaded = create_model("deepfill_v2", **overrides).eval()
    loaded.load_state_dict(ours, strict=True)
    assert loaded.config == model.config
    image, mask = _pair()
    with torch.no_grad():
        assert torch.equal(loaded.inpaint(image, mask), model.inpaint(image, mask))


def test_a_bare_generator_state_dict_is_read_too(tmp_path: Path) -> None:
    model = _tiny("port")
    path = tmp_path / "g.pth"
    torch.save({k[2:]: v for k, v in FMT.export(model).items()}, path)
    overrides, ours, _ = FMT.convert(FMT.read(path))
    assert overrides["padding"] == "torch" and set(ours) == set(model.state_dict())


# -- independent references of the compatibility settings ----------------------------------


@pytest.mark.parametrize(("size", "offset"), [(8, 1), (7, 0)])
def test_tf_padding_samples_the_tensorflow_grid(size: int, offset: int) -> None:
    # A centre-tap kernel makes a stride-2 conv a sampler: TensorFlow "SAME" pads (0, 1) on
    # an even size, so output i is centred on input 2i+1; an odd size pads (1, 1): 2i.
    x = torch.randn(2, 3, size, size)
    for padding, start in (("tf", offset), ("torch", 0)):
        conv = GatedConv2d(3, 3, 3, stride=2, activation=None, gate=False, padding=padding)
        with torch.no_grad():
            conv.conv.weight.zero_()
            conv.conv.bias.zero_()
            for c in range(3):
                conv.conv.weight[c, c, 1, 1] = 1.0
        expected = x[:, :, start::2, start::2]
        assert torch.equal(conv(x), expected[:, :, : math.ceil(size / 2), : math.ceil(size / 2)])


def test_tf_padding_is_symmetric_for_stride_one() -> None:
    torch.manual_seed(0)
    a = GatedConv2d(4, 5, 3, dilation=2, padding="tf")
    b = GatedConv2d(4, 5, 3, dilation=2)
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 4, 9, 10)
    torch.testing.assert_close(a(x), b(x), rtol=1e-6, atol=1e-6)


def _down_index(n: int, m: int, resize: str) -> list[int]:
    if resize == "floor":
        return [i * (n // m) for i in range(m)]
    return [math.floor(i * (n - 1) / (m - 1) + 0.5) for i in range(m)]


def _reference_attention(f, b, mask, resize: str, fuse: bool, scale: float = 10.0):
    """The official formula with explicit loops (one sample, rate 2, ksize 3, fuse_k 3)."""
    c, hh, ww = f.shape
    h, w = hh // 2, ww // 2
    rows, cols = _down_index(hh, h, resize), _down_index(ww, w, resize)
    fl, bl = f[:, rows][:, :, cols], b[:, rows][:, :, cols]
    if resize == "tf":  # TensorFlow: to the features' grid first, then by the rate
        mask = mask[_down_index(mask.shape[-2], hh, resize)][:, _down_index(mask.shape[-1], ww, resize)]
    mr, mc = _down_index(mask.shape[-2], h, resize), _down_index(mask.shape[-1], w, resize)
    ml = mask[mr][:, mc]

    def patch(t, y, x):
        out = torch.zeros(t.shape[0], 3, 3, dtype=t.dtype)
        for dy, dx in itertools.product(range(3), range(3)):
            if 0 <= y + dy - 1 < t.shape[-2] and 0 <= x + dx - 1 < t.shape[-1]:
                out[:, dy, dx] = t[..., y + dy - 1, x + dx - 1]
        return out

    grid = [(y, x) for y in range(h) for x in range(w)]
    n = len(grid)
    s = torch.zeros(n, n, dtype=torch.float64)  # [foreground p, background q], row-major
    for qi, (qy, qx) in enumerate(grid):
        bp = patch(bl, qy, qx)
        bp = bp / max(float(bp.norm()), 1e-4)
        for pi, (py, px) in enumerate(grid):
            s[pi, qi] = (patch(fl, py, px) * bp).sum()
    if fuse:
        def diag(t, index):  # eye(3) conv on the flattened grids under the given order
            out = torch.zeros_like(t)
            order = [grid.index(g) for g in sorted(grid, key=index)]
            pos = {k: i for i, k in enumerate(order)}
            for pi, qi in itertools.product(range(n), range(n)):
                for d in (-1, 0, 1):
                    a, bq = pos[pi] + d, pos[qi] + d
                    if 0 <= a < n and 0 <= bq < n:
                        out[pi, qi] += t[order[a], order[bq]]
            return out
        s = diag(diag(s, lambda g: (g[0], g[1])), lambda g: (g[1], g[0]))
    valid = torch.tensor([float(patch(ml[None], y, x).mean() == 0) for y, x in grid], dtype=torch.float64)
    a = torch.softmax(s * valid * scale, dim=1) * valid  # (p, q)
    padded = F.pad(b, (1, 1, 1, 1))
    y = torch.zeros(c, hh + 2, ww + 2, dtype=torch.float64)
    for (pi, (py, px)), (qi, (qy, qx)) in itertools.product(enumerate(grid), enumerate(grid)):
        raw = padded[:, 2 * qy : 2 * qy + 4, 2 * qx : 2 * qx + 4]
        y[:, 2 * py : 2 * py + 4, 2 * px : 2 * px + 4] += a[pi, qi] * raw
    return y[:, 1:-1, 1:-1] / 4


@pytest.mark.parametrize(("resize", "fuse"), [("floor", True), ("align_corners", False), ("align_corners", True),
                                              ("tf", True)])
def test_official_attention_matches_a_loop_reference(resize: str, fuse: bool) -> None:
    torch.manual_seed(3)
    feats = torch.randn(2, 2, 8, 10, dtype=torch.float64)
    mask = torch.zeros(2, 1, 32, 40, dtype=torch.float64)  # full resolution: 4x the features
    mask[0, :, 6:20, 9:30] = 1
    mask[1, :, 0:10, 0:12] = 1
    layer = OfficialContextualAttention(3, 1, 2, fuse=fuse, resize=resize)
    out, flow = layer(feats, feats, mask)
    assert flow.shape == (2, 2, 8, 10)
    for i in range(2):
        ref = _reference_attention(feats[i], feats[i], mask[i, 0], resize, fuse)
        torch.testing.assert_close(out[i], ref, rtol=1e-9, atol=1e-9)
    assert resize == "floor" or _down_index(8, 4, resize) != [0, 2, 4, 6]  # the two differ


def test_official_attention_keeps_invalid_patches_in_the_denominator() -> None:
    # Near-zero features: every score ~0, so the softmax is ~uniform over all 64 patches and
    # the 48 valid ones (the 4x4 block of windows around the 2x2 hole is invalid) get 48/64.
    torch.manual_seed(0)
    feats = torch.randn(1, 4, 16, 16) * 1e-4
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:8, 4:8] = 1
    layer = OfficialContextualAttention(3, 1, 2, fuse=False)
    weights = layer._attention(feats, feats, mask)  # (1, 64, 64)
    torch.testing.assert_close(weights.sum(dim=2), torch.full((1, 64), 0.75), rtol=0, atol=1e-3)
    assert int((weights[0, 0] > 0).sum()) == 48


def test_defaults_are_unchanged() -> None:
    config = DeepFillV2Config()
    assert (config.padding, config.attention, config.attention_fuse, config.attention_resize) == (
        "torch", "cosine", True, "floor")
    with pytest.raises(ValueError, match="attention_resize"):
        DeepFillV2Config(attention_resize="align_corners")
    with pytest.raises(ValueError, match="padding"):
        DeepFillV2Config(padding="reflect")


# -- bad input -----------------------------------------------------------------------------


def test_another_models_state_dict_is_refused() -> None:
    ours = {f"G.{k}": v for k, v in create_model("deepfill_v2", tiny=True).state_dict().items()}
    with pytest.raises(InpaintError) as exc:
        FMT.convert(ours)
    assert "not a DeepFill v2 port generator" in _one_line(exc)
    with pytest.raises(InpaintError) as exc:
        FMT.convert({"inpaint_net/conv1/kernel": torch.zeros(5, 5, 5, 48)})
    assert "deepfill_v2_tf" in _one_line(exc)


def test_a_tensorflow_checkpoint_is_sent_to_the_tf_format(tmp_path: Path) -> None:
    (tmp_path / "snap-0.index").write_bytes(b"\0" * 16)
    for path in (tmp_path, tmp_path / "snap-0.index"):
        with pytest.raises(InpaintError) as exc:
            FMT.read(path)
        assert "deepfill_v2_tf" in _one_line(exc)


def test_missing_and_unexpected_keys_are_named() -> None:
    state = {f"G.{k}": torch.zeros(v) for k, v in _table("port_tf").items()}
    del state["G.xconv3.conv.bias"]
    state["G.extra.weight"] = torch.zeros(1)
    with pytest.raises(InpaintError) as exc:
        FMT.convert(state)
    message = _one_line(exc)
    assert "1 missing (xconv3.conv.bias)" in message and "1 unexpected (extra.weight)" in message


def test_a_variant_with_other_widths_is_refused() -> None:
    state = {f"G.{k}": torch.zeros(v) for k, v in _table("port").items()}
    state["G.stage2.conv_bn6.conv.weight"] = torch.zeros(192, 128, 3, 3)
    with pytest.raises(InpaintError) as exc:
        FMT.convert(state)
    assert "stage2.conv_bn6.conv.weight" in _one_line(exc) and "(192, 192, 3, 3)" in str(exc.value)


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "states.pth"
    torch.save({"G": {k[2:]: v for k, v in FMT.export(_tiny("port")).items()}}, path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(InpaintError) as exc:
        FMT.read(path)
    assert str(path) in _one_line(exc)


class _Config:  # stands for any object whose unpickling needs code
    lr = 1e-4


def test_a_file_holding_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "states.pth"
    torch.save({"G": {k[2:]: v for k, v in FMT.export(_tiny("port")).items()}, "config": _Config()}, path)
    with pytest.raises(InpaintError) as exc:
        FMT.read(path)
    assert "refusing" in _one_line(exc)


def test_export_refuses_a_model_of_another_structure() -> None:
    with pytest.raises(InpaintError) as exc:
        FMT.export(create_model("deepfill_v2", tiny=True))
    assert "refine_sees_mask=False" in _one_line(exc)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("layout", LAYOUTS)
def test_imported_model_exports_to_onnx(layout: str, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = _tiny(layout)

    class Inpaint(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.model.inpaint(image, mask)

    path = tmp_path / "port.onnx"
    axes = {0: "b", 2: "h", 3: "w"}
    torch.onnx.export(Inpaint(), _pair(64), str(path), dynamo=False, opset_version=18,
                      input_names=["image", "mask"], dynamic_axes={"image": axes, "mask": axes})
    image, mask = _pair(80, seed=2)
    (got,) = ort.InferenceSession(str(path)).run(None, {"image": image.numpy(), "mask": mask.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(got), model.inpaint(image, mask), rtol=1e-4, atol=1e-4)
