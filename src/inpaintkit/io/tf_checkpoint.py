"""TensorFlow checkpoints (tensor bundles) read and written without TensorFlow.

A checkpoint ``PREFIX`` (``tf.train.Saver`` V2 of TF 1.x, and TF 2) is ``PREFIX.index`` plus data
shards ``PREFIX.data-00000-of-00001`` (the graph ``.meta`` is not needed), in a folder whose
``checkpoint`` file names the newest prefix (``model_checkpoint_path: "snap-0"``).

``PREFIX.index`` is a LevelDB table (TensorFlow ``core/lib/io/table``): data blocks, a
metaindex block (empty here), an index block, and a 48-byte footer holding the metaindex and
index block handles (varint64 offset and size each, zero-padded to 40 bytes) and the magic
``0xdb4775248b80fb57`` (little-endian fixed64). Each block is followed by a 5-byte trailer:
compression type (0 = none; TensorFlow never compresses bundles) and the masked CRC-32C of
block + type byte. A block holds entries ``varint32 shared, varint32 non_shared, varint32
value_len, key[shared:], value`` (key = prefix of the previous key + new bytes) and ends
with the restart offsets (uint32 each) and their count (uint32). The index block maps one
key >= the last key of each data block to that block's handle.

Table entries: the key ``""`` holds a ``BundleHeaderProto`` (1: num_shards, 2: endianness,
3: VersionDef {1: producer, 2: min_consumer}); every other key is a tensor name holding a
``BundleEntryProto`` (1: dtype, 2: TensorShapeProto {2: dim {1: size}}, 3: shard_id,
4: offset, 5: size, 6: masked CRC-32C (fixed32), 7: slices of partitioned variables, not
supported); the protobuf wire format is decoded by hand. The tensor is ``size`` raw
little-endian bytes at ``offset`` in ``PREFIX.data-{shard_id:05d}-of-{num_shards:05d}``, CRC-checked.

Dtypes: float32, float64, float16, bfloat16, int8/16/32/64, uint8, bool; anything else
(strings, resources) is refused when asked for, and can be skipped with ``select``.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from inpaintkit.errors import InpaintError, NotFound, Unsupported
from inpaintkit.io.crc32c import crc32c, mask_crc, unmask_crc

MAGIC = 0xDB4775248B80FB57
FOOTER = 48
# TensorFlow DataType enum (types.proto) -> torch dtype
DTYPES: dict[int, torch.dtype] = {
    1: torch.float32, 2: torch.float64, 3: torch.int32, 4: torch.uint8, 5: torch.int16,
    6: torch.int8, 9: torch.int64, 10: torch.bool, 14: torch.bfloat16, 19: torch.float16,
}
_TF_ENUM = {v: k for k, v in DTYPES.items()}
DTYPE_NAMES = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
               9: "int64", 10: "bool", 14: "bfloat16", 19: "float16", 20: "resource", 21: "variant"}


@dataclass(frozen=True)
class BundleEntry:
    """Where one tensor of a bundle lives."""

    name: str
    dtype: int  # TensorFlow DataType enum
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None  # masked, as stored
    sliced: bool

    @property
    def dtype_name(self) -> str:
        return DTYPE_NAMES.get(self.dtype, f"dtype {self.dtype}")


# ---------------------------------------------------------------- protobuf wire format
def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """``(field number, value)`` of a serialized message: varint and fixed values as ints,
    length-delimited ones as bytes."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise ValueError("truncated fixed field")
            value = int.from_bytes(buf[pos:pos + width], "little")
            pos += width
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated length-delimited field")
            value, pos = buf[pos:pos + length], pos + length
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, value))
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v  # int64 fields encode negatives in 10 bytes


def _put_varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _field(number: int, value: int | bytes, fixed32: bool = False) -> bytes:
    """One field; zero ints are left out as proto3 serializers do (their default)."""
    if isinstance(value, bytes):
        return _put_varint(number << 3 | 2) + _put_varint(len(value)) + value
    if fixed32:
        return _put_varint(number << 3 | 5) + struct.pack("<I", value)
    return _put_varint(number << 3) + _put_varint(value) if value else b""


def decode_entry(name: str, value: bytes) -> BundleEntry:
    """A ``BundleEntryProto``."""
    dtype = shard = offset = size = 0
    crc: int | None = None
    shape: list[int] = []
    sliced = False
    for number, v in _fields(value):
        if number == 1:
            dtype = int(v)  # type: ignore[arg-type]
        elif number == 2:
            for dim_number, dim in _fields(v):  # type: ignore[arg-type]
                if dim_number == 2:
                    size_fields = [_signed(int(s)) for n, s in _fields(dim) if n == 1]  # type: ignore[arg-type]
                    shape.append(size_fields[-1] if size_fields else 0)
        elif number == 3:
            shard = int(v)  # type: ignore[arg-type]
        elif number == 4:
            offset = int(v)  # type: ignore[arg-type]
        elif number == 5:
            size = int(v)  # type: ignore[arg-type]
        elif number == 6:
            crc = int(v)  # type: ignore[arg-type]
        elif number == 7:
            sliced = True
    return BundleEntry(name, dtype, tuple(shape), shard, offset, size, crc, sliced)


def encode_entry(entry: BundleEntry) -> bytes:
    shape = b"".join(_field(2, _field(1, d) or b"") for d in entry.shape)
    return (_field(1, entry.dtype) + _field(2, shape) + _field(3, entry.shard_id) + _field(4, entry.offset)
            + _field(5, entry.size) + (_field(6, entry.crc32c, fixed32=True) if entry.crc32c is not None else b""))


def _decode_header(value: bytes) -> tuple[int, int]:
    """``BundleHeaderProto`` -> (num_shards, endianness)."""
    fields = dict(_fields(value))
    return int(fields.get(1, 0)), int(fields.get(2, 0))  # type: ignore[arg-type]


# ---------------------------------------------------------------- the LevelDB table
def _block(data: bytes, offset: int, size: int, where: str) -> bytes:
    if offset + size + 5 > len(data) - FOOTER:
        raise ValueError("truncated (a block runs past the end of the file)")
    block, kind = data[offset:offset + size], data[offset + size]
    (stored,) = struct.unpack_from("<I", data, offset + size + 1)
    if kind != 0:
        raise ValueError(f"compressed {where} block (type {kind}): not written by TensorFlow's checkpoint saver")
    if unmask_crc(stored) != crc32c(data[offset:offset + size + 1]):
        raise ValueError(f"checksum mismatch in the {where} block (corrupt file)")
    return block


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise ValueError("truncated block")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 * (restarts + 1)
    if end < 0:
        raise ValueError("bad block restart count")
    out: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        fresh, pos = _varint(block, pos)
        length, pos = _varint(block, pos)
        if shared > len(key) or pos + fresh + length > end:
            raise ValueError("corrupt block entry")
        key = key[:shared] + block[pos:pos + fresh]
        pos += fresh
        out.append((key, block[pos:pos + length]))
        pos += length
    return out


def _handle(buf: bytes, pos: int) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos)
    size, pos = _varint(buf, pos)
    return offset, size, pos


def _table_entries(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < FOOTER:
        raise ValueError(f"truncated ({len(data)} bytes, shorter than the 48-byte footer)")
    (magic,) = struct.unpack_from("<Q", data, len(data) - 8)
    if magic != MAGIC:
        raise ValueError("bad magic number: not a TensorFlow checkpoint index (LevelDB table)")
    footer = data[-FOOTER:]
    _, _, pos = _handle(footer, 0)  # the metaindex block: empty in bundles, never read
    index_offset, index_size, _ = _handle(footer, pos)
    entries: list[tuple[bytes, bytes]] = []
    for _, handle in _block_entries(_block(data, index_offset, index_size, "index")):
        offset, size, _ = _handle(handle, 0)
        entries += _block_entries(_block(data, offset, size, "data"))
    return entries


def _build_block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out, restarts, last = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if i % restart_interval:
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += _put_varint(shared) + _put_varint(len(key) - shared) + _put_varint(len(value))
        out += key[shared:] + value
        last = key
    restarts = restarts or [0]
    return bytes(out) + struct.pack(f"<{len(restarts)}I", *restarts) + struct.pack("<I", len(restarts))


def _write_table(entries: list[tuple[bytes, bytes]], block_size: int) -> bytes:
    out = bytearray()

    def put(block: bytes) -> bytes:
        handle = _put_varint(len(out)) + _put_varint(len(block))
        out.extend(block + b"\0" + struct.pack("<I", mask_crc(crc32c(block + b"\0"))))
        return handle

    index: list[tuple[bytes, bytes]] = []
    pending: list[tuple[bytes, bytes]] = []
    for i, (key, value) in enumerate(entries):
        pending.append((key, value))
        if sum(len(k) + len(v) for k, v in pending) >= block_size or i == len(entries) - 1:
            index.append((key, put(_build_block(pending, 16))))  # key: the block's last key
            pending = []
    meta = put(_build_block([], 16))
    index_handle = put(_build_block(index, 1))
    footer = (meta + index_handle).ljust(40, b"\0") + struct.pack("<Q", MAGIC)
    return bytes(out + footer)


# ---------------------------------------------------------------- paths
def checkpoint_prefix(src: str | os.PathLike) -> Path:
    """The prefix a path stands for: ``X.index`` / ``X.data-*`` / ``X.meta`` -> ``X``; a folder ->
    the prefix its ``checkpoint`` (or ``checkpoint.txt``) file names, else its only ``.index``;
    anything else is taken as the prefix itself."""
    src = Path(src).expanduser()
    if src.is_dir():
        for name in ("checkpoint", "checkpoint.txt"):
            if (src / name).is_file():
                text = (src / name).read_text(errors="replace")
                found = re.search(r'^\s*model_checkpoint_path:\s*"(.*)"', text, re.M)
                if not found:
                    raise InpaintError(f"{src / name}: no model_checkpoint_path line")
                named = Path(found.group(1))
                prefix = named if named.is_absolute() else src / named
                if not Path(f"{prefix}.index").is_file():  # written on another machine: look here
                    prefix = src / named.name
                return prefix
        indexes = sorted(src.glob("*.index"))
        if len(indexes) != 1:
            what = "no" if not indexes else f"{len(indexes)}"
            raise NotFound(f"{src}: {what} TensorFlow checkpoint(s) (*.index) and no 'checkpoint' file; "
                           "give the checkpoint prefix or its .index file")
        return indexes[0].with_suffix("")
    name = re.sub(r"(\.index|\.meta|\.data-\d+-of-\d+)$", "", src.name)
    if name == src.name and src.is_file():  # a .pth, a TF1 "V1" single-file checkpoint, ...
        raise Unsupported(f"{src} is not a TensorFlow checkpoint (give its folder, PREFIX or PREFIX.index)")
    return src.with_name(name)


def read_index(src: str | os.PathLike) -> tuple[Path, int, dict[str, BundleEntry]]:
    """``(prefix, num_shards, name -> entry)`` of the checkpoint at ``src`` (any path
    :func:`checkpoint_prefix` takes). Raises a one-line InpaintError naming the file."""
    prefix = checkpoint_prefix(src)
    index = Path(f"{prefix}.index")
    if not index.is_file():
        raise NotFound(f"TensorFlow checkpoint index not found: {index}")
    data = index.read_bytes()
    try:
        entries = _table_entries(data)
        if not entries or entries[0][0] != b"":
            raise ValueError("no bundle header (the first key must be empty)")
        shards, endianness = _decode_header(entries[0][1])
        bundle = {k.decode("utf-8"): decode_entry(k.decode("utf-8"), v) for k, v in entries[1:]}
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unsupported(f"cannot read TensorFlow checkpoint index {index}: {exc}") from None
    if endianness != 0:
        raise Unsupported(f"{index}: a big-endian checkpoint is not supported")
    return prefix, shards, bundle


def list_tf_checkpoint(src: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``name -> (dtype name, shape)`` of every tensor, without reading any data."""
    return {n: (e.dtype_name, e.shape) for n, e in read_index(src)[2].items()}


def read_tf_checkpoint(
    src: str | os.PathLike, select: Callable[[str], bool] | None = None, verify: bool = True
) -> dict[str, torch.Tensor]:
    """The tensors of a TensorFlow checkpoint (those whose name ``select`` accepts), as CPU
    tensors in the stored dtype and shape (TF's layout: conv kernels HWIO). ``verify``:
    check each tensor's CRC-32C. One-line InpaintError naming the file for a missing or
    truncated shard, a bad index, a checksum mismatch or an unsupported dtype."""
    prefix, shards, entries = read_index(src)
    wanted = [e for n, e in entries.items() if select is None or select(n)]
    by_shard: dict[int, list[BundleEntry]] = {}
    for e in wanted:
        if e.sliced:
            raise Unsupported(f"{prefix}.index: '{e.name}' is a partitioned (sliced) variable: not supported")
        if e.dtype not in DTYPES:
            raise Unsupported(f"{prefix}.index: '{e.name}' has unsupported dtype {e.dtype_name}")
        if e.shard_id >= max(shards, 1):
            raise InpaintError(f"{prefix}.index: '{e.name}' names shard {e.shard_id} of {shards}")
        by_shard.setdefault(e.shard_id, []).append(e)
    out: dict[str, torch.Tensor] = {}
    for shard_id, shard_entries in sorted(by_shard.items()):
        path = Path(f"{prefix}.data-{shard_id:05d}-of-{shards:05d}")
        if not path.is_file():
            raise NotFound(f"TensorFlow checkpoint data shard missing: {path} (the .index needs it)")
        with open(path, "rb") as fh:
            total = os.fstat(fh.fileno()).st_size
            for e in sorted(shard_entries, key=lambda x: x.offset):
                dtype = DTYPES[e.dtype]
                count = int(np.prod(e.shape, dtype=np.int64)) if e.shape else 1
                if min(e.shape, default=0) < 0 or count * dtype.itemsize != e.size:
                    raise InpaintError(f"{prefix}.index: '{e.name}' shape {list(e.shape)} {e.dtype_name} "
                                       f"does not match its {e.size} bytes")
                if e.offset + e.size > total:
                    raise InpaintError(f"{path} is truncated ({total} bytes; '{e.name}' ends at "
                                       f"{e.offset + e.size})")
                fh.seek(e.offset)
                raw = bytearray(fh.read(e.size))
                if verify and e.crc32c is not None and crc32c(raw) != unmask_crc(e.crc32c):
                    raise InpaintError(f"{path}: checksum mismatch for '{e.name}' (corrupt file)")
                flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
                out[e.name] = flat.reshape(e.shape)
    return out


def write_tf_checkpoint(
    prefix: str | os.PathLike, tensors: Mapping[str, torch.Tensor | np.ndarray],
    checkpoint_file: bool = True, block_size: int = 262144,
) -> Path:
    """Write ``tensors`` as the bundle ``prefix.index`` + ``prefix.data-00000-of-00001`` (what
    ``tf.train.Saver`` writes, minus the graph), and with ``checkpoint_file`` the folder's
    ``checkpoint`` file naming it. Tensors are stored as given (TF layout: kernels HWIO).
    Returns the prefix."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    items = sorted(((name.encode("utf-8"), name, value) for name, value in tensors.items()))
    if any(not key for key, _, _ in items):
        raise ValueError("write_tf_checkpoint: tensor names must be non-empty")
    entries: list[tuple[bytes, bytes]] = []
    offset = 0
    with open(f"{prefix}.data-00000-of-00001", "wb") as fh:
        for key, name, value in items:
            t = torch.as_tensor(value).detach().cpu().contiguous()
            if t.dtype not in _TF_ENUM:
                raise ValueError(f"write_tf_checkpoint: '{name}' has unsupported dtype {t.dtype}")
            raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
            fh.write(raw)
            entry = BundleEntry(name, _TF_ENUM[t.dtype], tuple(t.shape), 0, offset, len(raw),
                                mask_crc(crc32c(raw)), False)
            entries.append((key, encode_entry(entry)))
            offset += len(raw)
    header = _field(1, 1) + _field(3, _field(1, 1))  # num_shards 1, little-endian, producer 1
    Path(f"{prefix}.index").write_bytes(_write_table([(b"", header), *entries], block_size))
    if checkpoint_file:
        (prefix.parent / "checkpoint").write_text(
            f'model_checkpoint_path: "{prefix.name}"\nall_model_checkpoint_paths: "{prefix.name}"\n')
    return prefix
