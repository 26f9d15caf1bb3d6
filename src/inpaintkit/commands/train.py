"""``inpaintkit train``: train any method from a YAML config (single process or torchrun)."""

from __future__ import annotations

from pathlib import Path

import typer

from inpaintkit.errors import InpaintError, TooLarge
from inpaintkit.machine import physical_memory


def train(
    config: Path = typer.Option(None, "--config", "-c", help="YAML config (configs/<name>.yaml)."),
    set_: list[str] = typer.Option(None, "--set", help="Override an option: key=value (repeatable)."),
    resume: str = typer.Option(
        None, "--resume", help="'auto' (latest checkpoint of the run, if any) or a checkpoint/run folder."
    ),
) -> None:
    """Train a model. Under torchrun every process trains one DDP replica.

    Exit codes: 0 the run finished (all steps, or its compute budget); 2 a bad config or a
    diverged run (NaN/Inf; the last good checkpoint is kept); 128 + signal number (130 for
    Ctrl-C, 143 for SIGTERM) when stopped by a signal after writing its checkpoint.
    """
    from inpaintkit.training.config import load_config
    from inpaintkit.training.loop import TrainingDiverged, TrainingInterrupted
    from inpaintkit.training.loop import train as run_training

    cfg = load_config(config, set_ or [])
    check_model_config(cfg.model, cfg.tiny, cfg.model_args, size=cfg.size)
    try:
        last = run_training(cfg, resume=resume)
    except TrainingDiverged as exc:
        raise InpaintError(str(exc)) from None
    except TrainingInterrupted as exc:
        typer.echo(f"last checkpoint: {exc.checkpoint}")
        typer.echo(f"stopped by signal {exc.signum} before the last step; resume with --resume auto", err=True)
        raise typer.Exit(128 + exc.signum) from None
    typer.echo(f"last checkpoint: {last}")


def check_model_config(name: str, tiny: bool, model_args: dict, size: int | None = None) -> int:
    """The generator's parameter count, counted before anything is allocated; a one-line
    error (exit 2) for an unknown option, a model over the size limit, or a crop ``size``
    the generator cannot take (not a multiple of its ``multiple``)."""
    from inpaintkit.models import MODELS, STYLIZERS
    from inpaintkit.models.base import config_from_dict
    from inpaintkit.models.size import check_model_size

    table = {**MODELS, **STYLIZERS}
    if name not in table:
        raise InpaintError(f"unknown model '{name}' (known: {', '.join(sorted(table))})")
    cls = table[name]
    try:
        config = config_from_dict(cls.config_class, {**(cls.tiny if tiny else {}), **(model_args or {})})
    except (TypeError, ValueError) as exc:
        raise InpaintError(f"model_args: {exc}") from None
    count = check_model_size(name, config, what="the config's model")
    if size is not None and name in MODELS:
        from inpaintkit.models.size import meta_model

        multiple = meta_model(name, config).multiple
        if size % multiple:
            raise InpaintError(f"training option size: {name} needs a multiple of {multiple}, got {size} "
                               f"(e.g. {max(multiple, size // multiple * multiple)})")
    # Weights, gradients and two Adam moments in float32 (EMA and activations come on top).
    need, have = 16 * count, physical_memory()
    if have and need > have:
        raise TooLarge(
            f"the config's model {name} has {count:,} parameters: training needs at least "
            f"{need / 2**30:,.1f} GiB for weights, gradients and Adam moments, this machine has "
            f"{have / 2**30:,.1f} GiB; use a smaller model_args"
        )
    return count


