"""``inpaintkit train``: train any method from a YAML config (single process or torchrun)."""

from __future__ import annotations

from pathlib import Path

import typer

from inpaintkit.errors import InpaintError


def train(
    config: Path = typer.Option(None, "--config", "-c", help="YAML config (configs/<name>.yaml)."),
    set_: list[str] = typer.Option(None, "--set", help="Override an option: key=value (repeatable)."),
    resume: str = typer.Option(
        None, "--resume", help="'auto' (latest checkpoint of the run, if any) or a checkpoint/run folder."
    ),
) -> None:
    """Train a model. Under torchrun every process trains one DDP replica."""
    from inpaintkit.training.config import load_config
    from inpaintkit.training.loop import TrainingDiverged
    from inpaintkit.training.loop import train as run_training

    cfg = load_config(config, set_ or [])
    try:
        last = run_training(cfg, resume=resume)
    except TrainingDiverged as exc:
        raise InpaintError(str(exc)) from None
    typer.echo(f"last checkpoint: {last}")
