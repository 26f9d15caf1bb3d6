"""Model names and paths -> loaded generators, on top of :mod:`inpaintkit.models.serialization`.

:func:`resolve_model` accepts ``default`` (the shipped weights in
``inpaintkit/weights/default/`` when a learned model has earned the place; without them,
the classical :data:`DEFAULT_CLASSICAL`, and it says so), a registry name (the
classical ``telea`` / ``ns`` / ``smooth``, or a network: its shipped weights in
``inpaintkit/weights/<name>/`` when the package has them; a network without shipped
weights is refused with a one-line error that says how to get weights, unless
``allow_untrained=True`` asks for random weights explicitly: then a loud warning), a
checkpoint folder, a ``.safetensors`` file with its ``config.json`` beside
it, or an ``.onnx`` file. :func:`available_models` lists the names for menus (the web app,
``inpaintkit models``) so that they need not import the registry.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from inpaintkit.errors import InpaintError, NotFound
from inpaintkit.inference import DEFAULT_CLASSICAL as _DEFAULT_CLASSICAL
from inpaintkit.inference.device import resolve_device
from inpaintkit.models import MODELS, create_model
from inpaintkit.models.serialization import (
    CONFIG_FILE,
    load_checkpoint,
    load_discriminator,
    read_checkpoint_config,
)
from inpaintkit.quality import describe as describe_quality
from inpaintkit.quality import folder_quality

logger = logging.getLogger(__name__)

# The weights that ship with the package (config.json + model.safetensors), one folder
# per name: "default" and the registry networks trained by configs/cpu/*.yaml.
WEIGHTS_ROOT = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_WEIGHTS = WEIGHTS_ROOT / "default"
# "default" without shipped default weights: PatchMatch's texture on smooth's low
# frequencies, the best fill measured on the val protocol's 600 pairs (README "Default
# model": as accurate as PatchMatch and more realistic, faster; no learned model beats it
# on both accuracy and realism yet). `smooth` is the most accurate one. Defined in the
# package's torch-free __init__ (`inpaintkit models` prints it without importing torch).
DEFAULT_CLASSICAL = _DEFAULT_CLASSICAL
DEFAULT_NOTE = ("default model: PatchMatch on smooth's low frequencies (classical; real texture "
                "from the photo, use --model smooth for the most accurate, blurred fill)")


def shipped_weights(name: str) -> Path | None:
    """The package's weights folder for registry network ``name``, or None."""
    folder = WEIGHTS_ROOT / name
    return folder if name in MODELS and (folder / CONFIG_FILE).is_file() else None


class UntrainedModelWarning(UserWarning):
    """A registry model was loaded with random weights (the CLI shows it as a note)."""


@dataclasses.dataclass
class LoadedModel:
    """What :func:`resolve_model` found: the module plus how to describe it."""

    model: Any
    name: str  # registry name ("deepfill_v2", "telea", "onnx:file.onnx")
    source: str  # "registry", "classical", "default", "checkpoint", "onnx"
    notes: list[str] = dataclasses.field(default_factory=list)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The discriminator shipped beside a pluralistic model (ranks its samples), or None.
    discriminator: Any = None


@dataclasses.dataclass(frozen=True)
class ModelChoice:
    """A model on offer: one name :func:`resolve_model` accepts without a path (the web
    catalog adds the kinds "file" and "injected")."""

    name: str
    kind: str  # "default", "classical", "network", "imported", "file", "injected"
    pluralistic: bool
    untrained: bool  # a network without weights: its output is noise
    description: str
    # Measured quality (inpaintkit.quality): "usable" / "experimental" (below the quality
    # floor, README "Models") / "unmeasured" for learned weights; "classical"; "untrained".
    status: str = ""
    gap: str = ""  # one line: the measured gap to the floor (worst bucket)


_CLASSICAL_DESCRIPTIONS = {
    "telea": "OpenCV Telea (classical, fast)",
    "ns": "OpenCV Navier-Stokes (classical, fast)",
    "smooth": "mean of Telea and NS, low-passed deep in the hole (classical, most accurate)",
    "patchmatch": "PatchMatch patch copying (classical, sharp texture)",
    "patchmatch_lf": "PatchMatch texture on smooth's low frequencies (classical)",
    "mean": "flat mean colour of the known pixels (the floor every method must clear)",
}


def classical_names() -> list[str]:
    """The registered classical fills, in registry order (telea, ns, smooth)."""
    return [name for name, cls in MODELS.items() if cls.classical]


def default_model_name() -> str | None:
    """The registry name of the shipped default weights (None: none are shipped)."""
    if not (DEFAULT_WEIGHTS / CONFIG_FILE).is_file():
        return None
    return str(read_checkpoint_config(DEFAULT_WEIGHTS)["model"])


def available_models() -> list[ModelChoice]:
    """``default``, the classical fills, the networks by name, then the checkpoint folders
    of :func:`weights_dirs` (imported official weights, your own runs) by folder name."""
    try:
        shipped = default_model_name()
    except InpaintError as exc:
        default = ModelChoice("default", "default", False, False, f"shipped weights (unreadable: {exc})")
    else:
        if shipped is None:
            default = ModelChoice("default", "default", False, False,
                                  "PatchMatch (classical): the most realistic fill measured")
        else:
            default = ModelChoice("default", "default", MODELS[shipped].pluralistic, False,
                                  f"shipped weights of {shipped}")
    choices = [default]
    choices += [ModelChoice(name, "classical", False, False, _CLASSICAL_DESCRIPTIONS.get(name, f"{name} (classical)"),
                            "classical") for name in classical_names()]
    for name in sorted(MODELS):
        if MODELS[name].classical:
            continue
        folder = shipped_weights(name)
        if folder is not None:
            status, gap = describe_quality(folder_quality(folder))
            choices.append(ModelChoice(name, "network", MODELS[name].pluralistic, False,
                                       f"{MODELS[name].__name__}, shipped CPU-trained weights", status, gap))
        else:
            choices.append(ModelChoice(name, "network", MODELS[name].pluralistic, True,
                                       f"{MODELS[name].__name__} with random weights (no checkpoint given)",
                                       "untrained", "random weights"))
    return choices + imported_models()


# Folders scanned for imported / trained checkpoint folders (``inpaintkit weights import
# --out DIR`` inside one of them): os.pathsep-separated, read at each call.
WEIGHTS_DIR_ENV = "INPAINTKIT_WEIGHTS_DIR"


def weights_dirs(extra: list[str | os.PathLike] | None = None) -> list[Path]:
    """The folders given by ``extra`` (a ``--weights-dir`` option) and :data:`WEIGHTS_DIR_ENV`."""
    found = [Path(p).expanduser() for p in (extra or [])]
    env = os.environ.get(WEIGHTS_DIR_ENV, "")
    found += [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return found


def folder_models(dirs: list[Path]) -> dict[str, Path]:
    """Name -> checkpoint folder for every generator checkpoint directly inside ``dirs``
    (the first folder of a name wins; registry and classical names are never shadowed).
    Folders whose config.json is unreadable or holds no generator are skipped."""
    found: dict[str, Path] = {}
    for root in dirs:
        try:
            entries = sorted(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name in found or entry.name in MODELS or entry.name == "default":
                continue
            try:
                info = read_checkpoint_config(entry) if (entry / CONFIG_FILE).is_file() else None
            except InpaintError:
                info = None
            if info is not None and info["model"] in MODELS:
                found[entry.name] = entry
    return found


def describe_folder(folder: Path) -> str:
    """One line on a checkpoint folder's origin: its provenance when imported."""
    info = read_checkpoint_config(folder)
    prov = info.get("provenance")
    if isinstance(prov, dict):
        dataset = f", {prov['dataset']}" if prov.get("dataset") else ""
        digest = (prov.get("sha256") or (prov.get("files") or [{}])[0].get("sha256") or "")[:12]
        return f"{info['model']}, imported from {prov.get('source')} ({prov.get('format')}{dataset}, sha256 {digest})"
    return f"{info['model']}, checkpoint folder {folder}"


def imported_models(dirs: list[Path] | None = None) -> list[ModelChoice]:
    """The checkpoint folders of :func:`weights_dirs` as menu entries (kind "imported")."""
    choices = []
    for name, folder in folder_models(weights_dirs() if dirs is None else dirs).items():
        model = read_checkpoint_config(folder)["model"]
        status, gap = describe_quality(folder_quality(folder))
        choices.append(ModelChoice(name, "imported", MODELS[model].pluralistic, False, describe_folder(folder),
                                   status, gap))
    return choices


def experimental_note(name: str, folder: Path) -> list[str]:
    """The one-line warning for weights measured below the quality floor (else nothing)."""
    status, gap = describe_quality(folder_quality(folder))
    if status != "experimental":
        return []
    return [f"{name} is EXPERIMENTAL, below the quality floor: {gap}; the default model fills better"]


def _untrained(name: str, device: torch.device) -> LoadedModel:
    message = (
        f"model '{name}' is UNTRAINED (random weights): its output is noise; pass a "
        f"checkpoint folder for real results"
    )
    warnings.warn(message, UntrainedModelWarning, stacklevel=3)
    model = create_model(name).eval().to(device)
    return LoadedModel(model, name, "registry", [message])


def _trained_on(metadata: dict[str, Any]) -> str:
    steps, minutes = metadata.get("steps"), metadata.get("cpu_minutes")
    parts = [f"{steps} steps" if steps else "", f"{minutes} CPU-minutes" if minutes else ""]
    return ", ".join(p for p in parts if p) or "trained"


def resolve_model(name_or_path: str | os.PathLike, device: str | torch.device = "cpu",
                  allow_untrained: bool = False) -> LoadedModel:
    """Find and load a model; see the module docstring for what ``name_or_path`` may be.

    Names take precedence over same-named paths (write ``./telea`` for a folder so named).
    """
    dev = resolve_device(device)
    key = os.fspath(name_or_path)
    if key == "default":
        if (DEFAULT_WEIGHTS / CONFIG_FILE).is_file():
            model, metadata = load_checkpoint(DEFAULT_WEIGHTS, dev)
            name = metadata["model"]
            return LoadedModel(model, name, "default", [f"default model: shipped weights of {name}"], metadata)
        logger.info(DEFAULT_NOTE)
        return LoadedModel(create_model(DEFAULT_CLASSICAL), DEFAULT_CLASSICAL, "default", [DEFAULT_NOTE])
    if key in MODELS:
        if MODELS[key].classical:
            return LoadedModel(create_model(key), key, "classical")
        shipped = shipped_weights(key)
        if shipped is not None and not allow_untrained:
            model, metadata = load_checkpoint(shipped, dev)
            notes = [f"{key}: shipped weights ({_trained_on(metadata)})", *experimental_note(key, shipped)]
            return LoadedModel(model, key, "shipped", notes, metadata, _ranker(model, shipped, dev))
        if not allow_untrained:
            raise NotFound(
                f"model '{key}' has no trained weights in this package: train it "
                f"(inpaintkit train -c configs/...) and pass the checkpoint folder, or ask for "
                f"random weights explicitly (--allow-untrained)"
            )
        return _untrained(key, dev)
    in_dirs = folder_models(weights_dirs()).get(key) if os.sep not in key else None
    if in_dirs is not None:
        model, metadata = load_checkpoint(in_dirs, dev)
        return LoadedModel(model, metadata["model"], "checkpoint", [f"{key}: {describe_folder(in_dirs)}"],
                           metadata, _ranker(model, in_dirs, dev))
    path = Path(key).expanduser()
    if not path.exists():
        known = ", ".join(["default", *classical_names(), *sorted(set(MODELS) - set(classical_names()))])
        raise NotFound(f"unknown model '{key}': not a model name ({known}) nor an existing path")
    if path.is_file() and path.suffix.lower() == ".onnx":
        from inpaintkit.inference.onnx_model import OnnxInpaintModel

        onnx = OnnxInpaintModel(path, device=dev)
        return LoadedModel(onnx, f"onnx:{path.name}", "onnx", [], dict(onnx.metadata))
    model, metadata = load_checkpoint(path, dev)
    folder = path if path.is_dir() else path.parent
    return LoadedModel(model, metadata["model"], "checkpoint", experimental_note(str(path), folder), metadata,
                       _ranker(model, folder, dev))


def _ranker(model: Any, folder: Path, device: torch.device) -> Any:
    """The discriminator saved in ``folder/discriminator/`` for a pluralistic model."""
    return load_discriminator(folder, device) if getattr(model, "pluralistic", False) else None


def load_model(name_or_path: str | os.PathLike, device: str | torch.device = "cpu",
               allow_untrained: bool = False) -> Any:
    """Load a generator (in eval mode, on ``device``) by name or path; see :func:`resolve_model`.

    ``allow_untrained``: a registry network name gives fresh random weights (even when
    weights are shipped), e.g. for tests, benchmarks and training from scratch."""
    return resolve_model(name_or_path, device, allow_untrained).model
