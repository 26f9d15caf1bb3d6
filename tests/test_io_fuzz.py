"""Fuzzing the readers (issue 18): random bytes, truncations and header mutations of PNG,
JPEG, WebP and TIFF files end as an ``InpaintError`` or a valid array, never as another
exception and never in a hang. Bounded: 50 examples per test, 2 s per example."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from inpaintkit.errors import InpaintError
from inpaintkit.io import decode_image_bytes, decode_mask_bytes

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
BOUNDED = settings(max_examples=50, deadline=2000, database=None, suppress_health_check=[HealthCheck.too_slow])


def _sample(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


SAMPLES = {fmt: _sample(fmt) for fmt in FORMATS}


def _read_both(data: bytes) -> None:
    for decode in (decode_image_bytes, decode_mask_bytes):
        try:
            out = decode(data, "upload", max_pixels=1_000_000)
        except InpaintError as exc:
            assert str(exc) and "\n" not in str(exc)
            continue
        assert out.dtype in (np.uint8, np.bool_) and out.shape[0] * out.shape[1] <= 1_000_000


@pytest.mark.timeout(60)
@BOUNDED
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    _read_both(data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("fmt", FORMATS)
@BOUNDED
@given(data=st.data())
def test_truncations_and_mutations(fmt, data):
    sample = bytearray(SAMPLES[fmt])
    cut = data.draw(st.integers(0, len(sample)), label="cut")
    # Mutations cluster in the header, where the parsers read sizes and offsets.
    edits = data.draw(st.lists(st.tuples(st.integers(0, min(len(sample), 96) - 1), st.integers(0, 255)),
                               max_size=6), label="edits")
    for pos, value in edits:
        sample[pos] = value
    _read_both(bytes(sample[:cut] if data.draw(st.booleans(), label="truncate") else sample))
