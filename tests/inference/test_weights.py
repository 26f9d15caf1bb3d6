"""Name resolution on top of the checkpoint format: default, registry names (classical
included), checkpoint paths, and the list of models offered to menus."""

from __future__ import annotations

import warnings

import pytest
import torch

from inpaintkit.errors import InpaintError
from inpaintkit.inference import weights as W
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.classical import ClassicalModel
from inpaintkit.models.serialization import save_model


def _tiny(name: str) -> torch.nn.Module:
    return create_model(name, tiny=True).eval()


def test_resolve_reports_name_and_metadata(tmp_path):
    model = _tiny("rn_inpaint")
    save_model(model, tmp_path / "c", metadata={"image_size": 128})
    loaded = W.resolve_model(tmp_path / "c" / "config.json")
    assert loaded.name == "rn_inpaint" and loaded.source == "checkpoint"
    assert loaded.metadata["image_size"] == 128
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key


def test_names_classical_default_and_unknown(tmp_path, monkeypatch):
    for name in ("telea", "ns", "smooth"):
        loaded = W.resolve_model(name)
        assert isinstance(loaded.model, ClassicalModel) and loaded.model.config.method == name
        assert loaded.source == "classical" and not loaded.notes  # no "untrained" warning
    monkeypatch.setattr(W, "DEFAULT_WEIGHTS", tmp_path / "none")
    fallback = W.resolve_model("default")
    assert fallback.name == "patchmatch_lf" and "PatchMatch" in fallback.notes[0]
    assert isinstance(fallback.model, ClassicalModel)
    with pytest.raises(InpaintError, match="unknown model 'nope'"):
        W.load_model("nope")
    with pytest.raises(InpaintError, match="expected a checkpoint folder"):
        (tmp_path / "x.txt").write_text("hi")
        W.load_model(tmp_path / "x.txt")


def test_default_uses_shipped_weights_when_present(tmp_path, monkeypatch):
    save_model(_tiny("rn_inpaint"), tmp_path / "default")
    monkeypatch.setattr(W, "DEFAULT_WEIGHTS", tmp_path / "default")
    loaded = W.resolve_model("default")
    assert loaded.name == "rn_inpaint" and loaded.source == "default"
    assert W.default_model_name() == "rn_inpaint"


def test_registry_name_loads_shipped_weights():
    # rn_inpaint ships CPU-trained weights (configs/cpu/rn.yaml): a name gives them, not noise
    loaded = W.resolve_model("rn_inpaint")
    assert loaded.source == "shipped" and loaded.metadata["steps"] > 0
    fresh = W.load_model("rn_inpaint", allow_untrained=True)
    shipped = loaded.model.state_dict()
    assert any(not torch.equal(v, fresh.state_dict()[k]) for k, v in shipped.items() if v.is_floating_point())


def test_network_without_weights_is_refused_unless_asked_for(monkeypatch, tmp_path):
    monkeypatch.setattr(W, "WEIGHTS_ROOT", tmp_path)  # a package that ships no network weights
    with pytest.raises(InpaintError, match="no trained weights.*--allow-untrained"):
        W.resolve_model("rn_inpaint")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = W.resolve_model("rn_inpaint", allow_untrained=True)
    assert any(issubclass(w.category, W.UntrainedModelWarning) for w in caught)
    assert loaded.source == "registry" and "UNTRAINED" in loaded.notes[0]
    assert {c.name: c.untrained for c in W.available_models()}["rn_inpaint"]


def test_available_models_lists_default_classical_then_networks(tmp_path, monkeypatch):
    choices = W.available_models()
    names = [c.name for c in choices]
    classical = ["telea", "ns", "smooth", "patchmatch", "patchmatch_lf", "mean"]
    assert names == ["default", *classical, *sorted(n for n in MODELS if n not in classical)]
    kinds = {c.name: c.kind for c in choices}
    assert kinds["smooth"] == "classical" and kinds["pic_net"] == "network"
    by_name = {c.name: c for c in choices}
    assert by_name["pic_net"].pluralistic
    assert by_name["deepfill_v2_vanilla"].untrained and not by_name["deepfill_v2"].untrained
    assert not by_name["telea"].untrained and not by_name["telea"].pluralistic
    monkeypatch.setattr(W, "DEFAULT_WEIGHTS", tmp_path / "none")
    assert W.default_model_name() is None
    assert "PatchMatch" in W.available_models()[0].description
