"""inpaintkit.io: every mode and format read right, every bad file a one-line InpaintError,
atomic writes that never clobber an input."""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpaintkit.errors import InpaintError, NotFound, TooLarge, Unsupported
from inpaintkit.io import (
    DEFAULT_MAX_PIXELS,
    MASK_MODES,
    decode_image_bytes,
    decode_mask_bytes,
    list_image_files,
    read_image,
    read_mask,
    write_image,
)

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (12, 16, 3), dtype=np.uint8)
GRAY = RNG.integers(0, 256, (12, 16), dtype=np.uint8)


def save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


def one_line_error(excinfo: pytest.ExceptionInfo, name: str) -> str:
    msg = str(excinfo.value)
    assert "\n" not in msg
    assert name in msg
    return msg


# --- reading: modes ------------------------------------------------------------------------

def test_rgb_png_exact(tmp_path):
    a = read_image(save(Image.fromarray(RGB), tmp_path / "a.png"))
    assert a.dtype == np.uint8 and a.shape == (12, 16, 3)
    np.testing.assert_array_equal(a, RGB)


def test_gray_l_becomes_three_equal_channels(tmp_path):
    a = read_image(save(Image.fromarray(GRAY, "L"), tmp_path / "g.png"))
    assert a.shape == (12, 16, 3)
    for c in range(3):
        np.testing.assert_array_equal(a[:, :, c], GRAY)


def test_one_bit(tmp_path):
    img = Image.fromarray(GRAY > 127).convert("1")
    a = read_image(save(img, tmp_path / "b.png"))
    np.testing.assert_array_equal(a[:, :, 0], np.where(GRAY > 127, 255, 0))


def test_la_drops_alpha(tmp_path):
    la = Image.merge("LA", [Image.fromarray(GRAY), Image.new("L", (16, 12), 0)])
    a = read_image(save(la, tmp_path / "la.png"))
    np.testing.assert_array_equal(a[:, :, 1], GRAY)


def test_rgba_drops_alpha_keeps_colour(tmp_path):
    alpha = np.zeros((12, 16), np.uint8)  # fully transparent: colour must still come back
    rgba = Image.fromarray(np.dstack([RGB, alpha]), "RGBA")
    a = read_image(save(rgba, tmp_path / "rgba.png"))
    np.testing.assert_array_equal(a, RGB)


def test_palette_with_and_without_transparency(tmp_path):
    pal = Image.new("P", (4, 3))
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putdata([0, 1] * 6)
    a = read_image(save(pal, tmp_path / "p.png"))
    assert tuple(a[0, 0]) == (10, 20, 30) and tuple(a[0, 1]) == (200, 100, 50)
    b = read_image(save(pal, tmp_path / "pt.png", transparency=1))
    np.testing.assert_array_equal(a, b)  # transparency dropped, palette colour kept


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    vals = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    img = Image.fromarray(vals)
    assert img.mode == "I;16"
    a = read_image(save(img, tmp_path / "s.png"))
    assert a[0, :, 0].tolist() == [0, 1, 128, 255]
    t = read_image(save(img, tmp_path / "s.tif"))
    assert t[0, :, 0].tolist() == [0, 1, 128, 255]


def test_int32_and_float_tiff(tmp_path):
    i32 = Image.fromarray(np.array([[0, 65535, 70000, -5]], dtype=np.int32), "I")
    a = read_image(save(i32, tmp_path / "i.tif"))
    assert a[0, :, 0].tolist() == [0, 255, 255, 0]
    f01 = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), "F")
    assert read_image(save(f01, tmp_path / "f.tif"))[0, :, 0].tolist() == [0, 128, 255]
    f255 = Image.fromarray(np.array([[0.0, 100.0, 300.0]], dtype=np.float32), "F")
    assert read_image(save(f255, tmp_path / "f2.tif"))[0, :, 0].tolist() == [0, 100, 255]


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red
    a = read_image(save(cmyk, tmp_path / "c.jpg", quality=100))
    assert a.shape == (8, 8, 3)
    r, g, b = a[4, 4].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :20] = 255  # left half white
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    a = read_image(save(img, tmp_path / "e.jpg", exif=exif.tobytes(), quality=100))
    assert a.shape == (40, 20, 3)
    assert a[5, 10].mean() > 200 and a[35, 10].mean() < 50  # left half is now the top


@pytest.mark.parametrize("suffix,kw", [(".webp", {"lossless": True}), (".bmp", {}),
                                       (".tif", {}), (".tiff", {}), (".PNG", {})])
def test_lossless_formats(tmp_path, suffix, kw):
    a = read_image(save(Image.fromarray(RGB), tmp_path / f"x{suffix}", **kw))
    np.testing.assert_array_equal(a, RGB)


def test_jpeg_close(tmp_path):
    smooth = np.tile(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (12, 1, 3))
    a = read_image(save(Image.fromarray(smooth), tmp_path / "j.jpg", quality=95))
    assert np.abs(a.astype(int) - smooth).max() < 12


# --- reading: bad files ---------------------------------------------------------------------

def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _png_header_only(w: int, h: int) -> bytes:
    """A valid PNG header claiming w x h pixels, with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def test_missing_file():
    with pytest.raises(InpaintError) as e:
        read_image("/nonexistent/dir/photo.png")
    assert "no such file" in one_line_error(e, "photo.png")


def test_directory(tmp_path):
    with pytest.raises(InpaintError) as e:
        read_image(tmp_path)
    assert "directory" in one_line_error(e, str(tmp_path))


def test_zero_byte(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(InpaintError) as e:
        read_image(p)
    assert "empty" in one_line_error(e, "empty.png")


def test_text_file(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not an image\n" * 20)
    with pytest.raises(InpaintError) as e:
        read_image(p)
    assert "not a supported image" in one_line_error(e, "notes.jpg")


def test_random_bytes(tmp_path):
    p = tmp_path / "noise.png"
    p.write_bytes(RNG.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InpaintError) as e:
        read_image(p)
    one_line_error(e, "noise.png")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp"])
def test_truncated(tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    Image.fromarray(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(full)
    data = full.read_bytes()
    p = tmp_path / f"cut{suffix}"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InpaintError) as e:
        read_image(p)
    one_line_error(e, f"cut{suffix}")


def test_corrupt_png_crc(tmp_path):
    data = bytearray(io.BytesIO().getvalue())
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[-20] ^= 0xFF  # inside the IDAT data / CRC
    p = tmp_path / "crc.png"
    p.write_bytes(bytes(data))
    with pytest.raises(InpaintError) as e:
        read_image(p)
    one_line_error(e, "crc.png")


def test_bomb_refused_from_header_before_decoding(tmp_path, monkeypatch):
    # A header claiming 100000 x 100000 pixels and no data at all: must be refused on size,
    # which proves the check happens before any decoding.
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_header_only(8000, 8000))  # 64 MP: over our 50 MP, under Pillow's
    with pytest.raises(InpaintError) as e:
        read_image(p)
    msg = one_line_error(e, "bomb.png")
    assert "8000x8000" in msg and "limit" in msg  # a decode attempt would say "truncated"
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header_only(100_000, 100_000))  # over Pillow's own error limit
    for limit in (DEFAULT_MAX_PIXELS, None):
        with pytest.raises(InpaintError) as e:
            read_image(huge, max_pixels=limit)
        assert "limit" in one_line_error(e, "huge.png")
    with pytest.raises(InpaintError):
        read_mask(p)
    with pytest.raises(InpaintError):
        decode_image_bytes(p.read_bytes(), "upload.png")


def test_max_pixels_argument(tmp_path):
    p = save(Image.fromarray(RGB), tmp_path / "small.png")  # 192 pixels
    assert read_image(p, max_pixels=192).shape == (12, 16, 3)
    with pytest.raises(InpaintError) as e:
        read_image(p, max_pixels=191)
    assert "191" in one_line_error(e, "small.png")
    assert DEFAULT_MAX_PIXELS == 50_000_000


def test_pillow_bomb_error_and_warning_become_ours(tmp_path, monkeypatch):
    p = save(Image.fromarray(RGB), tmp_path / "b.png")  # 192 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150)  # 192 > 150: Pillow warns
    with pytest.raises(InpaintError) as e:
        read_image(p, max_pixels=None)
    one_line_error(e, "b.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # 192 > 2*50: Pillow raises
    with pytest.raises(InpaintError) as e:
        read_image(p, max_pixels=None)
    one_line_error(e, "b.png")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unreadable_permission(tmp_path):
    p = save(Image.fromarray(RGB), tmp_path / "locked.png")
    p.chmod(0)
    try:
        with pytest.raises(InpaintError) as e:
            read_image(p)
        assert "permission" in one_line_error(e, "locked.png")
    finally:
        p.chmod(0o644)


# --- masks --------------------------------------------------------------------------------

def test_mask_threshold_on_luminance(tmp_path):
    vals = np.array([[0, 127, 128, 255]], np.uint8)
    m = read_mask(save(Image.fromarray(vals, "L"), tmp_path / "m.png"))
    assert m.dtype == bool and m.tolist() == [[False, False, True, True]]


def test_mask_sixteen_bit(tmp_path):
    vals = np.array([[0, 32639, 32896, 65535]], np.uint16)  # 127.0 / 128.0 after scaling
    m = read_mask(save(Image.fromarray(vals), tmp_path / "m16.png"))
    assert m.tolist() == [[False, False, True, True]]


def test_rgba_mask_colour_vs_alpha(tmp_path):
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[0] = 255  # top row white
    alpha = np.full((2, 2), 255, np.uint8)
    alpha[:, 0] = 0  # left column transparent
    p = save(Image.fromarray(np.dstack([colour, alpha]), "RGBA"), tmp_path / "a.png")
    assert read_mask(p).tolist() == [[True, True], [False, False]]
    assert read_mask(p, use_alpha=True).tolist() == [[True, False], [True, False]]


def test_alpha_threshold_and_la(tmp_path):
    alpha = np.array([[0, 127, 128, 255]], np.uint8)
    la = Image.merge("LA", [Image.new("L", (4, 1), 0), Image.fromarray(alpha)])
    m = read_mask(save(la, tmp_path / "la.png"), use_alpha=True)
    assert m.tolist() == [[True, True, False, False]]


def test_palette_transparency_as_alpha(tmp_path):
    pal = Image.new("P", (2, 1))
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    pal.putdata([0, 1])
    p = save(pal, tmp_path / "p.png", transparency=0)
    assert read_mask(p, use_alpha=True).tolist() == [[True, False]]
    assert read_mask(p).tolist() == [[False, True]]


def test_mask_modes_on_one_rgba_file(tmp_path):
    # Colour: left column white; alpha: top row opaque. Each mode reads a different thing.
    colour = np.zeros((2, 2, 3), np.uint8)
    colour[:, 0] = 255
    alpha = np.zeros((2, 2), np.uint8)
    alpha[0] = 200
    data = np.dstack([colour, alpha])
    p = save(Image.fromarray(data, "RGBA"), tmp_path / "rgba.png")
    expected = {
        "luminance": colour[..., 0] > 127,
        "alpha": alpha < 128,
        "painted": alpha >= 128,
    }
    assert set(expected) == set(MASK_MODES)
    raw = p.read_bytes()
    for mode, want in expected.items():
        assert read_mask(p, mode=mode).tolist() == want.tolist(), mode
        assert decode_mask_bytes(raw, "m.png", mode=mode).tolist() == want.tolist(), mode
    assert read_mask(p, use_alpha=True, mode="luminance").tolist() == expected["luminance"].tolist()
    with pytest.raises(InpaintError) as e:
        read_mask(p, mode="inverted")
    assert "inverted" in str(e.value) and "painted" in str(e.value)


def test_error_types_say_what_went_wrong(tmp_path, monkeypatch):
    # The CLI and the web app report by these types (their exit code / HTTP status).
    with pytest.raises(NotFound):
        read_image(tmp_path / "missing.png")
    with pytest.raises(NotFound):
        list_image_files(tmp_path / "missing")
    text = tmp_path / "a.png"
    text.write_text("not an image")
    with pytest.raises(Unsupported):
        read_image(text)
    with pytest.raises(Unsupported):
        write_image(tmp_path / "out.gif", RGB)
    big = save(Image.fromarray(RGB), tmp_path / "big.png")  # 16x12 = 192 pixels
    with pytest.raises(TooLarge):
        read_image(big, max_pixels=191)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 150)
    with pytest.raises(TooLarge):
        read_mask(big, max_pixels=None)
    monkeypatch.undo()
    truncated = tmp_path / "t.png"
    truncated.write_bytes(big.read_bytes()[:60])
    with pytest.raises(InpaintError) as e:
        read_image(truncated)
    assert type(e.value) is InpaintError


def test_use_alpha_without_alpha_is_an_error(tmp_path):
    p = save(Image.fromarray(GRAY, "L"), tmp_path / "noalpha.png")
    with pytest.raises(InpaintError) as e:
        read_mask(p, use_alpha=True)
    assert "alpha" in one_line_error(e, "noalpha.png")


def test_mask_exif_orientation(tmp_path):
    arr = np.zeros((10, 30), np.uint8)
    arr[:, :5] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    m = read_mask(save(Image.fromarray(arr), tmp_path / "m.jpg", exif=exif.tobytes(), quality=100))
    assert m.shape == (30, 10)


# --- bytes ------------------------------------------------------------------------------

def test_decode_bytes(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(RGB).save(buf, "PNG")
    np.testing.assert_array_equal(decode_image_bytes(buf.getvalue(), "up.png"), RGB)
    mbuf = io.BytesIO()
    Image.fromarray(GRAY, "L").save(mbuf, "PNG")
    np.testing.assert_array_equal(decode_mask_bytes(mbuf.getvalue(), "m.png"), GRAY > 127)
    for bad in (b"", b"GIF89a not really", buf.getvalue()[:100]):
        with pytest.raises(InpaintError) as e:
            decode_image_bytes(bad, "upload.bin")
        one_line_error(e, "upload.bin")
    with pytest.raises(InpaintError):
        decode_mask_bytes(mbuf.getvalue(), "m.png", use_alpha=True)


# --- writing ----------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"])
def test_write_round_trip(tmp_path, suffix):
    smooth = np.tile(np.linspace(0, 255, 16, dtype=np.uint8)[None, :, None], (12, 1, 3))
    p = write_image(tmp_path / f"out{suffix}", smooth)
    back = read_image(p)
    if suffix in (".jpg", ".jpeg", ".webp"):
        assert np.abs(back.astype(int) - smooth).max() < 12
    else:
        np.testing.assert_array_equal(back, smooth)
    assert [f.name for f in tmp_path.iterdir()] == [f"out{suffix}"]  # no temp file left


def test_write_jpeg_quality_95(tmp_path, monkeypatch):
    seen = {}
    real_save = Image.Image.save

    def spy(self, fp, format=None, **params):
        seen.update(params, format=format)
        return real_save(self, fp, format=format, **params)

    monkeypatch.setattr(Image.Image, "save", spy)
    write_image(tmp_path / "q.jpg", RGB)
    assert seen["format"] == "JPEG" and seen["quality"] == 95


def test_write_masks_and_gray(tmp_path):
    m = GRAY > 127
    p = write_image(tmp_path / "m.png", m)
    raw = np.asarray(Image.open(p))
    assert set(np.unique(raw)) <= {0, 255}
    np.testing.assert_array_equal(read_mask(p), m)
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "g.png", GRAY))[:, :, 0], GRAY)
    with pytest.raises(ValueError):
        write_image(tmp_path / "bad.png", RGB.astype(np.float32))


def test_write_permissions_follow_umask(tmp_path):
    p = write_image(tmp_path / "perm.png", RGB)
    old = os.umask(0)
    os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~old


def test_write_unknown_suffix_and_missing_folder(tmp_path):
    with pytest.raises(InpaintError) as e:
        write_image(tmp_path / "out.gif", RGB)
    assert "format" in one_line_error(e, "out.gif")
    with pytest.raises(InpaintError) as e:
        write_image(tmp_path / "nope" / "out.png", RGB)
    assert "does not exist" in one_line_error(e, "out.png")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_write_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(InpaintError) as e:
            write_image(ro / "out.png", RGB)
        assert "not writable" in one_line_error(e, "out.png")
    finally:
        ro.chmod(0o755)


def test_atomic_write_failure_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "result.png"
    write_image(target, RGB)
    before = target.read_bytes()

    def broken_save(self, fp, format=None, **params):
        fp.write(b"\x89PNG partial")  # some bytes reach the temp file first
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(InpaintError) as e:
        write_image(target, np.zeros_like(RGB))
    assert "disk full" in one_line_error(e, "result.png")
    assert target.read_bytes() == before  # old file untouched
    with pytest.raises(InpaintError):
        write_image(tmp_path / "new.png", RGB)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["result.png"]  # no temp, no new.png

    def crash(self, fp, format=None, **params):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "new.png", RGB)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["result.png"]


def test_refuses_to_overwrite_an_input(tmp_path):
    src = write_image(tmp_path / "in.png", RGB)
    for target in (src, tmp_path / "sub" / ".." / "in.png", Path(os.path.relpath(src))):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(InpaintError) as e:
            write_image(target, np.zeros_like(RGB), inputs=[src])
        assert "input" in one_line_error(e, "in.png")
    link = tmp_path / "link.png"
    link.symlink_to(src)
    with pytest.raises(InpaintError):
        write_image(link, np.zeros_like(RGB), inputs=[src])
    np.testing.assert_array_equal(read_image(src), RGB)
    write_image(tmp_path / "other.png", RGB, inputs=[src])  # a different file is fine


def test_list_image_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    for rel in ("b.PNG", "a/c.jpg", "a/d.txt", ".x.png", ".hidden/e.png", "f.webp"):
        (tmp_path / rel).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_image_files(tmp_path)] == [
        "a/c.jpg", "b.PNG", "f.webp"]
    assert [p.name for p in list_image_files(tmp_path, recursive=False)] == ["b.PNG", "f.webp"]
    with pytest.raises(InpaintError):
        list_image_files(tmp_path / "missing")


def test_permission_errors_simulated(tmp_path, monkeypatch):
    # Runs as root too (where chmod cannot make a file unreadable).
    import inpaintkit.io.read as reading

    p = save(Image.fromarray(RGB), tmp_path / "locked.png")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(reading, "open", denied, raising=False)
    with pytest.raises(InpaintError) as e:
        read_image(p)
    assert "permission denied" in one_line_error(e, "locked.png")
    monkeypatch.undo()
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(InpaintError) as e:
        write_image(tmp_path / "out.png", RGB)
    assert "not writable" in one_line_error(e, "out.png")
