"""``inpaintkit stylize train`` (a few tiny steps) then ``stylize apply`` on a file and a
folder; bad input gives one ``error:`` line, a non-zero exit and no output file."""

import json

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app

runner = CliRunner()


def _photo(path, h=40, w=52, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("stylize")
    content = root / "content"
    content.mkdir()
    for i in range(4):
        _photo(content / f"p{i}.png", seed=i)
    style = _photo(root / "starry_night.jpg", 48, 48, seed=9)
    out = root / "model"
    result = runner.invoke(app, [
        "stylize", "train", "--style", str(style), "--content", str(content), "--norm", "instance",
        "--out", str(out), "--steps", "3", "--size", "32", "-c", "configs/cpu/stylize_in.yaml",
        "--set", "tiny=true", "--set", "num_workers=0", "--set", "threads=1", "--set", "batch_size=2",
        "--set", f"out_dir={root / 'runs'}", "--set", "budget_cpu_minutes=0", "--set", "image_every=0",
        "--set", "objective_args.style_size=32"])
    assert result.exit_code == 0, result.output
    return root, out


def test_train_writes_a_model_with_the_painting(trained):
    _, out = trained
    meta = json.loads((out / "config.json").read_text())
    assert meta["model"] == "stylizer" and meta["steps"] == 3 and meta["norm"] == "instance"
    assert meta["style_image"] == "starry_night.jpg" and "van Gogh" in meta["style_painting"]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


def test_apply_file_and_folder(trained, tmp_path):
    from inpaintkit.inference.stylize import load_stylizer, stylize_array
    from inpaintkit.io import read_image

    _, model = trained
    src = _photo(tmp_path / "a.jpg", 37, 29)
    res = runner.invoke(app, ["stylize", "apply", "--model", str(model), str(src), "-o", str(tmp_path / "a.png")])
    assert res.exit_code == 0, res.output
    got = read_image(tmp_path / "a.png")
    net, _ = load_stylizer(model)
    assert got.shape == (37, 29, 3) and np.array_equal(got, stylize_array(net, read_image(src)))
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(folder / "x.png", 20, 30)
    (folder / "broken.jpg").write_bytes(b"not an image")
    res = runner.invoke(app, ["stylize", "apply", "--model", str(model), str(folder), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1 and "1 stylized" in res.output and "1 failed" in res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.png"]
    again = runner.invoke(app, ["stylize", "apply", "--model", str(model), str(folder), "-o", str(tmp_path / "out")])
    assert "1 already done" in again.output


def _one_line_error(result, code=2, text=""):
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], result.output


def test_bad_inputs(trained, tmp_path):
    root, model = trained
    content = str(root / "content")
    out = tmp_path / "m"
    _one_line_error(runner.invoke(app, ["stylize", "train", "--style", str(tmp_path / "no.jpg"),
                                        "--content", content, "--out", str(out)]), text="style image not found")
    style = _photo(tmp_path / "s.png")
    _one_line_error(runner.invoke(app, ["stylize", "train", "--style", str(style), "--content", content,
                                        "--norm", "group", "--out", str(out)]), text="--norm")
    _one_line_error(runner.invoke(app, ["stylize", "train", "--style", str(style), "--content", content,
                                        "--out", str(model)]), text="--overwrite")
    assert not out.exists()
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    target = tmp_path / "o.png"
    _one_line_error(runner.invoke(app, ["stylize", "apply", "--model", str(model), str(bad), "-o", str(target)]))
    assert not target.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    _one_line_error(runner.invoke(app, ["stylize", "apply", "--model", str(tmp_path / "none"), str(style),
                                        "-o", str(target)]), text="stylize train")
    assert not target.exists()


def test_apply_without_a_shipped_model_says_how_to_train(tmp_path, monkeypatch):
    import inpaintkit.inference.stylize as S

    monkeypatch.setattr(S, "DEFAULT_STYLIZER", tmp_path / "stylize_default")
    src = _photo(tmp_path / "a.png")
    _one_line_error(runner.invoke(app, ["stylize", "apply", str(src), "-o", str(tmp_path / "b.png")]),
                    text="inpaintkit stylize train")


def test_apply_with_the_shipped_model(tmp_path):
    # The shipped default (IN, The Starry Night): a val-like photo comes out the same size,
    # restyled towards the painting's blues (its mean blue-minus-red rises), not copied.
    src_arr = np.zeros((60, 84, 3), np.uint8)
    src_arr[:, :42] = (200, 120, 60)  # warm left half
    src_arr[:, 42:] = (90, 160, 90)  # green right half
    src = tmp_path / "photo.png"
    Image.fromarray(src_arr).save(src)
    out = tmp_path / "styled.png"
    result = runner.invoke(app, ["stylize", "apply", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Starry Night" in result.output
    styled = np.asarray(Image.open(out).convert("RGB")).astype(np.float64)
    assert styled.shape == src_arr.shape
    assert np.abs(styled - src_arr).mean() > 20
    blue_minus_red = lambda a: float(a[..., 2].mean() - a[..., 0].mean())  # noqa: E731
    assert blue_minus_red(styled) > blue_minus_red(src_arr.astype(np.float64)) + 20
