"""Turn a training checkpoint into shipped weights: the EMA (release) generator in fp16,
with its training facts in config.json.

    .venv/bin/python scripts/release_weights.py runs/cpu_rn/checkpoints/step_00001234 \
        src/inpaintkit/weights/rn_inpaint

The checkpoint folder's ``state.json`` gives the step, the CPU seconds spent and the
training config; they are copied into the shipped config.json (``steps``, ``cpu_minutes``,
``train_config``, ``train_size``, ``batch_size``, ``masks``, ``data``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from inpaintkit.inference import load_model
from inpaintkit.models.serialization import save_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--config-file", default=None, help="the YAML the run was started from")
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
        "data": "shared/data/train (1700 photos), generated masks",
        "compute": "2 CPU cores, no GPU",
    }
    save_model(model, args.out, dtype=torch.float16, metadata=meta)
    print(f"wrote {args.out}: {meta}")


if __name__ == "__main__":
    main()
