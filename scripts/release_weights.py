"""Turn a training checkpoint into shipped weights: the EMA (release) generator in fp16,
with its training facts in config.json.

    .venv/bin/python scripts/release_weights.py runs/cpu_rn/checkpoints/step_00001234 \
        src/inpaintkit/weights/rn_inpaint

``--discriminator gen`` also ships the run's discriminator under that name (PIC-Net's
generative-path D, which ranks samples at inference) as ``OUT/discriminator/``, in fp16.

The checkpoint folder's ``state.json`` gives the step, the CPU seconds spent and the
training config; they are copied into the shipped config.json (``steps``, ``cpu_minutes``,
``train_config``, ``train_size``, ``batch_size``, ``masks``, ``data``). A run started from
other weights (``init:`` in its config, e.g. a fine-tune of shipped weights) counts what those
cost too: ``steps`` and ``cpu_minutes`` are the totals and ``stages`` lists every run in
order (read from the init folder's config.json before anything is written, so OUT may be
that same folder).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from inpaintkit.inference import load_model
from inpaintkit.models import create_discriminator
from inpaintkit.models.serialization import DISCRIMINATOR_DIR, save_model


# What one training run contributes to ``stages``.
STAGE_KEYS = ("steps", "cpu_minutes", "train_config", "train_size", "seed")


def _init_stages(init: str | None) -> list[dict]:
    """The training stages behind the weights a run started from (none for a fresh run)."""
    if not init:
        return []
    config = Path(init) / "config.json"
    if not config.is_file():
        raise SystemExit(f"the run started from {init}, which has no config.json to count its cost from")
    meta = json.loads(config.read_text())
    return meta.get("stages") or [{k: meta.get(k) for k in STAGE_KEYS}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--config-file", default=None, help="the YAML the run was started from")
    parser.add_argument("--discriminator", default=None, metavar="KEY",
                        help="also ship the discriminator stored under this key ('' for a "
                             "single one, 'gen' for PIC-Net's generative-path D)")
    parser.add_argument("--compute", default="2 CPU cores, no GPU", help="what trained it (metadata)")
    parser.add_argument("--data", default="shared/data/train (1700 photos), generated masks",
                        help="what it was trained on (metadata)")
    args = parser.parse_args()
    state = json.loads((args.checkpoint / "state.json").read_text())
    cfg = state["config"]
    model = load_model(str(args.checkpoint))
    meta = {
        "steps": int(state["step"]),
        "cpu_minutes": round(float(state.get("cpu_seconds", 0.0)) / 60.0, 1),
        "train_config": args.config_file or f"configs/cpu/{cfg['name'].removeprefix('cpu_')}.yaml",
        "train_size": cfg["size"],
        "batch_size": cfg["batch_size"],
        "masks": cfg.get("masks", "mixed"),
        "data": args.data,
        "compute": args.compute,
    }
    meta["seed"] = cfg.get("seed")
    stage = {k: meta[k] for k in STAGE_KEYS}
    meta["stages"] = [*_init_stages(cfg.get("init")), stage]
    meta["steps"] = sum(int(s["steps"]) for s in meta["stages"])
    meta["cpu_minutes"] = round(sum(float(s["cpu_minutes"]) for s in meta["stages"]), 1)
    save_model(model, args.out, dtype=torch.float16, metadata=meta)
    print(f"wrote {args.out}: {meta}")
    if args.discriminator is not None:
        from safetensors.torch import load_file

        prefix = ".".join(p for p in ("discriminator", args.discriminator) if p) + "."
        state = {k.removeprefix(prefix): v for k, v in
                 load_file(str(args.checkpoint / "state.safetensors")).items() if k.startswith(prefix)}
        disc = create_discriminator(cfg["discriminator"], **cfg.get("disc_args", {}))
        disc.load_state_dict(state, strict=True)
        save_model(disc, args.out / DISCRIMINATOR_DIR, dtype=torch.float16,
                   metadata={"steps": meta["steps"], "role": f"discriminator '{args.discriminator}'"})
        print(f"wrote {args.out / DISCRIMINATOR_DIR}")


if __name__ == "__main__":
    main()
