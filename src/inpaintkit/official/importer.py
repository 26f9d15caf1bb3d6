"""Official release file(s) -> an ordinary inpaintkit checkpoint folder, all or nothing.

``import_weights(src, format, out)``: read the release with the format's reader (never
unpickling code), convert its tensors to the registry model's layout with the
compatibility settings that make it compute what the official code computes, build that
model, check the converted state against it key by key and shape by shape (one line naming
what does not match), and write ``out`` (config.json + model.safetensors, and
``discriminator/`` when the release has one) with its provenance::

    "provenance": {"format": ..., "source": "<file name>", "sha256": "<hex>",
                   "files": [{"name": ..., "sha256": ..., "bytes": ...}, ...],
                   "dataset": "places2" | null, "imported_with": "inpaintkit 0.1.0"}

The folder is assembled under a temporary name beside ``out`` and renamed into place at the
end, so a failure at any step leaves nothing behind; an existing ``out`` is refused unless
``overwrite`` (and then only when it is an inpaintkit checkpoint folder).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from inpaintkit.errors import InpaintError, NotFound
from inpaintkit.models.base import config_from_dict
from inpaintkit.models.registry import DISCRIMINATORS, MODELS, create_discriminator, create_model
from inpaintkit.models.serialization import (
    CONFIG_FILE,
    DISCRIMINATOR_DIR,
    check_finite_state,
    check_state,
    save_model,
)
from inpaintkit.official import OfficialFormat, State, get_format


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_weights` wrote."""

    folder: Path
    model: str
    parameters: int
    discriminator: str | None
    provenance: dict[str, Any]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_files(src: Path) -> list[Path]:
    """The files a release path stands for: the file itself; every regular file of a
    folder; for a TF prefix (``snap-100`` naming ``snap-100.index`` + shards) its files."""
    if src.is_file():
        return [src]
    if src.is_dir():
        return sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    siblings = sorted(src.parent.glob(src.name + ".*")) if src.parent.is_dir() else []
    return [p for p in siblings if p.is_file()]


def _build(kind: str, name: str, overrides: dict[str, Any], state: State, src: Path) -> torch.nn.Module:
    table = MODELS if kind == "generator" else DISCRIMINATORS
    if name not in table:
        raise InpaintError(f"format produced unknown {kind} '{name}'")
    try:
        config_from_dict(table[name].config_class, overrides)  # a bad override is one line, not a trace
        model = (create_model if kind == "generator" else create_discriminator)(name, **overrides)
    except (TypeError, ValueError) as exc:
        raise InpaintError(f"{src}: the converted {kind} config is invalid: {exc}") from None
    check_state(src, model.state_dict(), state)
    check_finite_state(src, state)
    expected = model.state_dict()
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)
    return model.eval()


def _prepare_out(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not overwrite:
        raise InpaintError(f"{out} already exists: choose another --out, or pass --overwrite to replace it")
    if not out.is_dir() or not (out / CONFIG_FILE).is_file():
        raise InpaintError(f"refusing to replace {out}: it is not an inpaintkit checkpoint folder")


def import_weights(
    src: str | os.PathLike,
    format: str | OfficialFormat,
    out: str | os.PathLike,
    dataset: str | None = None,
    overwrite: bool = False,
) -> ImportResult:
    """Import an official release into the checkpoint folder ``out`` (see the module docstring)."""
    from inpaintkit import __version__

    fmt = get_format(format) if isinstance(format, str) else format
    src, out = Path(src).expanduser(), Path(out).expanduser()
    files = fmt.files(src) if fmt.files is not None and src.exists() else source_files(src)
    if not files:
        raise NotFound(f"weights not found: {src}")
    _prepare_out(out, overwrite)
    official = fmt.read(src)
    overrides, g_state, disc = fmt.convert(official)
    generator = _build("generator", fmt.model, overrides, g_state, src)
    discriminator = None
    if disc is not None:
        d_name, d_overrides, d_state = disc
        discriminator = (d_name, _build("discriminator", d_name, d_overrides, d_state, src))
    hashes = [{"name": p.name, "sha256": file_sha256(p), "bytes": p.stat().st_size} for p in files]
    provenance = {
        "format": fmt.name,
        "source": src.name,
        "sha256": hashes[0]["sha256"] if len(hashes) == 1 else None,
        "files": hashes,
        "dataset": dataset,
        "imported_with": f"inpaintkit {__version__}",
    }
    meta = {"provenance": provenance, "description": f"{fmt.summary} (imported)"}

    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise InpaintError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        folder = save_model(generator, staging / "ckpt", metadata=meta)
        if discriminator is not None:
            save_model(discriminator[1], folder / DISCRIMINATOR_DIR, metadata={"provenance": provenance})
        if out.exists():  # checked by _prepare_out: an inpaintkit checkpoint, overwrite asked
            # The old folder stays whole (aside, inside the staging folder) until the new
            # one is in place.
            os.rename(out, staging / "old")
        os.rename(folder, out)
    except OSError as exc:
        raise InpaintError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    params = sum(p.numel() for p in generator.parameters())
    return ImportResult(out, fmt.model, params, discriminator[0] if discriminator else None, provenance)
