"""Issue 18, case 6 (fill): temp files of a killed batch are removed, 0-byte / truncated
outputs are redone, an interrupted batch prints its summary and exits 130, and a mask drawn
on the stored pixels of an EXIF-rotated JPEG gets a message naming the orientation and a
working fix (--mask-exif)."""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image, ImageOps
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.inference import Inpainter


def _folders(tmp_path, n=3):
    rng = np.random.default_rng(0)
    images, masks, out = tmp_path / "img", tmp_path / "masks", tmp_path / "out"
    for d in (images, masks, out):
        d.mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(images / f"p{i}.png")
        m = np.zeros((24, 32), np.uint8)
        m[6:14, 8:20] = 255
        Image.fromarray(m).save(masks / f"p{i}.png")
    return images, masks, out


def _batch(images, masks, out, *extra):
    return CliRunner().invoke(app, ["fill", "--input", str(images), "--masks", str(masks), "--output", str(out),
                                    "--model", "telea", *extra])


def test_batch_redoes_empty_and_truncated_outputs_and_removes_stale_temporaries(tmp_path, dead_pid):
    images, masks, out = _folders(tmp_path)
    first = _batch(images, masks, out)
    assert first.exit_code == 0, first.output
    good = (out / "p2.png").read_bytes()
    (out / "p0.png").write_bytes(b"")  # a 0-byte output (disk full, a copy tool...)
    (out / "p1.png").write_bytes(good[: len(good) // 2])  # truncated
    dead, alive = dead_pid, os.getppid()
    stale = out / f".p0.png.{dead}.k3j_x.tmp"
    live = out / f".p1.png.{alive}.a8c9.tmp"
    stale.write_bytes(b"partial")
    live.write_bytes(b"partial")
    again = _batch(images, masks, out)
    assert again.exit_code == 0, again.output
    assert "2 filled, 1 already done, 0 failed of 3" in again.output
    for name in ("p0.png", "p1.png", "p2.png"):
        with Image.open(out / name) as im:
            im.load()
            assert im.size == (32, 24)
    assert not stale.exists() and live.exists()


def test_interrupted_batch_prints_its_summary_and_exits_130(tmp_path, monkeypatch):
    images, masks, out = _folders(tmp_path)
    real = Inpainter.inpaint
    calls = []

    def interrupt_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Inpainter, "inpaint", interrupt_second)
    result = _batch(images, masks, out)
    assert result.exit_code == 130, result.output
    assert "1 filled, 0 already done, 0 failed of 3" in result.output and "interrupted, 2 not done" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["p0.png"]


def _exif_jpeg(path, stored: np.ndarray, orientation: int) -> None:
    im = Image.fromarray(stored)
    exif = im.getexif()
    exif[0x0112] = orientation
    im.save(path, format="JPEG", quality=95, exif=exif)


def test_mask_on_the_stored_pixels_of_an_exif_rotated_jpeg(tmp_path):
    stored = np.random.default_rng(1).integers(0, 256, (24, 40, 3), dtype=np.uint8)  # H=24, W=40 as stored
    photo = tmp_path / "photo.jpg"
    _exif_jpeg(photo, stored, 6)
    mask = np.zeros((24, 40), np.uint8)
    mask[4:10, 2:12] = 255  # drawn on the stored (unrotated) pixels
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "out.png"
    args = ["fill", str(photo), "--mask", str(tmp_path / "mask.png"), "-o", str(out), "--model", "telea"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2
    assert "EXIF orientation 6 (rotate 90 clockwise)" in refused.output and "--mask-exif" in refused.output
    fixed = CliRunner().invoke(app, [*args, "--mask-exif"])
    assert fixed.exit_code == 0, fixed.output
    # Reference: the mask rotated by Pillow as a viewer rotates the photo.
    buf = io.BytesIO()
    m = Image.fromarray(mask)
    exif = m.getexif()
    exif[0x0112] = 6
    m.save(buf, format="PNG", exif=exif)
    hole = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue())))) > 127
    with Image.open(photo) as im:
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    result = np.asarray(Image.open(out).convert("RGB"))
    assert result.shape == shown.shape == (40, 24, 3)
    assert np.array_equal(result[~hole], shown[~hole])  # known pixels kept, where the viewer shows them
    assert not np.array_equal(result[hole], shown[hole])


def test_full_strategy_over_the_machines_memory_is_refused_before_any_work(tmp_path):
    # DeepFill v2's contextual attention grows with the square of the pixels: 2048^2 at
    # --strategy full asks for far more than any CI machine has; auto crops instead.
    image, mask, out = tmp_path / "big.png", tmp_path / "mask.png", tmp_path / "out.png"
    Image.fromarray(np.full((2048, 2048, 3), 120, np.uint8)).save(image)
    hole = np.zeros((2048, 2048), np.uint8)
    hole[900:1100, 900:1200] = 255
    Image.fromarray(hole).save(mask)
    r = CliRunner().invoke(app, ["fill", str(image), "--mask", str(mask), "-o", str(out),
                                 "--model", "deepfill_v2", "--strategy", "full"])
    assert r.exit_code == 2, r.output
    assert "GiB" in r.output and "--strategy auto" in r.output and not out.exists()
