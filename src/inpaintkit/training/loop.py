"""The training loop: one explicit loop for every method.

    for step in range(start, steps):
        image, mask = next(batches)                       # (B,3,H,W) in [-1,1], (B,1,H,W)
        out = objective.generate(G, image, mask)          # generator forward, once
        d_loss = objective.discriminator_loss(D, ...)     # on detached outputs -> step D
        g_loss = objective.generator_loss(D, ...)         # reconstruction + adversarial -> step G
        ema.update(G); log; checkpoint

Everything method-specific is in the objective (``training/objectives/``). The loop owns
optimisers, schedules, AMP, EMA, gradient clipping, DDP, logging and checkpoints.

Determinism: the data order is a function of (seed, step) (see ``ResumableBatchSampler``)
and each item's crop/mask of (seed, epoch, index); with the torch RNG saved in the
checkpoint, a resumed CPU run reproduces an uninterrupted one exactly.
"""

from __future__ import annotations

import copy
import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset, Sampler

from inpaintkit.errors import InpaintError
from inpaintkit.inference.weights import registry_name
from inpaintkit.io import read_state_dict
from inpaintkit.training import checkpoint as ckpt
from inpaintkit.training import distributed as distr
from inpaintkit.training.config import TrainConfig, config_to_dict
from inpaintkit.training.logger import TrainLogger
from inpaintkit.training.objectives import OBJECTIVES


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf; the last good checkpoint is left untouched."""


# --- data ------------------------------------------------------------------------------

class ResumableBatchSampler(Sampler[list[int]]):
    """Endless batches whose content depends only on (seed, step, rank).

    Global sample ``p = (step * world + rank) * batch + j`` is item ``perm_e[p mod n]`` of
    epoch ``e = p // n``, with ``perm_e`` a seeded permutation. Indices are returned as
    ``e * n + i`` so the dataset view can seed its augmentation by epoch. Resuming at
    step s needs nothing but s.
    """

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        self.n, self.batch, self.seed = n, batch_size, seed
        self.start, self.rank, self.world = start_step, rank, world_size
        self._perm: tuple[int, torch.Tensor] | None = None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = (epoch, torch.randperm(self.n, generator=g))
        return self._perm[1]

    def batch_at(self, step: int) -> list[int]:
        first = (step * self.world + self.rank) * self.batch
        out = []
        for p in range(first, first + self.batch):
            epoch, offset = divmod(p, self.n)
            out.append(epoch * self.n + int(self._permutation(epoch)[offset]))
        return out

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        while True:
            yield self.batch_at(step)
            step += 1


class EpochView(Dataset):
    """Maps the sampler's ``epoch * n + i`` back to item ``i`` of epoch ``epoch``."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, virtual: int):
        epoch, index = divmod(virtual, len(self.base))
        self.base.set_epoch(epoch)  # this process's copy (each DataLoader worker has its own)
        return self.base[index]


def build_dataset(cfg: TrainConfig):
    from inpaintkit.data import ImageFolderDataset
    from inpaintkit.masks import MixedMaskGenerator

    masks = MixedMaskGenerator(cfg.size, p_free_form=cfg.free_form_prob)
    return ImageFolderDataset(cfg.data, size=cfg.size, masks=masks, mode=cfg.crop_mode,
                              seed=cfg.seed)


# --- schedules and EMA -------------------------------------------------------------------

def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Multiplier of the base learning rate at ``step`` (a pure function of the step, so
    resuming needs no scheduler state)."""
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    t = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    if cfg.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if cfg.lr_schedule == "linear":
        return 1.0 - t
    raise InpaintError(f"unknown lr_schedule '{cfg.lr_schedule}' (constant, cosine, linear)")


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    ema_p = [p for p in ema.parameters()]
    model_p = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(ema_p, model_p, 1.0 - decay)
    for be, bm in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(bm)


def _unwrap(module: nn.Module | None) -> nn.Module | None:
    return module.module if isinstance(module, DDP) else module


# --- the loop ----------------------------------------------------------------------------

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
        return _train(cfg, resume, info)
    finally:
        distr.cleanup(info)


def _train(cfg: TrainConfig, resume: str | Path | None, info: distr.DistInfo) -> Path:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    # Gradients that reach deep layers through saturated sigmoid gates fall below float32's
    # normal range; x86 CPUs compute on such denormals ~100x slower. Measured on the default
    # model: backward took 88% of a step and steps ran 2.5x slower until this was set.
    torch.set_flush_denormal(True)
    torch.manual_seed(cfg.seed)  # same initial weights on every rank (DDP also broadcasts)
    device = info.device
    objective = OBJECTIVES[cfg.method](cfg)
    generator = objective.build_generator().to(device)
    discriminator = objective.build_discriminator()
    if discriminator is not None:
        discriminator = discriminator.to(device)
    model_name = registry_name(generator)

    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=cfg.betas_g)
    opt_d = (torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=cfg.betas_d)
             if discriminator is not None else None)
    ema = copy.deepcopy(generator).eval().requires_grad_(False) if cfg.ema > 0 else None
    modules = {k: v for k, v in {"discriminator": discriminator, "ema": ema}.items() if v is not None}
    optimizers = {k: v for k, v in {"g": opt_g, "d": opt_d}.items() if v is not None}

    ckpt_root = cfg.run_dir / "checkpoints"
    start = 0
    found = None
    if resume is not None:
        found = ckpt.find_checkpoint(cfg.run_dir if resume == "auto" else Path(resume))
        if found is None and resume != "auto":
            raise InpaintError(f"no checkpoint found at {resume}")
    elif ckpt.find_checkpoint(cfg.run_dir) is not None:
        raise InpaintError(f"run '{cfg.run_dir}' already has checkpoints: use --resume to "
                           "continue it or choose another --set name=...")
    if found is not None:
        meta, tensors = ckpt.load_checkpoint(found)
        ckpt.restore(meta, tensors, generator=generator, modules=modules, optimizers=optimizers)
        start = int(meta["step"])
    elif cfg.init:  # a fresh run (not a resumed one) may start from given weights
        _init_weights(generator, cfg.init)
        if ema is not None:
            ema.load_state_dict(generator.state_dict())

    use_amp = cfg.amp
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and device.type == "cuda")
    if found is not None and meta.get("scaler"):
        scaler.load_state_dict(meta["scaler"])

    g_model: nn.Module = generator
    d_model = discriminator
    if info.enabled:
        ids = [device.index] if device.type == "cuda" else None
        g_model = DDP(generator, device_ids=ids)
        if discriminator is not None:
            d_model = DDP(discriminator, device_ids=ids)

    dataset = build_dataset(cfg)
    sampler = ResumableBatchSampler(len(dataset), cfg.batch_size, cfg.seed, start,
                                    info.rank, info.world_size)
    loader = DataLoader(EpochView(dataset), batch_sampler=sampler, num_workers=cfg.num_workers,
                        pin_memory=device.type == "cuda",
                        # its own generator: creating the iterator must not draw from the
                        # global RNG, or a resumed run would diverge from an uninterrupted one
                        generator=torch.Generator().manual_seed(cfg.seed),
                        persistent_workers=cfg.num_workers > 0,
                        worker_init_fn=_ignore_stop_signals)
    batches = iter(loader)

    logger = TrainLogger(cfg, start, enabled=info.is_main)
    stop = {"signal": None}

    def _on_signal(signum, _frame):  # finish the step, checkpoint, exit
        stop["signal"] = signum

    old_handlers = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    last_ckpt: Path | None = found
    last_time = time.monotonic()

    def save(step: int) -> Path:
        extra = {"config": config_to_dict(cfg), "model": model_name,
                 "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                 "world_size": info.world_size,
                 "replica_checksums": distr.replica_checksums(info, generator)}
        path = None
        if info.is_main:
            path = ckpt.save_checkpoint(ckpt_root, step, generator=generator,
                                        release=ema if ema is not None else generator,
                                        modules=modules, optimizers=optimizers,
                                        extra_state=extra, keep_last=cfg.keep_last)
            logger.message(f"checkpoint: {path}")
        distr.barrier(info)
        return path or ckpt_root / f"step_{step:08d}"

    step = start
    try:
        generator.train()
        if discriminator is not None:
            discriminator.train()
        while step < cfg.steps:
            image, mask = next(batches)
            image = image.to(device, non_blocking=True)
            mask = mask.to(device, non_blocking=True)
            factor = lr_factor(cfg, step)
            for opt, base in ((opt_g, cfg.lr_g), (opt_d, cfg.lr_d)):
                if opt is not None:
                    for group in opt.param_groups:
                        group["lr"] = base * factor

            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                out = objective.generate(g_model, image, mask)
            logs: dict[str, float] = {}
            if d_model is not None:
                # D steps first, on detached outputs; G's adversarial term then sees the
                # updated D (stepping D after G's forward through it would invalidate the
                # graph: Adam updates D's weights in place).
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    d_loss, d_logs = objective.discriminator_loss(d_model, image, mask, out)
                logs.update(d_logs)
                _check_finite(info, d_loss, step, logs, last_ckpt)
                opt_d.zero_grad(set_to_none=True)
                scaler.scale(d_loss).backward()
                _clip(cfg, scaler, opt_d, discriminator)
                scaler.step(opt_d)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                g_loss, g_logs = objective.generator_loss(d_model, image, mask, out)
            logs.update(g_logs)
            _check_finite(info, g_loss, step, logs, last_ckpt)
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(g_loss).backward()
            _clip(cfg, scaler, opt_g, generator)
            scaler.step(opt_g)
            scaler.update()
            if ema is not None:
                ema_update(ema, generator, cfg.ema)
            step += 1

            logger.step(step, logs, lr=cfg.lr_g * factor)
            if info.is_main and cfg.image_every and step % cfg.image_every == 0:
                logger.images(step, image, mask, objective.prediction(out).detach())
            due = step % cfg.ckpt_every == 0 if cfg.ckpt_every else False
            if cfg.ckpt_minutes:
                overdue = time.monotonic() - last_time >= cfg.ckpt_minutes * 60
                due = due or distr.any_true(info, info.is_main and overdue)
            stopping = distr.any_true(info, stop["signal"] is not None)
            if due or step == cfg.steps or stopping:
                last_ckpt = save(step)
                last_time = time.monotonic()
            if stopping:
                logger.message(f"stopped by signal {stop['signal']} at step {step}; resume with --resume")
                break
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        logger.close()
        del batches, loader
    if last_ckpt is None:  # steps <= start: nothing to do
        last_ckpt = save(step)
    return last_ckpt


def _ignore_stop_signals(_worker_id: int) -> None:
    """Data workers ignore SIGINT/SIGTERM: a Ctrl-C or a scheduler's kill of the whole process
    group must reach only the main process, which finishes its step and checkpoints (a
    worker dying first would abort the run). Workers still exit when the main process does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _init_weights(generator: nn.Module, source: str) -> None:
    """Load generator weights for fine-tuning; any name or shape mismatch is an error."""
    path = Path(source)
    if not path.exists():
        raise InpaintError(f"init: {source} does not exist")
    if path.is_dir():
        path = path / "model.safetensors"
    if path.suffix != ".safetensors":
        raise InpaintError(f"init: expected a .safetensors file or a folder holding one, got {source}")
    state = read_state_dict(path)
    own = generator.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        raise InpaintError(
            f"init: {path} does not fit the model ({len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(wrong)} wrong-shaped tensors, e.g. '{first}')"
        )
    generator.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})


def _check_finite(info: distr.DistInfo, loss: torch.Tensor, step: int, logs: dict[str, float],
               last_ckpt: Path | None) -> None:
    """Stop every rank, without saving, when a loss on any rank is NaN/Inf."""
    if distr.any_true(info, not bool(torch.isfinite(loss.detach()))):
        where = last_ckpt if last_ckpt is not None else "none written yet"
        raise TrainingDiverged(
            f"loss became NaN/Inf at step {step} ({_fmt(logs)}); stopped without saving. "
            f"Last good checkpoint: {where}. Try a lower learning rate, --set grad_clip=1 "
            "or amp=false."
        )


def _clip(cfg: TrainConfig, scaler: torch.amp.GradScaler, opt: torch.optim.Optimizer,
          module: nn.Module) -> None:
    if cfg.grad_clip > 0:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.grad_clip)


def _fmt(logs: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in logs.items())
