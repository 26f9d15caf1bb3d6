"""Checkpoints: round trip (fp32, fp16), atomic save, refusal of bad files, load_model."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from inpaintkit.errors import InpaintError
from inpaintkit.inference import weights as W
from inpaintkit.inference.classical import ClassicalInpainter
from inpaintkit.models import MODELS, create_model

NAMES = sorted(MODELS)


def _inputs(size: int = 64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4 : size // 2, size // 4 : 3 * size // 4] = 1
    return image, mask


def _perturbed(name: str) -> torch.nn.Module:
    """A tiny model whose weights differ from a fresh one (zero-initialised layers too)."""
    model = create_model(name, tiny=True).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.01)
    return model


def _run(model, image, mask):
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        return model.inpaint(image, mask, generator=g)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_is_exact(name, tmp_path):
    model = _perturbed(name)
    folder = W.save_model(model, tmp_path / "ckpt", metadata={"steps": 12})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    info = json.loads((folder / "config.json").read_text())
    assert info["format"] == "inpaintkit" and info["version"] == 1
    assert info["model"] == name and info["steps"] == 12 and info["dtype"] == "float32"
    loaded = W.load_model(folder)
    assert type(loaded) is type(model) and not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    image, mask = _inputs(max(64, model.multiple))
    assert torch.equal(_run(loaded, image, mask), _run(model, image, mask))


def test_fp16_round_trip_halves_the_file_and_loads_fp32(tmp_path):
    model = _perturbed("rn_inpaint")
    full = W.save_model(model, tmp_path / "fp32")
    half = W.save_model(model, tmp_path / "fp16", dtype=torch.float16)
    size32 = (full / "model.safetensors").stat().st_size
    size16 = (half / "model.safetensors").stat().st_size
    assert size16 < 0.6 * size32
    assert json.loads((half / "config.json").read_text())["dtype"] == "float16"
    loaded = W.load_model(half / "model.safetensors")  # the file path form
    for key, value in model.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == value.dtype
        if value.is_floating_point():
            assert torch.equal(got, value.half().float()), key


def test_resolve_reports_name_and_metadata(tmp_path):
    W.save_model(_perturbed("rn_inpaint"), tmp_path / "c", metadata={"image_size": 128})
    loaded = W.resolve_model(tmp_path / "c" / "config.json")
    assert loaded.name == "rn_inpaint" and loaded.source == "checkpoint"
    assert loaded.metadata["image_size"] == 128


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    import safetensors.torch as st

    model = _perturbed("rn_inpaint")
    target = W.save_model(model, tmp_path / "ckpt", metadata={"steps": 1})
    before = (target / "model.safetensors").read_bytes()

    def broken(state, path, metadata=None):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(st, "save_file", broken)
    with pytest.raises(InpaintError, match="No space left"):
        W.save_model(model, target, metadata={"steps": 2})
    # The old checkpoint is intact and no temporary folder is left behind.
    assert (target / "model.safetensors").read_bytes() == before
    assert json.loads((target / "config.json").read_text())["steps"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    with pytest.raises(InpaintError):
        W.save_model(model, tmp_path / "new", metadata={"steps": 2})
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_save_replaces_a_checkpoint_but_never_other_folders(tmp_path):
    model = _perturbed("rn_inpaint")
    W.save_model(model, tmp_path / "ckpt", metadata={"steps": 1})
    W.save_model(model, tmp_path / "ckpt", metadata={"steps": 2})
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "me.jpg").write_bytes(b"x")
    with pytest.raises(InpaintError, match="refusing to replace"):
        W.save_model(model, tmp_path / "photos")
    assert (tmp_path / "photos" / "me.jpg").exists()
    with pytest.raises(InpaintError, match="reserved"):
        W.save_model(model, tmp_path / "x", metadata={"model": "other"})


def test_save_refuses_unregistered_modules(tmp_path):
    with pytest.raises(InpaintError, match="not a registered model"):
        W.save_model(torch.nn.Conv2d(3, 3, 1), tmp_path / "c")


@pytest.fixture()
def checkpoint(tmp_path):
    return W.save_model(_perturbed("rn_inpaint"), tmp_path / "ckpt")


def test_refuses_pickle_files(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x80\x04not really")
    with pytest.raises(InpaintError, match="pickle"):
        W.load_model(bad)


def test_missing_config_and_weights(checkpoint):
    (checkpoint / "config.json").unlink()
    with pytest.raises(InpaintError, match="no config.json"):
        W.load_model(checkpoint)
    with pytest.raises(InpaintError, match="no config.json beside"):
        W.load_model(checkpoint / "model.safetensors")


def test_missing_weights(checkpoint):
    (checkpoint / "model.safetensors").unlink()
    with pytest.raises(InpaintError, match="no model.safetensors"):
        W.load_model(checkpoint)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: "{not json", "cannot read"),
        (lambda c: json.dumps({**c, "format": "other"}), "not an inpaintkit checkpoint"),
        (lambda c: json.dumps({**c, "version": 99}), "version 99"),
        (lambda c: json.dumps({**c, "model": "no_such_model"}), "unknown model 'no_such_model'"),
        (lambda c: json.dumps({**c, "config": {"bogus": 1}}), "bad config"),
        # A valid config of another size: the weights no longer fit.
        (lambda c: json.dumps({**c, "config": {**c["config"], "channels": 16}}), "do not match"),
    ],
)
def test_bad_config_is_one_line_error(checkpoint, change, message):
    path = checkpoint / "config.json"
    path.write_text(change(json.loads(path.read_text())))
    with pytest.raises(InpaintError, match=message) as info:
        W.load_model(checkpoint)
    assert "\n" not in str(info.value)


def test_mismatching_state_dict(checkpoint, tmp_path):
    other = W.save_model(_perturbed("pconv_unet"), tmp_path / "other")
    (checkpoint / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(InpaintError, match="missing") as info:
        W.load_model(checkpoint)
    assert "\n" not in str(info.value)


def test_corrupt_weights(checkpoint):
    (checkpoint / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(InpaintError, match="cannot read weights"):
        W.load_model(checkpoint)


def test_names_classical_default_and_unknown(tmp_path, monkeypatch):
    assert isinstance(W.load_model("telea"), ClassicalInpainter)
    assert W.load_model("ns").method == "ns"
    monkeypatch.setattr(W, "DEFAULT_WEIGHTS", tmp_path / "none")
    fallback = W.resolve_model("default")
    assert fallback.name == "telea" and "Telea" in fallback.notes[0]
    with pytest.raises(InpaintError, match="unknown model 'nope'"):
        W.load_model("nope")
    with pytest.raises(InpaintError, match="expected a checkpoint folder"):
        (tmp_path / "x.txt").write_text("hi")
        W.load_model(tmp_path / "x.txt")


def test_default_uses_shipped_weights_when_present(tmp_path, monkeypatch):
    W.save_model(_perturbed("rn_inpaint"), tmp_path / "default")
    monkeypatch.setattr(W, "DEFAULT_WEIGHTS", tmp_path / "default")
    loaded = W.resolve_model("default")
    assert loaded.name == "rn_inpaint" and loaded.source == "default"


def test_registry_name_loads_untrained_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = W.resolve_model("rn_inpaint")
    assert any(issubclass(w.category, W.UntrainedModelWarning) for w in caught)
    assert loaded.source == "registry" and "UNTRAINED" in loaded.notes[0]


def test_registry_name_reverse_lookup():
    for name in NAMES:
        assert W.registry_name(create_model(name, tiny=True)) == name
