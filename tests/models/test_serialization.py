"""The checkpoint folder format: round trip (fp32, fp16), atomic save, refusal of bad files."""

from __future__ import annotations

import json

import pytest
import torch

from inpaintkit.errors import InpaintError
from inpaintkit.models import MODELS, create_model
from inpaintkit.models import serialization as S

NAMES = sorted(MODELS)


def _load(path):
    return S.load_checkpoint(path)[0]


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
    extra = {}
    if model.coarse_input is not None:  # e.g. patchmatch_lfnet: classical fills as inputs
        from inpaintkit.models.classical import coarse_from_tensors

        extra["coarse"] = coarse_from_tensors(image, mask, model.coarse_input)
    with torch.no_grad():
        return model.inpaint(image, mask, generator=g, **extra)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_is_exact(name, tmp_path):
    model = _perturbed(name)
    folder = S.save_model(model, tmp_path / "ckpt", metadata={"steps": 12})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    info = json.loads((folder / "config.json").read_text())
    assert info["format"] == "inpaintkit" and info["version"] == 1
    assert info["model"] == name and info["steps"] == 12 and info["dtype"] == "float32"
    loaded, metadata = S.load_checkpoint(folder)
    assert type(loaded) is type(model) and not loaded.training
    assert metadata == {"model": name, "dtype": "float32", "steps": 12}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    image, mask = _inputs(max(64, model.multiple))
    assert torch.equal(_run(loaded, image, mask), _run(model, image, mask))


def test_fp16_round_trip_halves_the_file_and_loads_fp32(tmp_path):
    model = _perturbed("rn_inpaint")
    full = S.save_model(model, tmp_path / "fp32")
    half = S.save_model(model, tmp_path / "fp16", dtype=torch.float16)
    size32 = (full / "model.safetensors").stat().st_size
    size16 = (half / "model.safetensors").stat().st_size
    assert size16 < 0.6 * size32
    assert json.loads((half / "config.json").read_text())["dtype"] == "float16"
    loaded = _load(half / "model.safetensors")  # the file path form
    for key, value in model.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == value.dtype
        if value.is_floating_point():
            assert torch.equal(got, value.half().float()), key


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    import safetensors.torch as st

    model = _perturbed("rn_inpaint")
    target = S.save_model(model, tmp_path / "ckpt", metadata={"steps": 1})
    before = (target / "model.safetensors").read_bytes()

    def broken(state, path, metadata=None):
        with open(path, "wb") as fh:
            fh.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(st, "save_file", broken)
    with pytest.raises(InpaintError, match="No space left"):
        S.save_model(model, target, metadata={"steps": 2})
    # The old checkpoint is intact and no temporary folder is left behind.
    assert (target / "model.safetensors").read_bytes() == before
    assert json.loads((target / "config.json").read_text())["steps"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    with pytest.raises(InpaintError):
        S.save_model(model, tmp_path / "new", metadata={"steps": 2})
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_save_replaces_a_checkpoint_but_never_other_folders(tmp_path):
    model = _perturbed("rn_inpaint")
    S.save_model(model, tmp_path / "ckpt", metadata={"steps": 1})
    S.save_model(model, tmp_path / "ckpt", metadata={"steps": 2})
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "me.jpg").write_bytes(b"x")
    with pytest.raises(InpaintError, match="refusing to replace"):
        S.save_model(model, tmp_path / "photos")
    assert (tmp_path / "photos" / "me.jpg").exists()
    with pytest.raises(InpaintError, match="reserved"):
        S.save_model(model, tmp_path / "x", metadata={"model": "other"})


def test_save_refuses_unregistered_modules(tmp_path):
    with pytest.raises(InpaintError, match="not a registered model"):
        S.save_model(torch.nn.Conv2d(3, 3, 1), tmp_path / "c")


@pytest.fixture()
def checkpoint(tmp_path):
    return S.save_model(_perturbed("rn_inpaint"), tmp_path / "ckpt")


def test_refuses_pickle_files(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"\x80\x04not really")
    with pytest.raises(InpaintError, match="pickle"):
        _load(bad)


def test_missing_config_and_weights(checkpoint):
    (checkpoint / "config.json").unlink()
    with pytest.raises(InpaintError, match="no config.json"):
        _load(checkpoint)
    with pytest.raises(InpaintError, match="no config.json beside"):
        _load(checkpoint / "model.safetensors")


def test_missing_weights(checkpoint):
    (checkpoint / "model.safetensors").unlink()
    with pytest.raises(InpaintError, match="no model.safetensors"):
        _load(checkpoint)


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
        _load(checkpoint)
    assert "\n" not in str(info.value)


def _drop_digest(folder) -> None:
    """A checkpoint as written before config.json carried the weights' sha256."""
    info = json.loads((folder / "config.json").read_text())
    info.pop("sha256", None)
    (folder / "config.json").write_text(json.dumps(info))


def test_mismatching_state_dict(checkpoint, tmp_path):
    other = S.save_model(_perturbed("pconv_unet"), tmp_path / "other")
    (checkpoint / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    _drop_digest(checkpoint)  # else the sha256 check refuses it first (tests/models/test_weights_sha256.py)
    with pytest.raises(InpaintError, match="missing") as info:
        _load(checkpoint)
    assert "\n" not in str(info.value)


def test_corrupt_weights(checkpoint):
    (checkpoint / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    _drop_digest(checkpoint)
    with pytest.raises(InpaintError, match="cannot read weights"):
        _load(checkpoint)


def test_registry_name_reverse_lookup():
    for name in NAMES:
        assert S.registry_name(create_model(name, tiny=True)) == name


def test_a_discriminator_rides_beside_its_generator(tmp_path):
    from inpaintkit.models import create_discriminator

    torch.manual_seed(0)
    gen = create_model("pic_net", tiny=True)
    disc = create_discriminator("pic_patchgan", tiny=True).eval()
    folder = tmp_path / "pic"
    S.save_model(gen, folder)
    assert S.load_discriminator(folder) is None
    S.save_model(disc, folder / S.DISCRIMINATOR_DIR, dtype=torch.float16)
    # Re-saving the generator keeps the discriminator saved beside it.
    S.save_model(gen, folder)
    loaded = S.load_discriminator(folder)
    assert type(loaded) is type(disc)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        ref = disc(x)
        half = type(disc)(disc.config).eval()  # the fp16 round trip of every tensor
        half.load_state_dict({k: v.half().float() for k, v in disc.state_dict().items()})
        torch.testing.assert_close(loaded(x), half(x), rtol=1e-5, atol=1e-5)
        assert (loaded(x) - ref).abs().max() < 0.05
    # Each kind refuses the other's checkpoint with a clear message.
    with pytest.raises(InpaintError, match="not a generator"):
        S.load_checkpoint(folder / S.DISCRIMINATOR_DIR)
    with pytest.raises(InpaintError, match="not a discriminator"):
        S.load_checkpoint(folder, kind="discriminator")
