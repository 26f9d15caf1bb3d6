"""Training checkpoints: atomic, self-describing, no pickle.

A checkpoint is a folder ``<run>/checkpoints/step_00001234/`` holding

* ``model.safetensors`` + ``config.json``: the generator to ship (EMA weights when EMA is
  on), loadable on its own by ``inpaintkit.inference.load_model``;
* ``state.safetensors``: every tensor needed to resume (raw generator, discriminator, EMA,
  optimizer moments, RNG state);
* ``state.json``: the rest (step, resolved training config, optimizer/scheduler
  hyper-parameters, which tensors belong where).

It is written into a temporary sibling folder and renamed into place, then ``latest`` (a
one-line text file) is replaced atomically, so a kill at any moment leaves the previous
checkpoint intact and ``latest`` always names a complete one. Temporary names carry the
writer's pid: the next save removes those left by a killed writer. Pruning keeps the
``keep_last`` newest and never the one just written (the training loop writes only
verified-good checkpoints, so the newest verified one always survives, also when a run
resumed from an older step leaves higher-numbered folders behind).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from inpaintkit.errors import InpaintError
from inpaintkit.models.serialization import remove_leftovers, save_model
from inpaintkit.tempfiles import pid_alive

TENSOR = "__tensor__"


def _flatten_optimizer(sd: dict[str, Any], prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    tensors: dict[str, torch.Tensor] = {}
    state: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        state[str(idx)] = {}
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{idx}.{key}"] = value.detach().cpu().contiguous()
                state[str(idx)][key] = TENSOR
            else:
                state[str(idx)][key] = value
    return tensors, {"state": state, "param_groups": sd["param_groups"]}


def _unflatten_optimizer(meta: dict, tensors: dict[str, torch.Tensor], prefix: str) -> dict:
    state = {}
    for idx, entry in meta["state"].items():
        state[int(idx)] = {
            k: (tensors[f"{prefix}.{idx}.{k}"] if v == TENSOR else v) for k, v in entry.items()
        }
    return {"state": state, "param_groups": meta["param_groups"]}


def _prefixed(prefix: str, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # clone(): safetensors refuses tensors that share storage (e.g. tied or viewed weights).
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone() for k, v in sd.items()}


def _strip(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def save_checkpoint(
    ckpt_root: Path,
    step: int,
    *,
    generator: torch.nn.Module,
    release: torch.nn.Module,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    extra_state: dict[str, Any],
    keep_last: int = 3,
) -> Path:
    """Write checkpoint ``step`` under ``ckpt_root`` atomically; prune to ``keep_last``.

    ``release`` is the generator to ship (the EMA copy or ``generator`` itself);
    ``modules`` are other modules to resume (discriminator, ema), ``extra_state`` any
    JSON-able state (step, config, schedulers, scaler)."""
    ckpt_root.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(ckpt_root)
    final = ckpt_root / f"step_{step:08d}"
    tmp = ckpt_root / f".tmp_step_{step:08d}_{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        save_model(release, tmp, metadata={"step": step})
        tensors = _prefixed("generator", generator.state_dict())
        for name, module in modules.items():
            tensors.update(_prefixed(name, module.state_dict()))
        opt_meta = {}
        for name, opt in optimizers.items():
            t, meta = _flatten_optimizer(opt.state_dict(), f"optim_{name}")
            tensors.update(t)
            opt_meta[name] = meta
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                tensors[f"rng.cuda{i}"] = s
        save_file(tensors, str(tmp / "state.safetensors"))
        state = {"format": "inpaintkit-train", "version": 1, "step": step,
                 "modules": sorted(modules), "optimizers": opt_meta, **extra_state}
        (tmp / "state.json").write_text(json.dumps(state, indent=1, default=_json_default))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_latest(ckpt_root, final.name)
    _prune(ckpt_root, keep_last, keep=final)
    return final


def remove_stale_temporaries(ckpt_root: Path) -> list[Path]:
    """Remove what killed writers left in ``ckpt_root``: ``.tmp_step_<step>_<pid>``
    folders, ``.latest.<pid>`` files and :func:`save_model`'s temporaries (pid gone)."""
    removed = remove_leftovers(ckpt_root)
    for entry in list(ckpt_root.iterdir()):
        name = entry.name
        if name.startswith(".tmp_step_"):
            pid = name.rsplit("_", 1)[-1]
        elif name.startswith(".latest."):
            pid = name.rsplit(".", 1)[-1]
        else:
            continue
        if not pid.isdigit() or pid_alive(int(pid)):
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _json_default(value: Any) -> Any:
    if torch.is_tensor(value):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _write_latest(ckpt_root: Path, name: str) -> None:
    tmp = ckpt_root / f".latest.{os.getpid()}"
    tmp.write_text(name + "\n")
    os.replace(tmp, ckpt_root / "latest")


def _prune(ckpt_root: Path, keep_last: int, keep: Path) -> None:
    """Keep ``keep`` (the checkpoint just written, named by ``latest``) and the newest
    others, ``keep_last`` in all."""
    others = sorted(p for p in ckpt_root.glob("step_*") if p.is_dir() and p.name != keep.name)
    for old in others[: max(0, len(others) - (max(1, keep_last) - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def find_checkpoint(path: Path) -> Path | None:
    """A checkpoint folder itself, or the one named by ``latest`` in a checkpoints folder
    or run folder; None if there is none yet."""
    path = Path(path)
    if (path / "state.json").is_file():
        return path
    for root in (path, path / "checkpoints"):
        latest = root / "latest"
        if latest.is_file():
            target = root / latest.read_text().strip()
            if (target / "state.json").is_file():
                return target
    return None


def load_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(state.json contents, all tensors of state.safetensors); an InpaintError naming the
    file that cannot be read (a truncated one: ``SafetensorError``, not an OSError)."""
    from safetensors import SafetensorError

    for name in ("state.json", "state.safetensors"):
        try:
            if name == "state.json":
                meta = json.loads((path / name).read_text())
            else:
                tensors = load_file(str(path / name))
        except (OSError, ValueError, SafetensorError) as exc:
            raise InpaintError(f"cannot read checkpoint file {path / name}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != "inpaintkit-train":
        raise InpaintError(f"{path} is not an inpaintkit training checkpoint")
    return meta, tensors


def load_resumable(found: Path, fallback: bool) -> tuple[Path, dict[str, Any], dict[str, torch.Tensor]]:
    """(the checkpoint resumed from, its state.json, its tensors). When ``found`` cannot be
    read (truncated by a full disk, damaged) and ``fallback`` (it was picked as the run's
    latest, not named by the user), the newest earlier ``step_*`` of its folder that reads
    is used instead, with a warning on stderr naming the bad one."""
    import sys

    try:
        return (found, *load_checkpoint(found))
    except InpaintError as exc:
        if not fallback:
            raise
        first = exc
    earlier = sorted((p for p in found.parent.glob("step_*") if p.is_dir() and p.name < found.name), reverse=True)
    for older in earlier:
        try:
            meta, tensors = load_checkpoint(older)
        except InpaintError:
            continue
        print(f"warning: {first}; resuming from the previous checkpoint {older}", file=sys.stderr)
        return older, meta, tensors
    raise InpaintError(f"{first} (and no earlier checkpoint in {found.parent} can be read)")


def restore(
    meta: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    *,
    generator: torch.nn.Module,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
) -> None:
    """Load weights, optimizer moments and RNG state saved by :func:`save_checkpoint`."""
    generator.load_state_dict(_strip("generator", tensors))
    for name, module in modules.items():
        module.load_state_dict(_strip(name, tensors))
    for name, opt in optimizers.items():
        opt.load_state_dict(_unflatten_optimizer(meta["optimizers"][name], tensors, f"optim_{name}"))
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda")]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
