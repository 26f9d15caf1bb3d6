"""CRC-32C (Castagnoli) in numpy, and the masked form TensorFlow stores in its files.

CRC-32C is the reflected CRC with polynomial ``0x82F63B78``, initial register ``0xFFFFFFFF``
and final xor ``0xFFFFFFFF`` (``crc32c(b"123456789") == 0xE3069283``). TensorFlow's tensor
bundles and LevelDB tables store it *masked*: ``mask(c) = ((c >> 15) | (c << 17)) + 0xA282EAD8``
(mod 2^32), so that the CRC of data holding CRCs stays well distributed.

Speed without a compiled extension: the register update over ``L`` bytes is affine over GF(2),
``R(r, m) = Z_L(r) xor R(0, m)``, with ``Z_L`` the linear map "feed L zero bytes". The data is
cut into ``N`` chunks of ``L`` bytes whose ``R(0, chunk)`` are computed side by side (``L``
vectorised table steps over ``N`` lanes), then folded left to right as
``r <- Z_L(r) xor R(0, chunk_i)`` with ``Z_L`` applied through four 256-entry byte tables.
A 16 MB tensor takes about 0.1 s instead of the seconds a byte-by-byte Python loop needs.
"""

from __future__ import annotations

import numpy as np

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
_CHUNK = 1024  # lane length L: N = size / L lanes


def _byte_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _byte_table()
_TABLE_LIST = [int(v) for v in _TABLE]


def _feed_zeros_tables(length: int) -> list[list[int]]:
    """Four byte tables of the linear map ``Z_length`` (register -> register after
    ``length`` zero bytes): ``Z(r) = T0[r & 255] ^ T1[(r >> 8) & 255] ^ ...``."""
    basis = np.array([1 << i for i in range(32)], dtype=np.uint64).astype(np.uint32)
    for _ in range(length):
        basis = _TABLE[basis & 0xFF] ^ (basis >> 8)
    columns = [int(v) for v in basis]
    tables = []
    for k in range(4):
        t = [0] * 256
        for b in range(256):
            acc = 0
            for bit in range(8):
                if b >> bit & 1:
                    acc ^= columns[8 * k + bit]
            t[b] = acc
        tables.append(t)
    return tables


_ZERO_TABLES = _feed_zeros_tables(_CHUNK)


def _update_bytes(register: int, data: bytes | memoryview) -> int:
    table = _TABLE_LIST
    for b in bytes(data):
        register = table[(register ^ b) & 0xFF] ^ (register >> 8)
    return register


def crc32c(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """The CRC-32C of ``data`` (any buffer; a numpy array is read as its raw bytes)."""
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    n_chunks = buf.size // _CHUNK
    register = 0xFFFFFFFF
    if n_chunks:
        # (L, N): row j holds byte j of every chunk, contiguous for the vectorised step.
        lanes = np.ascontiguousarray(buf[: n_chunks * _CHUNK].reshape(n_chunks, _CHUNK).T)
        reg = np.zeros(n_chunks, dtype=np.uint32)
        for row in lanes:
            reg = _TABLE[(reg ^ row) & 0xFF] ^ (reg >> 8)
        t0, t1, t2, t3 = _ZERO_TABLES
        for part in reg.tolist():
            register = (t0[register & 0xFF] ^ t1[(register >> 8) & 0xFF]
                        ^ t2[(register >> 16) & 0xFF] ^ t3[register >> 24] ^ part)
    register = _update_bytes(register, buf[n_chunks * _CHUNK:].tobytes())
    return register ^ 0xFFFFFFFF


def mask_crc(crc: int) -> int:
    """TensorFlow / LevelDB's masked CRC (module docstring)."""
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """The inverse of :func:`mask_crc`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
