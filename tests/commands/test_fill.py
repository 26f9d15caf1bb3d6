"""``inpaintkit fill``: single images, bad inputs (exit 2, nothing written), batch folders."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app

H, W = 48, 64


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def _photo(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 200, w)[None, :, None] + np.linspace(0, 50, h)[:, None, None]
    return np.clip(base + rng.normal(0, 5, (h, w, 3)), 0, 255).astype(np.uint8)


def _mask(h: int = H, w: int = W) -> np.ndarray:
    m = np.zeros((h, w), dtype=np.uint8)
    m[h // 4 : h // 2, w // 4 : w // 2] = 255
    return m


@pytest.fixture()
def pair(tmp_path):
    image, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.fromarray(_photo()).save(image)
    Image.fromarray(_mask()).save(mask)
    return image, mask


def _leftovers(folder) -> list[str]:
    return [p.name for p in folder.rglob(".*") if p.is_file()]


def _fill(runner, *args, env=None):
    return runner.invoke(app, ["fill", *map(str, args)], env=env)


def _error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


# --- single image --------------------------------------------------------------------

def test_fill_single_image_keeps_known_pixels(runner, pair, tmp_path):
    image, mask = pair
    out = tmp_path / "out" / "filled.png"
    r = _fill(runner, image, "--mask", mask, "-o", out, "--model", "telea")
    assert r.exit_code == 0, r.output
    assert "telea" in r.stdout and str(out) in r.stdout
    result = np.asarray(Image.open(out))
    hole = _mask() > 127
    assert result.shape == (H, W, 3)
    assert np.array_equal(result[~hole], _photo()[~hole])


def test_default_model_says_it_is_patchmatch(runner, pair, tmp_path, monkeypatch):
    from inpaintkit.inference import weights

    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", tmp_path / "none")
    image, mask = pair
    r = _fill(runner, image, "--mask", mask, "-o", tmp_path / "o.png")
    assert r.exit_code == 0, r.output
    assert "PatchMatch" in r.stderr and "model patchmatch" in r.stdout


def test_samples_write_numbered_outputs(runner, pair, tmp_path):
    import torch

    from inpaintkit.inference import save_model
    from inpaintkit.models import MODELS, create_model

    if "pic_net" not in MODELS:
        pytest.skip("pic_net not registered")
    model = create_model("pic_net", tiny=True)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    ckpt = save_model(model, tmp_path / "pic")
    image, mask = pair
    out = tmp_path / "s.png"
    r = _fill(runner, image, "--mask", mask, "-o", out, "--model", ckpt, "--samples", 3, "--seed", 4)
    assert r.exit_code == 0, r.output
    files = [tmp_path / f"s_{i}.png" for i in range(3)]
    assert all(f.exists() for f in files) and not out.exists()
    first = [np.asarray(Image.open(f)) for f in files]
    assert not np.array_equal(first[0], first[1])
    r = _fill(runner, image, "--mask", mask, "-o", out, "--model", ckpt, "--samples", 3, "--seed", 4)
    assert all(np.array_equal(np.asarray(Image.open(f)), a) for f, a in zip(files, first, strict=True))


def test_samples_with_a_deterministic_model_is_an_error(runner, pair, tmp_path):
    image, mask = pair
    r = _fill(runner, image, "--mask", mask, "-o", tmp_path / "o.png", "--model", "telea", "--samples", 2)
    assert r.exit_code == 2 and "deterministic" in _error_line(r)
    assert not list(tmp_path.glob("o*.png"))


def test_empty_mask_copies_the_input_with_a_note(runner, pair, tmp_path):
    image, _ = pair
    empty = tmp_path / "empty.png"
    Image.fromarray(np.zeros((H, W), dtype=np.uint8)).save(empty)
    r = _fill(runner, image, "--mask", empty, "-o", tmp_path / "o.png", "--model", "telea")
    assert r.exit_code == 0, r.output
    assert "empty" in r.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")), _photo())


def test_all_hole_mask_works(runner, pair, tmp_path):
    from inpaintkit.inference import save_model
    from inpaintkit.models import create_model

    image, _ = pair
    full = tmp_path / "full.png"
    Image.fromarray(np.full((H, W), 255, dtype=np.uint8)).save(full)
    ckpt = save_model(create_model("rn_inpaint", tiny=True), tmp_path / "rn")
    r = _fill(runner, image, "--mask", full, "-o", tmp_path / "o.png", "--model", ckpt)
    assert r.exit_code == 0, r.output
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == (H, W, 3)


def test_mask_alpha_and_dilate(runner, pair, tmp_path):
    image, _ = pair
    rgba = np.full((H, W, 4), 255, dtype=np.uint8)
    rgba[10:20, 10:20, 3] = 0  # transparent = hole
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    r = _fill(runner, image, "--mask", tmp_path / "alpha.png", "--mask-alpha", "--dilate", 2,
              "-o", tmp_path / "o.png", "--model", "telea")
    assert r.exit_code == 0, r.output
    out = np.asarray(Image.open(tmp_path / "o.png"))
    assert np.array_equal(out[30:, 30:], _photo()[30:, 30:])
    # Without --mask-alpha the all-white colour means "all hole": a different result.
    r = _fill(runner, image, "--mask", tmp_path / "alpha.png", "-o", tmp_path / "o2.png", "--model", "telea")
    assert r.exit_code == 0
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "o2.png")), out)


def test_mask_mode_painted_and_alpha_shorthand(runner, pair, tmp_path):
    image, _ = pair
    rgba = np.zeros((H, W, 4), dtype=np.uint8)
    rgba[10:20, 10:20] = (255, 0, 0, 255)  # a red stroke on a transparent canvas
    Image.fromarray(rgba, "RGBA").save(tmp_path / "strokes.png")
    r = _fill(runner, image, "--mask", tmp_path / "strokes.png", "--mask-mode", "painted",
              "-o", tmp_path / "o.png", "--model", "telea")
    assert r.exit_code == 0, r.output
    out = np.asarray(Image.open(tmp_path / "o.png"))
    hole = np.zeros((H, W), bool)
    hole[10:20, 10:20] = True
    assert np.array_equal(out[~hole], _photo()[~hole]) and not np.array_equal(out[hole], _photo()[hole])
    # --mask-alpha is --mask-mode alpha: the same file read as "transparent = hole" fills the rest.
    for args, name in ((["--mask-alpha"], "a.png"), (["--mask-mode", "alpha"], "b.png")):
        r = _fill(runner, image, "--mask", tmp_path / "strokes.png", *args, "-o", tmp_path / name,
                  "--model", "telea")
        assert r.exit_code == 0, r.output
    alpha_out = np.asarray(Image.open(tmp_path / "a.png"))
    assert np.array_equal(alpha_out, np.asarray(Image.open(tmp_path / "b.png")))
    assert np.array_equal(alpha_out[hole], _photo()[hole])
    r = _fill(runner, image, "--mask", tmp_path / "strokes.png", "--mask-alpha", "--mask-mode", "painted",
              "-o", tmp_path / "c.png", "--model", "telea")
    assert r.exit_code == 2 and "--mask-alpha" in _error_line(r)


@pytest.mark.parametrize(("option", "value"), [("--strategy", "magic"), ("--device", "tpu"),
                                               ("--mask-mode", "inverted")])
def test_bad_choice_is_a_usage_error_listing_the_choices(runner, pair, tmp_path, option, value):
    from inpaintkit.inference import STRATEGIES
    from inpaintkit.inference.device import DEVICES
    from inpaintkit.io import MASK_MODES

    image, mask = pair
    r = _fill(runner, image, "--mask", mask, "-o", tmp_path / "o.png", option, value)
    assert r.exit_code == 2 and not (tmp_path / "o.png").exists()
    choices = {"--strategy": STRATEGIES, "--device": DEVICES, "--mask-mode": MASK_MODES}[option]
    assert all(c in r.output for c in choices), r.output


@pytest.mark.parametrize("kind", ["grayscale", "rgba", "16-bit", "cmyk", "exif-rotated"])
def test_unusual_image_files(runner, tmp_path, kind):
    photo = _photo()
    mask_shape = (H, W)
    if kind == "grayscale":
        img, name = Image.fromarray(photo[..., 0], "L"), "g.png"
    elif kind == "rgba":
        img, name = Image.fromarray(np.dstack([photo, np.full((H, W), 128, np.uint8)]), "RGBA"), "a.png"
    elif kind == "16-bit":
        img, name = Image.fromarray(photo[..., 0].astype(np.uint16) * 257), "d.png"
    elif kind == "cmyk":
        img, name = Image.fromarray(photo).convert("CMYK"), "c.jpg"
    else:
        img, name = Image.fromarray(photo), "r.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees clockwise to display
        img.save(tmp_path / name, exif=exif)
        mask_shape = (W, H)  # the displayed (rotated) photo is W tall
    if kind != "exif-rotated":
        img.save(tmp_path / name)
    mask = np.zeros(mask_shape, dtype=np.uint8)
    mask[5:15, 5:25] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    r = _fill(runner, tmp_path / name, "--mask", tmp_path / "m.png", "-o", tmp_path / "o.png", "--model", "telea")
    assert r.exit_code == 0, r.output
    out = np.asarray(Image.open(tmp_path / "o.png"))
    channels = 4 if kind == "rgba" else 3  # RGBA keeps its alpha (issue 30: README "Transparency")
    assert out.shape == (*mask_shape, channels) and out.dtype == np.uint8
    if kind == "rgba":
        assert (out[..., 3] == 128).all()


def test_mask_size_mismatch_and_resize_mask(runner, pair, tmp_path):
    image, _ = pair
    Image.fromarray(_mask(H // 2, W // 2)).save(tmp_path / "small.png")
    r = _fill(runner, image, "--mask", tmp_path / "small.png", "-o", tmp_path / "o.png", "--model", "telea")
    assert r.exit_code == 2 and "--resize-mask" in _error_line(r)
    assert not (tmp_path / "o.png").exists()
    r = _fill(runner, image, "--mask", tmp_path / "small.png", "--resize-mask", "-o", tmp_path / "o.png",
              "--model", "telea")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("problem", ["missing-image", "missing-mask", "corrupt-image", "corrupt-mask",
                                     "too-large", "output-is-input", "output-is-mask", "unknown-model",
                                     "bad-suffix", "parent-is-a-file"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(runner, pair, tmp_path, problem):
    image, mask = pair
    before = image.read_bytes()
    out = tmp_path / "o.png"
    args = [image, "--mask", mask, "-o", out, "--model", "telea"]
    if problem == "missing-image":
        args[0] = tmp_path / "nope.png"
    elif problem == "missing-mask":
        args[2] = tmp_path / "nope.png"
    elif problem == "corrupt-image":
        (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
        args[0] = tmp_path / "bad.png"
    elif problem == "corrupt-mask":
        (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
        args[2] = tmp_path / "bad.jpg"
    elif problem == "too-large":
        args += ["--max-pixels", 1000]
    elif problem == "output-is-input":
        args[4] = out = image
    elif problem == "output-is-mask":
        args[4] = out = mask
    elif problem == "unknown-model":
        args[6] = "no_such_model"
    elif problem == "bad-suffix":
        args[4] = out = tmp_path / "o.xyz"
    else:
        (tmp_path / "file").write_text("x")
        args[4] = out = tmp_path / "file" / "o.png"
    r = _fill(runner, *args)
    assert r.exit_code == 2, r.output
    _error_line(r)
    assert image.read_bytes() == before
    if problem not in ("output-is-input", "output-is-mask"):
        assert not out.exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_output_folder_not_writable(runner, pair, tmp_path):
    image, mask = pair
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        r = _fill(runner, image, "--mask", mask, "-o", locked / "o.png", "--model", "telea")
        assert r.exit_code == 2 and "not writable" in _error_line(r)
    finally:
        locked.chmod(0o700)


def test_mode_errors(runner, pair, tmp_path):
    image, mask = pair
    assert _fill(runner, image, "-o", tmp_path / "o.png").exit_code == 2
    assert _fill(runner, "--input", tmp_path, "-o", tmp_path / "x").exit_code == 2
    r = _fill(runner, image, "--mask", mask, "--input", tmp_path, "--masks", tmp_path, "-o", tmp_path / "x")
    assert r.exit_code == 2 and "not both" in _error_line(r)
    r = _fill(runner, image, "--mask", mask, "-o", tmp_path / "o.png", "--strategy", "tiles")
    assert r.exit_code == 2


# --- batch ---------------------------------------------------------------------------

@pytest.fixture()
def folders(tmp_path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    src.mkdir()
    masks.mkdir()
    for i, name in enumerate(["a", "b", "c", "d", "e"]):
        Image.fromarray(_photo(seed=i)).save(src / f"{name}.png")
    Image.fromarray(_mask()).save(masks / "a.png")  # same name
    Image.fromarray(_mask()).save(masks / "b_mask.jpg")  # x_mask, other suffix
    Image.fromarray(_mask()).save(masks / "c.bmp")
    (src / "d.png").write_bytes(b"not an image")  # corrupt image
    # e has no mask
    return src, masks, out


def test_batch_reports_bad_files_and_resumes(runner, folders):
    src, masks, out = folders
    r = _fill(runner, "--input", src, "--masks", masks, "--output", out, "--model", "telea")
    assert r.exit_code == 1, r.output
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png"]
    assert "3 filled, 0 already done, 2 failed of 5" in r.stdout
    assert "d.png" in r.stderr and "no mask" in r.stderr
    hole = _mask() > 127
    assert np.array_equal(np.asarray(Image.open(out / "a.png"))[~hole], _photo(seed=0)[~hole])
    assert _leftovers(out) == []
    # A re-run skips finished outputs; --overwrite redoes them.
    stamp = (out / "a.png").stat().st_mtime_ns
    r = _fill(runner, "--input", src, "--masks", masks, "--output", out, "--model", "telea")
    assert "0 filled, 3 already done, 2 failed" in r.stdout
    assert (out / "a.png").stat().st_mtime_ns == stamp
    r = _fill(runner, "--input", src, "--masks", masks, "--output", out, "--model", "telea", "--overwrite")
    assert "3 filled, 0 already done" in r.stdout


def test_batch_all_good_exits_0(runner, folders):
    src, masks, out = folders
    (src / "d.png").unlink()
    (src / "e.png").unlink()
    r = _fill(runner, "--input", src, "--masks", masks, "--output", out, "--model", "telea")
    assert r.exit_code == 0, r.output


def test_batch_shards_across_torchrun_ranks(runner, folders):
    src, masks, out = folders
    env = {"WORLD_SIZE": "2", "RANK": "1"}
    r = _fill(runner, "--input", src, "--masks", masks, "--output", out, "--model", "telea", env=env)
    # rank 1 of 2 takes b and d (d is corrupt -> exit 1)
    assert r.exit_code == 1, r.output
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]
    assert "[rank 1/2]" in r.stdout


def test_batch_refuses_output_equal_to_input(runner, folders):
    src, masks, _ = folders
    before = sorted(p.name for p in src.iterdir())
    for target in (src, masks):
        r = _fill(runner, "--input", src, "--masks", masks, "--output", target, "--model", "telea")
        assert r.exit_code == 2 and "must differ" in _error_line(r)
    assert sorted(p.name for p in src.iterdir()) == before


def test_batch_missing_folder(runner, tmp_path):
    r = _fill(runner, "--input", tmp_path / "nope", "--masks", tmp_path, "--output", tmp_path / "o")
    assert r.exit_code == 2 and "no such folder" in _error_line(r)


def test_batch_with_masks_beside_the_images(runner, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    Image.fromarray(_photo()).save(src / "a.png")
    Image.fromarray(_mask()).save(src / "a_mask.png")
    r = _fill(runner, "--input", src, "--masks", src, "--output", out, "--model", "telea")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]


def test_batch_samples_with_a_deterministic_model_fails_fast(runner, folders):
    src, masks, out = folders
    r = _fill(runner, "--input", src, "--masks", masks, "--output", out, "--model", "telea", "--samples", 2)
    assert r.exit_code == 2 and "deterministic" in _error_line(r)
    assert not out.exists()
