"""The inpaintkit CLI: version, help, error contract, masks generate / stats."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import inpaintkit
from inpaintkit.cli import app, main
from inpaintkit.masks import BUCKET_NAMES


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner):
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.stdout.strip() == f"inpaintkit {inpaintkit.__version__}"


def test_help_lists_masks(runner):
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0 and "masks" in r.stdout
    assert runner.invoke(app, ["masks", "generate", "--help"]).exit_code == 0


def test_main_entry_point():
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0


def test_generate_writes_masks_and_histogram(runner, tmp_path):
    out = tmp_path / "m"
    r = runner.invoke(app, ["masks", "generate", "--kind", "free-form", "--count", "7",
                            "--size", "64", "--out", str(out), "--seed", "1"])
    assert r.exit_code == 0, r.output
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"{i:05d}.png" for i in range(7)]
    for f in files:
        a = np.asarray(Image.open(f))
        assert a.shape == (64, 64) and set(np.unique(a)) <= {0, 255} and a.max() == 255
    for name in BUCKET_NAMES:
        assert name in r.stdout
    assert "total" in r.stdout and "7" in r.stdout
    # same seed -> same files
    again = tmp_path / "again"
    runner.invoke(app, ["masks", "generate", "-n", "7", "--size", "64", "-o", str(again),
                        "--seed", "1"])
    assert all((again / f.name).read_bytes() == f.read_bytes() for f in files)


def test_generate_boxes(runner, tmp_path):
    r = runner.invoke(app, ["masks", "generate", "--kind", "box", "--count", "3",
                            "--size", "32", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    a = np.asarray(Image.open(tmp_path / "00000.png")) > 127
    ys, xs = np.nonzero(a)
    assert a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].all()


def test_generate_refuses_to_overwrite(runner, tmp_path):
    args = ["masks", "generate", "--count", "2", "--size", "16", "--out", str(tmp_path)]
    assert runner.invoke(app, args).exit_code == 0
    before = (tmp_path / "00000.png").read_bytes()
    r = runner.invoke(app, [*args, "--seed", "5"])
    assert r.exit_code == 2
    assert r.stderr.startswith("error:") and "--overwrite" in r.stderr
    assert (tmp_path / "00000.png").read_bytes() == before
    r = runner.invoke(app, [*args, "--seed", "5", "--overwrite"])
    assert r.exit_code == 0 and (tmp_path / "00000.png").read_bytes() != before


@pytest.mark.parametrize("bad", [["--count", "0"], ["--kind", "circle"], ["--size", "abc"],
                                 ["--bogus"]])
def test_bad_arguments_exit_2(runner, tmp_path, bad):
    r = runner.invoke(app, ["masks", "generate", "--out", str(tmp_path), *bad])
    assert r.exit_code == 2
    assert not list(tmp_path.iterdir())


def test_stats(runner, tmp_path):
    for i, rows in enumerate([2, 5, 5, 50]):  # ratios 2 %, 5 %, 5 %, 50 % of 100 rows
        a = np.zeros((100, 10), np.uint8)
        a[:rows] = 255
        Image.fromarray(a).save(tmp_path / f"{i}.png")
    r = runner.invoke(app, ["masks", "stats", str(tmp_path)])
    assert r.exit_code == 0, r.output
    line = next(ln for ln in r.stdout.splitlines() if BUCKET_NAMES[0] in ln)
    assert "3" in line
    r = runner.invoke(app, ["masks", "stats", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "error:" in r.stderr and "missing" in r.stderr


def test_internal_error_exit_1_and_debug_traceback(runner, tmp_path, monkeypatch):
    import inpaintkit.masks

    def boom(paths):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(inpaintkit.masks, "scan_hole_ratios", boom)
    Image.new("L", (4, 4)).save(tmp_path / "m.png")
    r = runner.invoke(app, ["masks", "stats", str(tmp_path)])
    assert r.exit_code == 1
    assert "simulated bug" in r.stderr and "Traceback" not in r.stderr
    r = runner.invoke(app, ["--debug", "masks", "stats", str(tmp_path)])
    assert r.exit_code == 1 and "Traceback" in r.stderr
    r = runner.invoke(app, ["masks", "stats", str(tmp_path)], env={"INPAINTKIT_DEBUG": "1"})
    assert r.exit_code == 1 and "Traceback" in r.stderr


def test_exit_code_comes_from_the_error_type(runner, tmp_path, monkeypatch):
    import inpaintkit.masks
    from inpaintkit.errors import InpaintError

    class Special(InpaintError):
        exit_code = 7

    def refuse(paths):
        raise Special("refused on purpose")

    monkeypatch.setattr(inpaintkit.masks, "scan_hole_ratios", refuse)
    Image.new("L", (4, 4)).save(tmp_path / "m.png")
    r = runner.invoke(app, ["masks", "stats", str(tmp_path)])
    assert r.exit_code == 7 and r.stderr.strip() == "error: refused on purpose"
