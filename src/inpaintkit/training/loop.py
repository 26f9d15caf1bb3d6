"""The training loop: one explicit loop for every method.

    run = setup_run(cfg, resume, info)                    # networks, optimisers, data (setup.py)
    for step in range(start, steps):
        image, mask[, coarse] = next(run.batches)         # (B,3,H,W) in [-1,1], (B,1,H,W)
        out = objective.generate(G, image, mask, coarse)  # generator forward, once
        d_loss = objective.discriminator_loss(D, ...)     # on detached outputs -> step D
        g_loss = objective.generator_loss(D, ...)         # reconstruction + adversarial -> step G
        ema.update(G); every log_every steps: log, NaN check; checkpoint when due

Everything method-specific is in the objective (``training/objectives/``). The loop owns
optimisers, schedules, AMP, EMA, gradient clipping, DDP, logging and checkpoints.

Host syncs: losses stay on the device between log intervals (the objectives return
detached tensors); the loop reads them, and checks that no loss became NaN/Inf, only every
``log_every`` steps and before every checkpoint. A checkpoint is written only when every
parameter and optimiser moment is finite *and* the losses computed with the weights about
to be saved are finite (one extra forward pass on the current batch, in eval mode, with
the RNG state restored afterwards): an exploding update gives finite weights of 1e30 whose
next loss is NaN, and such a checkpoint would fail every resume. So the last checkpoint is
always a good one, and pruning (``training/checkpoint.py``) never removes it.

Endings: :class:`TrainingDiverged` (CLI exit 2) when the run diverged, nothing saved;
:class:`TrainingInterrupted` (CLI exit 128 + signal) after the checkpoint written on
SIGINT / SIGTERM; a normal return only when the run finished (all steps, or its budget).

Compute budget: with ``budget_cpu_minutes`` the run stops (and checkpoints) once the
training process has used that much CPU time, counted across resumes; the lr schedule
then runs over the budget. Such a stop depends on timing, so budgeted runs are not
bit-reproducible on resume (step-limited runs are).
"""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

import torch
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.training import checkpoint as ckpt
from inpaintkit.training import distributed as distr
from inpaintkit.training.config import TrainConfig, config_to_dict
from inpaintkit.training.logger import TrainLogger
from inpaintkit.training.objectives import OBJECTIVES
from inpaintkit.training.setup import Run, setup_run


class TrainingDiverged(RuntimeError):
    """A loss or the weights became NaN or Inf; the last good checkpoint is left untouched."""


class TrainingInterrupted(RuntimeError):
    """Stopped by signal ``signum`` after writing ``checkpoint``: the run did not finish."""

    def __init__(self, signum: int, checkpoint: Path) -> None:
        super().__init__(f"stopped by signal {signum}; last checkpoint {checkpoint}")
        self.signum = signum
        self.checkpoint = checkpoint


def lr_factor(cfg: TrainConfig, step: int, cpu_seconds: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``step`` (a pure function of the step, and
    with a compute budget of the CPU time spent, so resuming needs no scheduler state)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    if cfg.budget_cpu_minutes > 0:
        t = min(1.0, cpu_seconds / (60.0 * cfg.budget_cpu_minutes))
    else:
        t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    if cfg.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if cfg.lr_schedule == "linear":
        return 1.0 - t
    raise InpaintError(f"unknown lr_schedule '{cfg.lr_schedule}' (constant, cosine, linear)")


@torch.no_grad()
def amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of ``amp: true``: bf16 (fp32's range, no loss scaling) on CPUs and
    on GPUs that have it (Ampere and later); fp16 with a GradScaler on older GPUs."""
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    ema_p = [p for p in ema.parameters()]
    model_p = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(ema_p, model_p, 1.0 - decay)
    for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(bm)


def train(cfg: TrainConfig, resume: str | Path | None = None) -> Path:
    """Train per ``cfg``; returns the last checkpoint folder.

    ``resume``: None starts fresh (refusing to overwrite a run that has checkpoints),
    ``"auto"`` continues the run's latest checkpoint if there is one, or a path to a
    checkpoint / run folder.
    """
    if cfg.method not in OBJECTIVES:
        raise InpaintError(f"unknown method '{cfg.method}' (known: {', '.join(sorted(OBJECTIVES))})")
    info = distr.setup(cfg.device)
    try:
        return _loop(setup_run(cfg, resume, info))
    finally:
        distr.cleanup(info)


def _train_step(run: Run, batch: list[torch.Tensor], factor: float) -> tuple[dict, list[torch.Tensor], tuple, object]:
    """One D + G update. Returns (logs as detached tensors, the losses, the batch as
    (image, mask, extra inputs), the generator output)."""
    cfg, objective, device = run.cfg, run.objective, run.info.device
    image, mask, *rest = (t.to(device, non_blocking=True) for t in batch)
    inputs = {"coarse": rest[0]} if rest else {}
    for opt, base in ((run.opt_g, cfg.lr_g), (run.opt_d, cfg.lr_d)):
        if opt is not None:
            for group in opt.param_groups:
                group["lr"] = base * factor
    amp = {"device_type": device.type, "enabled": cfg.amp, "dtype": amp_dtype(device)}
    with torch.autocast(**amp):
        out = objective.generate(run.g_model, image, mask, **inputs)
    logs: dict[str, torch.Tensor] = {}
    losses = []
    if run.d_model is not None:
        # D steps first, on detached outputs; G's adversarial term then sees the updated D
        # (stepping D after G's forward through it would invalidate the graph: Adam
        # updates D's weights in place).
        with torch.autocast(**amp):
            d_loss, d_logs = objective.discriminator_loss(run.d_model, image, mask, out)
        logs.update(d_logs)
        losses.append(d_loss.detach())
        run.opt_d.zero_grad(set_to_none=True)
        run.scaler.scale(d_loss).backward()
        _clip(cfg, run.scaler, run.opt_d, run.discriminator)
        run.scaler.step(run.opt_d)
    # G's adversarial term needs gradients through D's activations, not D's weight
    # gradients (they would be discarded: D has stepped). Freezing D skips that work, and
    # the unwrapped D keeps DDP from all-reducing them.
    frozen = _freeze(run.discriminator)
    try:
        with torch.autocast(**amp):
            g_loss, g_logs = objective.generator_loss(run.discriminator, image, mask, out)
        logs.update(g_logs)
        losses.append(g_loss.detach())
        run.opt_g.zero_grad(set_to_none=True)
        run.scaler.scale(g_loss).backward()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    _clip(cfg, run.scaler, run.opt_g, run.generator)
    run.scaler.step(run.opt_g)
    run.scaler.update()
    if run.ema is not None:
        ema_update(run.ema, run.generator, cfg.ema)
    return logs, losses, (image, mask, inputs), out


def _freeze(module: nn.Module | None) -> list[torch.nn.Parameter]:
    """Turn off ``requires_grad`` on ``module``'s trainable parameters; returns them."""
    params = [p for p in module.parameters() if p.requires_grad] if module is not None else []
    for p in params:
        p.requires_grad_(False)
    return params


def _loop(run: Run) -> Path:
    cfg, info = run.cfg, run.info
    logger = TrainLogger(cfg, run.start, enabled=info.is_main)
    stop = {"signal": None}

    def _on_signal(signum, _frame):  # finish the step, checkpoint, exit
        stop["signal"] = signum

    old_handlers = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    last_time = time.monotonic()
    cpu_start = time.process_time()
    nonfinite = torch.zeros((), dtype=torch.bool, device=info.device)  # any NaN/Inf loss since the last check

    def cpu_seconds() -> float:
        return run.cpu_before + time.process_time() - cpu_start

    def check_finite(step: int, logs: dict, probe: tuple | None = None) -> None:
        bad = bool(nonfinite) or not _state_finite(run)
        if not bad and probe is not None:
            bad = not _probe_finite(run, *probe)
        if distr.any_true(info, bad):
            where = run.last_ckpt if run.last_ckpt is not None else "none written yet"
            raise TrainingDiverged(
                f"loss or weights became NaN/Inf by step {step} ({_fmt(logs)}); stopped without "
                f"saving. Last good checkpoint: {where}. Try a lower learning rate, "
                "--set grad_clip=1 or amp=false."
            )

    def save(step: int) -> Path:
        extra = {"config": config_to_dict(cfg), "model": run.model_name,
                 "scaler": run.scaler.state_dict() if run.scaler.is_enabled() else None,
                 "world_size": info.world_size, "cpu_seconds": cpu_seconds(),
                 "replica_checksums": distr.replica_checksums(info, run.generator)}
        path = None
        if info.is_main:
            path = ckpt.save_checkpoint(run.ckpt_root, step, generator=run.generator,
                                        release=run.ema if run.ema is not None else run.generator,
                                        modules=run.modules, optimizers=run.optimizers,
                                        extra_state=extra, keep_last=cfg.keep_last)
            logger.message(f"checkpoint: {path}")
        distr.barrier(info)
        return path or run.ckpt_root / f"step_{step:08d}"

    step = run.start
    logs: dict = {}
    interrupted = 0
    try:
        run.generator.train()
        if run.discriminator is not None:
            run.discriminator.train()
        while step < cfg.steps:
            factor = lr_factor(cfg, step, cpu_seconds())
            waited = time.perf_counter()
            batch = next(run.batches)  # blocks only when the data workers fall behind
            waited = time.perf_counter() - waited
            logs, losses, shown, out = _train_step(run, batch, factor)
            for loss in losses:
                nonfinite |= ~torch.isfinite(loss)
            step += 1

            due = bool(cfg.ckpt_every) and step % cfg.ckpt_every == 0
            # Host-side checks (NaN, signals, budget, time) only at intervals when
            # distributed: each is a collective. A single process reads Python flags only.
            check = step % max(1, cfg.log_every) == 0 or due or step == cfg.steps or not info.enabled
            if step % max(1, cfg.log_every) == 0 or step == cfg.steps:
                check_finite(step, logs)
            logger.step(step, logs, lr=cfg.lr_g * factor, data_wait=waited)
            if info.is_main and cfg.image_every and step % cfg.image_every == 0:
                logger.images(step, shown[0], shown[1], run.objective.prediction(out).detach())
            stopping = spent = False
            if check:
                if cfg.ckpt_minutes:
                    overdue = time.monotonic() - last_time >= cfg.ckpt_minutes * 60
                    due = due or distr.any_true(info, info.is_main and overdue)
                stopping = distr.any_true(info, stop["signal"] is not None)
                spent = cfg.budget_cpu_minutes > 0 and distr.any_true(
                    info, info.is_main and cpu_seconds() >= 60.0 * cfg.budget_cpu_minutes)
            if due or step == cfg.steps or stopping or spent:
                check_finite(step, logs, probe=shown)
                run.last_ckpt = save(step)
                last_time = time.monotonic()
            if stopping:
                logger.message(f"stopped by signal {stop['signal']} at step {step}; resume with --resume")
                interrupted = int(stop["signal"])
                break
            if spent:
                logger.message(f"compute budget of {cfg.budget_cpu_minutes:g} CPU-minutes spent at step {step}")
                break
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        logger.close()
        del run.batches
    if run.last_ckpt is None:  # steps <= start: nothing to do
        run.last_ckpt = save(step)
    if interrupted:
        raise TrainingInterrupted(interrupted, run.last_ckpt)
    return run.last_ckpt


@torch.no_grad()
def _state_finite(run: Run) -> bool:
    """Every parameter, buffer and optimiser moment is finite (one host sync)."""
    tensors = [t for m in (run.generator, *run.modules.values()) for t in (*m.parameters(), *m.buffers())
               if t.is_floating_point()]
    for opt in run.optimizers.values():
        for state in opt.state.values():
            tensors += [v for v in state.values() if torch.is_tensor(v) and v.is_floating_point()]
    if not tensors:
        return True
    flags = torch.stack([torch.isfinite(t).all() for t in tensors])
    return bool(flags.all())


@torch.no_grad()
def _probe_finite(run: Run, image: torch.Tensor, mask: torch.Tensor, inputs: dict) -> bool:
    """The losses of a step taken now (with the weights about to be saved) are finite, and
    so is the output of the generator that ships (the EMA copy when there is one).

    Eval mode, so that no buffer moves (spectral-norm vectors, batch-norm statistics), and
    the RNG state is restored, so a run continues exactly as a resumed one would."""
    cfg, objective, device = run.cfg, run.objective, run.info.device
    nets = [m for m in (run.generator, run.discriminator) if m is not None]
    modes = [m.training for m in nets]
    amp = {"device_type": device.type, "enabled": cfg.amp, "dtype": amp_dtype(device)}
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.autocast(**amp):
            for m in nets:
                m.eval()
            out = objective.generate(run.g_model, image, mask, **inputs)
            values = [objective.generator_loss(run.d_model, image, mask, out)[0]]
            if run.d_model is not None:
                values.append(objective.discriminator_loss(run.d_model, image, mask, out)[0])
            if run.ema is not None:
                values.append(objective.prediction(objective.generate(run.ema, image, mask, **inputs)))
    finally:
        for m, mode in zip(nets, modes, strict=True):
            m.train(mode)
    return bool(torch.stack([torch.isfinite(v.float()).all() for v in values]).all())


def _clip(cfg: TrainConfig, scaler: torch.amp.GradScaler, opt: torch.optim.Optimizer,
          module: nn.Module) -> None:
    if cfg.grad_clip > 0:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)


def _fmt(logs: dict) -> str:
    return ", ".join(f"{k}={float(v):.4g}" for k, v in logs.items())
