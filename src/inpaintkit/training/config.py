"""Training configuration: one frozen dataclass, loaded from a flat YAML file.

A YAML file sets top-level fields by name; the three ``*_args`` fields are small mappings
passed through to the model, the discriminator and the objective (their own frozen
dataclasses check the keys). ``--set key=value`` overrides any field, ``--set
model_args.cnum=32`` one entry of a mapping; values are parsed as YAML scalars.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inpaintkit.errors import InpaintError


@dataclass(frozen=True)
class TrainConfig:
    name: str = "run"
    method: str = "deepfill"  # key of training.objectives.OBJECTIVES
    model: str = "deepfill_v2"  # key of models.MODELS
    model_args: dict[str, Any] = field(default_factory=dict)
    tiny: bool = False  # start from the model's test-sized config (smoke tests)
    # fine-tuning: generator weights to start from (a checkpoint / weights folder holding
    # model.safetensors, or a .safetensors file); ignored when resuming
    init: str = ""
    # init from a model with fewer input channels (e.g. DeepFill v2 in_extra 0 -> 1, a
    # sketch channel): the first convs' new input channels start at zero weights, so the
    # model equals the given one while those inputs are zero; other mismatches stay errors
    init_expand_inputs: bool = False
    # fine-tuning: discriminator weights to start from (a training checkpoint folder, its
    # "discriminator." tensors; expanded as above when init_expand_inputs); "" = fresh
    init_discriminator: str = ""
    discriminator: str | None = "sn_patchgan"
    disc_args: dict[str, Any] = field(default_factory=dict)
    objective_args: dict[str, Any] = field(default_factory=dict)
    # data: any image folder (recursive); masks are generated (free-form + boxes), never
    # taken from the irregular test set.
    data: str = "../shared/data/train"
    size: int = 256
    crop_mode: str = "crop"  # crop | resize
    # training masks: "mixed" (strokes with p = free_form_prob, else a box; sometimes
    # both) or "deepfill" (DeepFill v2's official box OR strokes at every step); "full":
    # all ones (methods that generate the whole image: stylization)
    masks: str = "mixed"
    free_form_prob: float = 0.7  # "mixed": the rest are box masks
    num_workers: int = 1
    # 0: fresh items every step; N: a fixed pool of N items (image, mask, coarse fill)
    # computed once by num_workers processes and cached in the run folder, for coarse
    # inputs too slow to compute per step (patchmatch); served with random flips
    pool: int = 0
    # optimisation
    steps: int = 10000
    # compute budget: stop after this many CPU-minutes of the training process (all its
    # threads, data workers excluded; saved in checkpoints, so resumed runs count on);
    # 0 = off. With a budget, lr schedules run over the budget instead of the steps.
    budget_cpu_minutes: float = 0.0
    batch_size: int = 16
    lr_g: float = 1e-4
    lr_d: float = 1e-4
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    lr_schedule: str = "constant"  # constant | cosine | linear (decay to 0 at `steps`)
    warmup_steps: int = 0
    grad_clip: float = 0.0  # max global grad norm; 0 = off
    amp: bool = False  # bf16 autocast (CPU, Ampere+ GPUs); fp16 + GradScaler on older GPUs
    ema: float = 0.0  # generator EMA decay, e.g. 0.999; 0 = off
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # torch threads per process; 0 = torch's default
    # bookkeeping
    out_dir: str = "runs"
    log_every: int = 10
    image_every: int = 500
    ckpt_every: int = 500  # steps
    ckpt_minutes: float = 0.0  # also checkpoint after this many minutes; 0 = off
    keep_last: int = 3

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / self.name


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value: Any) -> Any:
    default = _FIELDS[name].default
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(default, float) and not isinstance(value, bool) and isinstance(value, (int, str)):
        try:  # YAML 1.1 reads "2e-4" as a string
            return float(value)
        except ValueError:
            raise InpaintError(f"option {name}: expected a number, got '{value}'") from None
    return value


# Bounds checked by check_config before any work: option -> (lowest, highest, lowest excluded).
# A value outside them used to fail deep inside the run ("internal error" from a data
# worker for batch_size 0, then a hang) or be taken silently (steps -5).
_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "size": (16, 1 << 15, False), "num_workers": (0, 256, False), "pool": (0, 1 << 31, False),
    "steps": (1, 1 << 62, False), "budget_cpu_minutes": (0, float("inf"), False), "batch_size": (1, 1 << 16, False),
    "lr_g": (0, float("inf"), False), "lr_d": (0, float("inf"), False), "warmup_steps": (0, 1 << 62, False),
    "grad_clip": (0, float("inf"), False), "ema": (0, 1, False), "seed": (0, 2**63 - 1, False),
    "threads": (0, 4096, False), "log_every": (0, 1 << 62, False), "image_every": (0, 1 << 62, False),
    "ckpt_every": (0, 1 << 62, False), "ckpt_minutes": (0, float("inf"), False), "keep_last": (1, 1 << 20, False),
    "free_form_prob": (0, 1, False),
}
_CHOICES = {"crop_mode": ("crop", "resize"), "masks": ("mixed", "deepfill", "full"),
            "lr_schedule": ("constant", "cosine", "linear")}


def _bad(name: str, value: Any, expected: str) -> InpaintError:
    return InpaintError(f"training option {name}: expected {expected}, got {value!r}")


def check_config(cfg: TrainConfig) -> TrainConfig:
    """Every option's type and range (one-line :class:`InpaintError`, exit 2, naming the
    option and value); returns ``cfg``. The model's own options are checked by its config
    dataclass, the method by the loop (its table imports torch)."""
    import math

    for name, f in _FIELDS.items():
        value, default = getattr(cfg, name), f.default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise _bad(name, value, "true or false")
        elif isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
            raise _bad(name, value, "an integer")
        elif isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, (int, float))
                                             or not math.isfinite(value)):
            raise _bad(name, value, "a finite number")
        elif isinstance(default, str) and not isinstance(value, str) and not (name == "discriminator"
                                                                              and value is None):
            raise _bad(name, value, "a string")
    for name, (low, high, open_low) in _BOUNDS.items():
        value = getattr(cfg, name)
        if value < low or (open_low and value == low) or value > high:
            side = f"> {low:g}" if open_low else f">= {low:g}"
            raise _bad(name, value, f"a value {side}" + (f" and <= {high:g}" if high != float("inf") else ""))
    if cfg.ema >= 1:
        raise _bad("ema", cfg.ema, "a decay >= 0 and < 1 (0 = off)")
    for name, allowed in _CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise _bad(name, getattr(cfg, name), f"one of {', '.join(allowed)}")
    for name in ("betas_g", "betas_d"):
        betas = getattr(cfg, name)
        if (not isinstance(betas, tuple) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
            raise _bad(name, betas, "two numbers in [0, 1)")
    if not cfg.name.strip() or "/" in cfg.name or cfg.name in (".", ".."):
        raise _bad("name", cfg.name, "a run name (a folder name under out_dir)")
    for name in ("model_args", "disc_args", "objective_args"):
        if not isinstance(getattr(cfg, name), dict):
            raise _bad(name, getattr(cfg, name), "a mapping")
    return cfg


def config_from_mapping(values: dict[str, Any]) -> TrainConfig:
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise InpaintError(f"unknown training option(s): {', '.join(unknown)}")
    return check_config(TrainConfig(**{k: _coerce(k, v) for k, v in values.items()}))


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``["steps=100", "model_args.cnum=32"]`` applied to a mapping (copied)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for item in overrides:
        if "=" not in item:
            raise InpaintError(f"--set expects key=value, got '{item}'")
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw else ""
        if "." in key:
            head, sub = key.split(".", 1)
            if head not in _FIELDS or _FIELDS[head].default_factory is not dict:
                raise InpaintError(f"--set {key}: '{head}' is not a mapping option")
            out.setdefault(head, {})
            out[head] = {**out[head], sub: value}
        else:
            if key not in _FIELDS:
                raise InpaintError(f"--set {key}: unknown training option")
            out[key] = value
    return out


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise InpaintError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InpaintError(f"{p}: not valid YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise InpaintError(f"{p}: expected a mapping of option: value")
        values = loaded
    return config_from_mapping(apply_overrides(values, overrides or []))


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)
