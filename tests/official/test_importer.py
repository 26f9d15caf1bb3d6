"""The import framework (official/importer.py, io.weights.read_torch_file), with a stand-in
format over a tiny registry model: provenance, all-or-nothing writes, one-line refusals."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from pathlib import Path

import pytest
import torch

from inpaintkit.errors import InpaintError, NotFound, Unsupported
from inpaintkit.inference import load_model
from inpaintkit.io.weights import flatten_tensors, read_torch_file
from inpaintkit.models import create_model
from inpaintkit.official import OfficialFormat
from inpaintkit.official.importer import import_weights

TINY = dataclasses.asdict(create_model("pconv_unet", tiny=True).config)


def _read(path: Path) -> dict[str, torch.Tensor]:
    return flatten_tensors(read_torch_file(path))


def _convert(state):
    g = {k[len("G."):]: v for k, v in state.items() if k.startswith("G.")}
    return TINY, g, None


def _export(model):
    return {f"G.{k}": v for k, v in model.state_dict().items()}


FAKE = OfficialFormat("fake", "pconv_unet", "a stand-in release", _read, _convert, _export)


class NotAllowed:  # unpickling this needs code: weights_only loading refuses it
    pass


@pytest.fixture()
def release(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = create_model("pconv_unet", tiny=True).eval()
    path = tmp_path / "release.pth"
    official = {"G": {k[2:]: v for k, v in _export(model).items()}, "n_iter": 7, "optim": {"lr": 1e-4}}
    torch.save(official, path)
    return path, model


def test_import_writes_a_loadable_folder_with_provenance(tmp_path: Path, release) -> None:
    path, model = release
    out = tmp_path / "imported"
    result = import_weights(path, FAKE, out, dataset="places2")
    assert result.model == "pconv_unet" and result.discriminator is None
    info = json.loads((out / "config.json").read_text())
    prov = info["provenance"]
    assert prov["format"] == "fake" and prov["dataset"] == "places2" and prov["source"] == "release.pth"
    assert prov["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = load_model(out)
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    m = (torch.rand(1, 1, 64, 64) > 0.7).float()
    with torch.no_grad():
        assert torch.equal(loaded.inpaint(x, m), model.inpaint(x, m))


def test_existing_out_is_refused_then_replaced_with_overwrite(tmp_path: Path, release) -> None:
    path, _ = release
    out = tmp_path / "imported"
    import_weights(path, FAKE, out)
    with pytest.raises(InpaintError, match="already exists"):
        import_weights(path, FAKE, out)
    import_weights(path, FAKE, out, overwrite=True)
    assert (out / "model.safetensors").is_file()
    other = tmp_path / "photos"
    other.mkdir()
    (other / "a.jpg").write_bytes(b"x")
    with pytest.raises(InpaintError, match="not an inpaintkit checkpoint"):
        import_weights(path, FAKE, other, overwrite=True)
    assert (other / "a.jpg").read_bytes() == b"x"


def test_mismatched_keys_and_shapes_are_named_and_nothing_is_written(tmp_path: Path, release) -> None:
    path, model = release
    state = {k: v.clone() for k, v in model.state_dict().items()}
    first = next(iter(state))
    state.pop(first)
    state["extra.weight"] = torch.zeros(1)
    torch.save({"G": state}, tmp_path / "bad.pth")
    out = tmp_path / "never"
    with pytest.raises(InpaintError, match=r"1 missing .*1 unexpected \(extra.weight\)"):
        import_weights(tmp_path / "bad.pth", FAKE, out)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left

    wide = create_model("pconv_unet", tiny=True, channels=32)  # a variant with other widths
    torch.save({"G": wide.state_dict()}, tmp_path / "wide.pth")
    with pytest.raises(InpaintError, match="other shapes"):
        import_weights(tmp_path / "wide.pth", FAKE, out)
    assert not out.exists()


def test_non_finite_weights_are_refused(tmp_path: Path, release) -> None:
    _, model = release
    state = {k: v.clone() for k, v in model.state_dict().items()}
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key].view(-1)[0] = float("nan")
    torch.save({"G": state}, tmp_path / "nan.pth")
    with pytest.raises(InpaintError, match="NaN or Inf"):
        import_weights(tmp_path / "nan.pth", FAKE, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_pickles_with_code_truncated_and_missing_files_get_one_line(tmp_path: Path, release) -> None:
    path, _ = release
    evil = tmp_path / "evil.pth"
    torch.save({"G": {"w": torch.zeros(1)}, "obj": NotAllowed()}, evil)
    with pytest.raises(Unsupported, match="refusing to read .*nothing is unpickled") as info:
        read_torch_file(evil)
    assert "\n" not in str(info.value)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(Unsupported, match="cannot read .*cut.pth"):
        import_weights(cut, FAKE, tmp_path / "out")
    with pytest.raises(NotFound):
        import_weights(tmp_path / "absent.pth", FAKE, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # A plain pickle (not a torch zip) is read with the same weights-only rules.
    raw = tmp_path / "raw.pth"
    raw.write_bytes(pickle.dumps({"obj": NotAllowed()}))
    with pytest.raises(Unsupported):
        read_torch_file(raw)


def test_flatten_tensors_keeps_tensors_only() -> None:
    t = torch.zeros(2)
    flat = flatten_tensors({"G": {"a": t, "b": {"c": t}}, "n": 3, "s": "x", "l": [t]})
    assert list(flat) == ["G.a", "G.b.c"]


def test_weights_dir_lists_imported_folders_with_provenance_and_loads_them_by_name(
    tmp_path: Path, release, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inpaintkit.inference import available_models, resolve_model
    from inpaintkit.inference.weights import WEIGHTS_DIR_ENV

    path, model = release
    shelf = tmp_path / "shelf"
    import_weights(path, FAKE, shelf / "pconv_places2", dataset="places2")
    (shelf / "notes").mkdir()  # not a checkpoint: skipped
    (shelf / "telea").mkdir()  # a registry name is never shadowed
    monkeypatch.setenv(WEIGHTS_DIR_ENV, str(shelf))
    entries = {c.name: c for c in available_models()}
    entry = entries["pconv_places2"]
    assert entry.kind == "imported" and not entry.untrained
    assert "imported from release.pth (fake, places2, sha256 " in entry.description
    assert "notes" not in entries and entries["telea"].kind == "classical"
    loaded = resolve_model("pconv_places2")
    assert loaded.name == "pconv_unet" and loaded.source == "checkpoint"
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    m = (torch.rand(1, 1, 64, 64) > 0.7).float()
    with torch.no_grad():
        assert torch.equal(loaded.model.inpaint(x, m), model.inpaint(x, m))
    monkeypatch.delenv(WEIGHTS_DIR_ENV)
    assert "pconv_places2" not in {c.name for c in available_models()}
