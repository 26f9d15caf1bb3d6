"""TensorFlow tensor bundles without TensorFlow (``inpaintkit.io.tf_checkpoint``) and CRC-32C.

Independent references: ``tests/data/tf_checkpoint/`` was written by TensorFlow 2.21
(``tf.compat.v1.train.Saver``, the TF1 saver the DeepFill release used) with the values
rebuilt below; the protobuf messages are checked against the ``protobuf`` library
(``TensorShapeProto`` from tensorboard's copy of TensorFlow's protos, the bundle entry
message declared here from ``tensor_bundle.proto``'s field numbers); CRC-32C against the
RFC 3720 test vectors and a bit-at-a-time loop.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from inpaintkit.errors import InpaintError, NotFound, Unsupported
from inpaintkit.io.crc32c import crc32c, mask_crc, unmask_crc
from inpaintkit.io.tf_checkpoint import (
    BundleEntry,
    _table_entries,
    _write_table,
    checkpoint_prefix,
    decode_entry,
    encode_entry,
    list_tf_checkpoint,
    read_tf_checkpoint,
    write_tf_checkpoint,
)

TINY = Path(__file__).parent / "data" / "tf_checkpoint"


def _tiny_values() -> dict[str, np.ndarray]:
    """What tests/data/tf_checkpoint/tiny-3 holds (the values TensorFlow was given)."""
    vals = {
        "inpaint_net/conv1/kernel": np.arange(48, dtype=np.float32).reshape(2, 2, 3, 4) / 8 - 3,
        "inpaint_net/conv1/bias": np.array([0.5, -1.25, 2.0, 1e-3], dtype=np.float32),
        "global_step": np.array(-7, dtype=np.int64),
        "half": np.array([1.5, -2.0, 65504.0], dtype=np.float16),
        "ints": np.array([[1, -2], [3, 2**31 - 1]], dtype=np.int32),
        "double": np.array(np.pi, dtype=np.float64),
        "flags": np.array([True, False, True]),
    }
    for i in range(20):
        vals[f"inpaint_net/layer{i:02d}/bias"] = np.full((2,), i, dtype=np.float32)
    return vals


def _bitwise_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_rfc3720_vectors() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C


@pytest.mark.parametrize("n", [0, 1, 1023, 1024, 1025, 3000])
def test_crc32c_chunked_path_matches_a_bitwise_loop(n: int) -> None:
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert crc32c(data) == _bitwise_crc32c(data)
    assert crc32c(np.frombuffer(data, dtype=np.uint8)) == crc32c(data)


def test_masked_crc_round_trips_and_is_leveldbs() -> None:
    assert mask_crc(0) == 0xA282EAD8  # LevelDB's kMaskDelta
    for value in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert unmask_crc(mask_crc(value)) == value


def test_reads_a_checkpoint_written_by_tensorflow() -> None:
    expected = _tiny_values()
    for src in (TINY, TINY / "tiny-3", TINY / "tiny-3.index", TINY / "tiny-3.data-00000-of-00001"):
        got = read_tf_checkpoint(src)
        assert set(got) == set(expected)
        for name, value in expected.items():
            assert tuple(got[name].shape) == value.shape, name
            assert np.array_equal(got[name].numpy(), value), name
    listing = list_tf_checkpoint(TINY)
    assert listing["half"] == ("float16", (3,)) and listing["global_step"] == ("int64", ())


def test_select_reads_only_the_chosen_tensors() -> None:
    got = read_tf_checkpoint(TINY, select=lambda name: name.startswith("inpaint_net/conv1/"))
    assert set(got) == {"inpaint_net/conv1/kernel", "inpaint_net/conv1/bias"}


@pytest.mark.parametrize("block_size", [64, 262144])
def test_write_then_read_round_trips(tmp_path: Path, block_size: int) -> None:
    g = torch.Generator().manual_seed(0)
    tensors = {
        "inpaint_net/conv1/kernel": torch.randn(5, 5, 5, 8, generator=g),
        "inpaint_net/conv1/bias": torch.randn(8, generator=g),
        "x/half": torch.randn(3, 2, generator=g).half(),
        "x/bf16": torch.randn(4, generator=g).bfloat16(),
        "x/int64": torch.tensor([-(2**40), 5]),
        "x/uint8": torch.arange(7, dtype=torch.uint8),
        "x/empty": torch.zeros(0, 3),
        "scalar": torch.tensor(2.5),
        "unicode/é": torch.ones(1),
        **{f"many/v{i:03d}": torch.full((2,), float(i)) for i in range(40)},
    }
    write_tf_checkpoint(tmp_path / "ck" / "snap-9", tensors, block_size=block_size)
    assert (tmp_path / "ck" / "checkpoint").read_text().startswith('model_checkpoint_path: "snap-9"')
    got = read_tf_checkpoint(tmp_path / "ck")
    assert set(got) == set(tensors)
    for name, value in tensors.items():
        assert got[name].dtype == value.dtype and torch.equal(got[name], value), name


def test_rewriting_tensorflows_tensors_gives_a_readable_equal_bundle(tmp_path: Path) -> None:
    original = read_tf_checkpoint(TINY)
    write_tf_checkpoint(tmp_path / "again", original)
    again = read_tf_checkpoint(tmp_path / "again")
    assert all(torch.equal(again[k], v) for k, v in original.items()) and set(again) == set(original)
    # Same layout as TensorFlow's data file: tensors in key order, back to back.
    assert (tmp_path / "again.data-00000-of-00001").read_bytes() == (TINY / "tiny-3.data-00000-of-00001").read_bytes()


def test_entry_messages_match_the_protobuf_library() -> None:
    pytest.importorskip("google.protobuf")
    tensor_shape_pb2 = pytest.importorskip("tensorboard.compat.proto.tensor_shape_pb2")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    shape_file = descriptor_pb2.FileDescriptorProto()
    tensor_shape_pb2.DESCRIPTOR.CopyToProto(shape_file)
    pool.Add(shape_file)
    bundle = descriptor_pb2.FileDescriptorProto(name="bundle_test.proto", package="t", syntax="proto3",
                                                dependency=[shape_file.name])
    msg = bundle.message_type.add(name="BundleEntryProto")
    f = descriptor_pb2.FieldDescriptorProto
    for name, number, kind in (("dtype", 1, f.TYPE_INT32), ("shard_id", 3, f.TYPE_INT32),
                               ("offset", 4, f.TYPE_INT64), ("size", 5, f.TYPE_INT64),
                               ("crc32c", 6, f.TYPE_FIXED32)):
        msg.field.add(name=name, number=number, type=kind, label=f.LABEL_OPTIONAL)
    msg.field.add(name="shape", number=2, type=f.TYPE_MESSAGE, label=f.LABEL_OPTIONAL,
                  type_name=f".{shape_file.package}.TensorShapeProto")
    pool.Add(bundle)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("t.BundleEntryProto"))

    ref = cls(dtype=19, shard_id=2, offset=123456789012, size=96, crc32c=0xDEADBEEF)
    for d in (5, 0, 1, 7):
        ref.shape.dim.add(size=d)
    ours = decode_entry("w", ref.SerializeToString())
    assert (ours.dtype, ours.shape, ours.shard_id, ours.offset, ours.size, ours.crc32c) == (
        19, (5, 0, 1, 7), 2, 123456789012, 96, 0xDEADBEEF)
    back = cls.FromString(encode_entry(ours))
    assert back == ref


def _copy_tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    shutil.copytree(TINY, folder)
    return folder


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


def test_missing_data_shard_is_named(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    (folder / "tiny-3.data-00000-of-00001").unlink()
    with pytest.raises(NotFound) as exc:
        read_tf_checkpoint(folder)
    assert "tiny-3.data-00000-of-00001" in _one_line(exc)


@pytest.mark.parametrize("keep", [0, 20, 200, 860])
def test_truncated_index_is_refused(tmp_path: Path, keep: int) -> None:
    folder = _copy_tiny(tmp_path)
    index = folder / "tiny-3.index"
    index.write_bytes(index.read_bytes()[:keep])
    with pytest.raises(InpaintError) as exc:
        read_tf_checkpoint(folder)
    assert "tiny-3.index" in _one_line(exc)


def test_truncated_data_and_flipped_bytes_are_refused(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    data = folder / "tiny-3.data-00000-of-00001"
    raw = data.read_bytes()
    data.write_bytes(raw[:-10])
    with pytest.raises(InpaintError, match="truncated") as exc:
        read_tf_checkpoint(folder)
    assert "tiny-3.data-00000-of-00001" in _one_line(exc)
    data.write_bytes(raw[:5] + bytes([raw[5] ^ 1]) + raw[6:])
    with pytest.raises(InpaintError, match="checksum"):
        read_tf_checkpoint(folder)
    assert read_tf_checkpoint(folder, verify=False)  # the check is what refused it


def test_bad_magic_and_other_files_are_refused(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    index = folder / "tiny-3.index"
    raw = bytearray(index.read_bytes())
    raw[-1] ^= 0xFF
    index.write_bytes(bytes(raw))
    with pytest.raises(Unsupported, match="magic") as exc:
        read_tf_checkpoint(folder)
    assert "tiny-3.index" in _one_line(exc)
    pth = tmp_path / "weights.pth"
    torch.save({"G": {"a": torch.ones(1)}}, pth)
    with pytest.raises(Unsupported, match="not a TensorFlow checkpoint"):
        read_tf_checkpoint(pth)


def test_unsupported_dtype_is_named_and_can_be_skipped(tmp_path: Path) -> None:
    write_tf_checkpoint(tmp_path / "s", {"a": torch.ones(2)})
    index = tmp_path / "s.index"
    string_entry = BundleEntry("name/str", 7, (), 0, 0, 0, None, False)  # DT_STRING
    entries = _table_entries(index.read_bytes()) + [(b"name/str", encode_entry(string_entry))]
    index.write_bytes(_write_table(entries, 4096))
    with pytest.raises(Unsupported, match="string") as exc:
        read_tf_checkpoint(tmp_path / "s")
    assert "name/str" in _one_line(exc)
    assert set(read_tf_checkpoint(tmp_path / "s", select=lambda n: n != "name/str")) == {"a"}


def test_folder_resolution(tmp_path: Path) -> None:
    folder = _copy_tiny(tmp_path)
    (folder / "checkpoint").rename(folder / "checkpoint.txt")  # as Google Drive renames it
    assert checkpoint_prefix(folder) == folder / "tiny-3"
    (folder / "checkpoint.txt").write_text('model_checkpoint_path: "/elsewhere/logs/tiny-3"\n')
    assert checkpoint_prefix(folder) == folder / "tiny-3"  # saved on another machine
    (folder / "checkpoint.txt").unlink()
    assert checkpoint_prefix(folder) == folder / "tiny-3"  # the only .index
    shutil.copy(folder / "tiny-3.index", folder / "tiny-4.index")
    with pytest.raises(NotFound, match="checkpoint"):
        checkpoint_prefix(folder)
    with pytest.raises(NotFound, match="tiny-9.index"):
        read_tf_checkpoint(folder / "tiny-9")
