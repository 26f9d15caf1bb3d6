"""The checkpoint folder format: ``config.json`` + ``model.safetensors``.

A checkpoint is a folder::

    config.json        {"format": "inpaintkit", "version": 1, "model": "<registry name>",
                        "config": {...dataclass fields...}, "dtype": "float32",
                        ...free metadata (training steps, image size, ...)}
    model.safetensors  the state dict (fp32, or fp16 to halve the size)

Nothing is ever unpickled: ``.pt`` / ``.pth`` / ``.ckpt`` files are refused. Saving is
atomic: the folder is written under a temporary name beside the target and renamed into
place, so a crash leaves either the old checkpoint or the new one, never half of one.

Training writes checkpoints with :func:`save_model`; inference reads them with
:func:`load_checkpoint` (both depend on this module, never on each other). A checkpoint
path may be the folder, its ``model.safetensors`` or its ``config.json``.

Integrity: ``config.json`` carries ``"sha256": {"model.safetensors": "<hex digest>"}``,
written by :func:`save_model`; :func:`load_checkpoint` recomputes the digest and refuses a
file that differs (exit 2 naming it: corruption into finite values loads otherwise and
silently changes every fill). A config without the key (checkpoints older than it) loads
unchecked.

Loading refuses, with one line, a config whose model would have over
:data:`~inpaintkit.models.size.MAX_PARAMETERS` parameters (counted on the ``meta`` device, before anything is
allocated) and weights holding NaN or Inf. Temporary folders carry the writer's pid, so a
later save removes those of writers that no longer run (:func:`remove_leftovers`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inpaintkit.errors import InpaintError, NotFound
from inpaintkit.models.base import InpaintModel, config_from_dict, config_to_dict
from inpaintkit.models.registry import DISCRIMINATORS, MODELS, STYLIZERS, registered
from inpaintkit.models.size import check_model_size
from inpaintkit.tempfiles import pid_alive

FORMAT = "inpaintkit"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SHA256_KEY = "sha256"  # config.json: {file name: hex digest} of the weights files
_RESERVED = {"format", "version", "model", "config", "dtype"}
_PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle", ".tar"}

# A checkpoint folder of a generator may hold its trained discriminator in this
# subfolder (a checkpoint of its own), e.g. PIC-Net's, which ranks samples at inference.
DISCRIMINATOR_DIR = "discriminator"


def registry_name(model: nn.Module) -> str:
    """The registry name (:data:`MODELS` or :data:`DISCRIMINATORS`) of ``model``'s class
    (exact class first, then subclasses)."""
    table = registered()
    for name, cls in table.items():
        if type(model) is cls:
            return name
    for name, cls in table.items():
        if isinstance(model, cls):
            return name
    raise InpaintError(
        f"{type(model).__name__} is not a registered model (known: "
        f"{', '.join(sorted(table)) or 'none'}); only registered models can be saved"
    )


def check_finite_state(path: Path | str, state: dict[str, torch.Tensor]) -> None:
    """InpaintError naming the tensors holding NaN or Inf, if any."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise InpaintError(
            f"weights in {path} hold NaN or Inf in {len(bad)} tensor(s) ({', '.join(bad[:3])}): "
            f"the checkpoint is broken (a diverged training run?); use an earlier checkpoint"
        )


# --- saving ---------------------------------------------------------------------------

LEFTOVER_MARKERS = (".tmp-", ".old-")


def leftover_pid(name: str, markers: tuple[str, ...] = LEFTOVER_MARKERS) -> int | None:
    """The writer pid in a temporary name ``.<x><marker><pid>-...`` (None: not ours)."""
    if not name.startswith("."):
        return None
    for marker in markers:
        head, sep, tail = name.rpartition(marker)
        if sep and head:
            digits = tail.split("-", 1)[0]
            return int(digits) if digits.isdigit() else None
    return None


def remove_leftovers(parent: Path) -> list[Path]:
    """Remove the temporary folders of :func:`save_model` runs that were killed (their pid
    is gone); an ``.old-`` folder whose checkpoint is missing is renamed back (the kill
    came between the two renames). Returns the paths removed or restored."""
    done: list[Path] = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return done
    for entry in entries:
        pid = leftover_pid(entry.name)
        if pid is None or pid_alive(pid) or not entry.is_dir():
            continue
        target = entry.with_name(entry.name[1:].split(".old-")[0])
        if ".old-" in entry.name and not target.exists():
            os.rename(entry, target)
        else:
            shutil.rmtree(entry, ignore_errors=True)
        done.append(entry)
    return done


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _state_for_saving(model: nn.Module, dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    state = {}
    for key, tensor in model.state_dict().items():
        t = tensor.detach().cpu()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        # A private contiguous copy: safetensors refuses tensors that share storage
        # (tied weights) and non-contiguous views.
        state[key] = t.clone().contiguous()
    return state


def save_model(
    model: nn.Module,
    folder: str | os.PathLike,
    dtype: torch.dtype | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` as a checkpoint folder, atomically; returns the folder.

    ``dtype=torch.float16`` stores floating-point tensors in half precision (loaded back
    into fp32). ``metadata`` (JSON-able: training steps, image size, ...) is stored at the
    top level of config.json. An existing checkpoint at ``folder`` is replaced; any other
    existing file or folder there is refused rather than deleted.
    """
    from safetensors.torch import save_file

    if dtype not in (None, torch.float32, torch.float16, torch.bfloat16):
        raise InpaintError(f"unsupported checkpoint dtype {dtype} (float32, float16, bfloat16)")
    name = registry_name(model)
    extra = dict(metadata or {})
    clash = sorted(_RESERVED & set(extra))
    if clash:
        raise InpaintError(f"metadata keys {', '.join(clash)} are reserved in config.json")
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir():
            raise InpaintError(f"cannot save checkpoint to {folder}: it is a file")
        own = (CONFIG_FILE, WEIGHTS_FILE, DISCRIMINATOR_DIR)
        others = sorted(p.name for p in folder.iterdir() if p.name not in own)
        if others:
            raise InpaintError(
                f"refusing to replace {folder}: it holds files that are not part of a "
                f"checkpoint ({', '.join(others[:3])})"
            )
    parent = folder.parent if str(folder.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-{os.getpid()}-", dir=parent))
    except OSError as exc:
        raise InpaintError(f"cannot write checkpoint to {folder}: {exc.strerror or exc}") from None
    config = {
        "format": FORMAT,
        "version": VERSION,
        "model": name,
        "config": config_to_dict(model.config),
        "dtype": str(dtype or torch.float32).replace("torch.", ""),
        **extra,
    }
    try:
        weights = tmp / WEIGHTS_FILE
        save_file(_state_for_saving(model, dtype), str(weights), metadata={"model": name})
        # Hashed as written on disk; the computed digest replaces any given in ``metadata``
        # (metadata copied from a loaded checkpoint describes other bytes).
        config[SHA256_KEY] = {WEIGHTS_FILE: file_sha256(weights)}
        with open(tmp / CONFIG_FILE, "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        with open(weights, "rb") as fh:
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        if (folder / DISCRIMINATOR_DIR).is_dir():
            # The generator is replaced; its discriminator (saved separately) stays.
            shutil.copytree(folder / DISCRIMINATOR_DIR, tmp / DISCRIMINATOR_DIR)
        if folder.exists():
            # Directories cannot be replaced in one rename: move the old one aside first.
            # In between, the old checkpoint still exists intact under the aside name.
            aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-{os.getpid()}-", dir=parent))
            aside.rmdir()
            os.rename(folder, aside)
            os.rename(tmp, folder)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(tmp, folder)
        _fsync_dir(parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise InpaintError(f"cannot write checkpoint to {folder}: {exc.strerror or exc}") from None
        raise
    return folder


def file_sha256(path: str | os.PathLike) -> str:
    """The hex sha256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(2**20):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(info: dict[str, Any], config_path: Path, weights_path: Path) -> None:
    """InpaintError (exit 2) naming the weights file when its digest differs from the one
    recorded in config.json; nothing to check when none is recorded (older checkpoints)."""
    recorded = info.get(SHA256_KEY)
    if recorded is None:
        return
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        raise InpaintError(f"{config_path}: '{SHA256_KEY}' must map file names to hex digests")
    want = recorded.get(weights_path.name)
    if want is None:
        return
    try:
        got = file_sha256(weights_path)
    except OSError as exc:
        raise InpaintError(f"cannot read weights {weights_path}: {exc.strerror or exc}") from None
    if got != want.lower():
        raise InpaintError(
            f"{weights_path}: sha256 {got[:16]}... differs from {want[:16]}... recorded in {config_path.name}: "
            f"the weights file is corrupted or was changed (restore it, or re-save the model)"
        )


# --- loading --------------------------------------------------------------------------

def checkpoint_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """(config.json, weights) for a folder, a .safetensors file or a config.json path."""
    path = Path(path)
    if path.is_dir():
        config, weights = path / CONFIG_FILE, path / WEIGHTS_FILE
        if not config.is_file():
            raise NotFound(f"checkpoint folder {path} has no {CONFIG_FILE}")
        if not weights.is_file():
            raise NotFound(f"checkpoint folder {path} has no {WEIGHTS_FILE}")
        return config, weights
    suffix = path.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        raise InpaintError(
            f"refusing to load {path}: pickle checkpoints ({suffix}) can run arbitrary code; "
            f"use a safetensors checkpoint folder"
        )
    if suffix == ".safetensors":
        config = path.parent / CONFIG_FILE
        if not config.is_file():
            raise NotFound(f"{path} has no {CONFIG_FILE} beside it")
        return config, path
    if path.name == CONFIG_FILE:
        return checkpoint_files(path.parent)
    raise InpaintError(
        f"cannot load {path}: expected a checkpoint folder, a .safetensors file or an .onnx file"
    )


def read_checkpoint_config(path: str | os.PathLike) -> dict[str, Any]:
    """The validated contents of a checkpoint's config.json."""
    config_path, _ = checkpoint_files(path)
    try:
        info = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InpaintError(f"cannot read {config_path}: {exc}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise InpaintError(f"{config_path} is not an inpaintkit checkpoint config")
    version = info.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise InpaintError(
            f"{config_path} has checkpoint version {version!r}; this inpaintkit reads "
            f"version <= {VERSION} (upgrade inpaintkit)"
        )
    name = info.get("model")
    if name not in registered():
        raise InpaintError(
            f"{config_path} names unknown model {name!r} (known: {', '.join(sorted(MODELS)) or 'none'})"
        )
    if not isinstance(info.get("config", {}), dict):
        raise InpaintError(f"{config_path}: 'config' must be an object")
    return info


def check_state(path: Path, expected: dict[str, torch.Tensor], got: dict[str, torch.Tensor]) -> None:
    """InpaintError naming missing / unexpected keys and shape mismatches, if any."""
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [k for k in expected if k in got and tuple(got[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or shapes):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])})")
    if shapes:
        k = shapes[0]
        parts.append(
            f"{len(shapes)} with other shapes ({k}: {tuple(got[k].shape)} in the file, "
            f"{tuple(expected[k].shape)} in the model)"
        )
    raise InpaintError(f"weights in {path} do not match the config: {'; '.join(parts)}")


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu", kind: str = "generator"
) -> tuple[InpaintModel, dict[str, Any]]:
    """The model of a checkpoint (eval mode, fp32, on ``device``) and its config.json
    metadata (everything but format, version and config: ``model``, ``dtype``, ...).
    ``kind``: "generator" (a :data:`MODELS` entry), "discriminator" or "stylizer"
    (:data:`STYLIZERS`, ``inpaintkit stylize``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    info = read_checkpoint_config(path)
    config_path, weights_path = checkpoint_files(path)
    name = info["model"]
    tables = {"generator": MODELS, "discriminator": DISCRIMINATORS, "stylizer": STYLIZERS}
    table = tables[kind]
    if name not in table:
        holds = next(k for k, t in tables.items() if name in t)
        raise InpaintError(f"{config_path}: '{name}' is not a {kind} (this checkpoint holds a {holds})")
    cls = table[name]
    try:
        config = config_from_dict(cls.config_class, info.get("config", {}))
        check_model_size(name, config, what=f"{config_path}: model")
        model = cls(config)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InpaintError(f"{config_path}: bad config for {name}: {exc}") from None
    check_sha256(info, config_path, weights_path)
    try:
        state = load_file(str(weights_path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise InpaintError(f"cannot read weights {weights_path}: {exc}") from None
    expected = model.state_dict()
    check_state(weights_path, expected, state)
    check_finite_state(weights_path, state)
    # fp16/bf16 files go into the model's own (fp32) parameters.
    state = {k: v.to(expected[k].dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    model.eval().to(device)
    metadata = {k: v for k, v in info.items() if k not in ("format", "version", "config", SHA256_KEY)}
    return model, metadata


def load_discriminator(
    folder: str | os.PathLike, device: str | torch.device = "cpu"
) -> nn.Module | None:
    """The discriminator saved beside a generator checkpoint (``folder/discriminator/``),
    or None when the folder has none."""
    sub = Path(folder) / DISCRIMINATOR_DIR
    if not (sub / CONFIG_FILE).is_file():
        return None
    model, _ = load_checkpoint(sub, device, kind="discriminator")
    return model
