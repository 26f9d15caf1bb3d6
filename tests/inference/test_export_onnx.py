"""ONNX export: round trip through ONNX Runtime vs PyTorch, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.inference import Inpainter, OnnxInpaintModel, export_onnx
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.base import GeneratorProtocol
from inpaintkit.models.classical import coarse_from_tensors

pytest.importorskip("onnxruntime")


def _inputs(size: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., 3 : size // 2, size // 4 : size - 5] = 1
    return image, mask


def _tiny(name: str, **overrides) -> nn.Module:
    model = create_model(name, tiny=True, **overrides).eval()
    with torch.no_grad():  # non-zero everywhere (some last layers start at zero)
        g = torch.Generator().manual_seed(0)
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.02)
    return model


# The vanilla and partial ablations export through exactly the code path of deepfill_v2 (~3 s each).
SLOW = {"deepfill_v2_vanilla", "deepfill_v2_partial"}
CASES = [
    pytest.param(name, {}, id=name, marks=[pytest.mark.slow] if name in SLOW else [])
    for name in sorted(MODELS) if MODELS[name].exportable
]
if "deepfill_v2" in MODELS:
    CASES.append(pytest.param("deepfill_v2", {"coarse": "telea"}, id="deepfill_v2-telea"))
    CASES.append(pytest.param("deepfill_v2", {"coarse": "smooth", "residual": True}, id="deepfill_v2-smooth"))


@pytest.mark.parametrize("name, overrides", CASES)
def test_round_trip_matches_pytorch(name, overrides, tmp_path):
    model = _tiny(name, **overrides)
    size = max(32, 2 * model.multiple)  # pic_net needs 2x2 at its bottleneck
    result = export_onnx(model, tmp_path / "m.onnx", size=size)
    assert result.path.is_file() and result.model == name
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left
    runner = OnnxInpaintModel(result.path)
    assert runner.metadata["coarse"] == (model.coarse_input or "")
    image, mask = _inputs(result.size, seed=5)  # not the export example
    got = runner.inpaint(image, mask)
    assert got.shape == image.shape and torch.isfinite(got).all()
    if model.stochastic:
        assert result.max_abs_diff is None
    else:
        # eager (oneDNN) vs ONNX Runtime (MLAS): other kernels, other summation orders. 1e-3
        # on [-1,1] outputs is ~8000 float32 ulps, still far below what a wrongly exported op does.
        assert result.max_abs_diff < 1e-3
        coarse = None if model.coarse_input is None else coarse_from_tensors(image, mask, model.coarse_input)
        with torch.no_grad():
            want = model.inpaint(image, mask, coarse=coarse)
        assert (got - want).abs().max() < 1e-3
    # The Inpainter takes the .onnx path like any model, at any size.
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    hole = np.zeros((37, 53), dtype=bool)
    hole[10:25, 10:40] = True
    inp = Inpainter(result.path, device="cpu")
    assert inp.model_name == f"onnx:{result.path.name}"
    (out,) = inp.inpaint(pixels, hole)
    assert np.array_equal(out[~hole], pixels[~hole])


def test_classical_and_flagged_models_are_refused(tmp_path):
    with pytest.raises(InpaintError, match="not a network"):
        export_onnx("telea", tmp_path / "t.onnx")
    model = _tiny("rn_inpaint")
    model.exportable = False
    with pytest.raises(InpaintError, match="not exportable to ONNX"):
        export_onnx(model, tmp_path / "r.onnx", size=32)
    assert list(tmp_path.iterdir()) == []


def test_untraceable_model_is_a_clear_error(tmp_path):
    class NumpyInside(GeneratorProtocol, nn.Module):
        multiple = 1

        def inpaint(self, image, mask, generator=None):
            return torch.from_numpy(np.tanh(image.numpy()))

    with pytest.raises(InpaintError, match="cannot be exported|differs|cannot run"):
        export_onnx(NumpyInside(), tmp_path / "n.onnx", size=16)
    assert list(tmp_path.iterdir()) == []


def test_loading_a_bad_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(InpaintError, match="cannot load ONNX model"):
        OnnxInpaintModel(bad)
    with pytest.raises(InpaintError, match="does not exist"):
        OnnxInpaintModel(tmp_path / "missing.onnx")


def test_export_leaves_the_callers_model_intact(tmp_path):
    from torch.nn.utils import parametrize

    name = "pic_net" if "pic_net" in MODELS else "rn_inpaint"
    model = _tiny(name)
    parametrised = [m for m in model.modules() if parametrize.is_parametrized(m)]
    image, mask = _inputs(64, seed=1)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        before = model.inpaint(image, mask, generator=g)
    export_onnx(model, tmp_path / "m.onnx", size=64)
    assert all(parametrize.is_parametrized(m) for m in parametrised)
    with torch.no_grad():
        after = model.inpaint(image, mask, generator=torch.Generator().manual_seed(0))
    assert torch.equal(before, after)


def test_sessions_do_not_busy_wait_between_runs(tmp_path):
    # ONNX Runtime's default spinning threads took the 2 cores from the next job (README
    # Benchmarks); inpaintkit's sessions turn it off.
    model = _tiny("pconv_unet")
    result = export_onnx(model, tmp_path / "m.onnx", size=max(32, model.multiple))
    runner = OnnxInpaintModel(result.path, threads=2)
    options = runner.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == 2
