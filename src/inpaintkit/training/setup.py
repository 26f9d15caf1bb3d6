"""Everything the training loop needs, built once: networks, optimisers, EMA, the resumed
state, DDP wrappers and the endless batch iterator (``setup_run``). The loop itself
(``training/loop.py``) only steps.

Data: the batch order is a function of (seed, step, rank) (``ResumableBatchSampler``) and
each item's crop/mask of (seed, epoch, index), so a resumed CPU run reproduces an
uninterrupted one exactly. When the generator takes a classical coarse fill as an input
(``generator.coarse_input``, e.g. ``smooth`` or ``patchmatch+smooth``), the data-loading
workers compute it on uint8 beside the crop and the mask: the model never runs OpenCV.
"""

from __future__ import annotations

import copy
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset, Sampler

from inpaintkit.errors import InpaintError
from inpaintkit.models.serialization import registry_name
from inpaintkit.training import checkpoint as ckpt
from inpaintkit.training import distributed as distr
from inpaintkit.training.config import TrainConfig
from inpaintkit.training.init import init_discriminator, init_generator
from inpaintkit.training.objectives import OBJECTIVES, Objective


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


def build_dataset(cfg: TrainConfig, coarse: str | None = None):
    """The training images with generated masks (and the ``coarse`` classical fill)."""
    from inpaintkit.data import ImageFolderDataset
    from inpaintkit.masks import MixedMaskGenerator, deepfill_mask

    if cfg.masks == "deepfill":
        masks = deepfill_mask
    elif cfg.masks == "mixed":
        masks = MixedMaskGenerator(cfg.size, p_free_form=cfg.free_form_prob)
    elif cfg.masks == "full":
        masks = whole_image_mask
    else:
        raise InpaintError(f"unknown masks '{cfg.masks}' (mixed, deepfill, full)")
    dataset = ImageFolderDataset(cfg.data, size=cfg.size, masks=masks, mode=cfg.crop_mode,
                                 seed=cfg.seed, coarse=coarse)
    if not cfg.pool:
        return dataset
    if coarse is None:
        raise InpaintError("pool: a fixed pool is for models with a classical coarse input")
    from inpaintkit.data import FixedPool

    key = {"data": str(Path(cfg.data).resolve()), "size": cfg.size, "masks": cfg.masks,
           "free_form_prob": cfg.free_form_prob, "crop_mode": cfg.crop_mode, "seed": cfg.seed,
           "coarse": coarse, "files": len(dataset)}

    def progress(done: int, total: int) -> None:
        if done % 200 < 8 or done == total:  # training output, as the loop's own lines
            print(f"fixed pool: {done}/{total} items", file=sys.stderr, flush=True)

    return FixedPool(dataset, cfg.pool, cfg.run_dir / "pool", key, seed=cfg.seed,
                     workers=max(1, cfg.num_workers), progress=progress)


def whole_image_mask(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """``masks: full``: every pixel is output (methods that generate the whole image, such
    as stylization); module-level so that spawned data workers can pickle it."""
    return np.ones((h, w), dtype=bool)


@dataclass
class Run:
    """The state of one training run (what ``setup_run`` builds and the loop steps)."""

    cfg: TrainConfig
    info: distr.DistInfo
    objective: Objective
    generator: nn.Module
    discriminator: nn.Module | None
    ema: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    scaler: torch.amp.GradScaler
    g_model: nn.Module  # the generator, DDP-wrapped when distributed
    d_model: nn.Module | None
    batches: Iterator
    model_name: str
    start: int = 0
    cpu_before: float = 0.0  # CPU seconds spent by earlier sessions of this run
    last_ckpt: Path | None = None
    modules: dict[str, nn.Module] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)

    @property
    def ckpt_root(self) -> Path:
        return self.cfg.run_dir / "checkpoints"


def setup_run(cfg: TrainConfig, resume: str | Path | None, info: distr.DistInfo) -> Run:
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

    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr_g, betas=cfg.betas_g)
    opt_d = (torch.optim.Adam(discriminator.parameters(), lr=cfg.lr_d, betas=cfg.betas_d)
             if discriminator is not None else None)
    ema = copy.deepcopy(generator).eval().requires_grad_(False) if cfg.ema > 0 else None
    modules = {k: v for k, v in {"discriminator": discriminator, "ema": ema}.items() if v is not None}
    optimizers = {k: v for k, v in {"g": opt_g, "d": opt_d}.items() if v is not None}
    # Loss scaling only for fp16 autocast (bf16 has fp32's exponent range).
    fp16 = cfg.amp and device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler("cuda", enabled=fp16)

    start, cpu_before = 0, 0.0
    found = _find_resume(cfg, resume)
    if found is not None:  # a damaged latest checkpoint falls back to an earlier one, unless named by the user
        explicit = resume not in (None, "auto") and (Path(resume) / "state.json").is_file()
        found, meta, tensors = ckpt.load_resumable(found, fallback=not explicit)
        ckpt.restore(meta, tensors, generator=generator, modules=modules, optimizers=optimizers)
        start = int(meta["step"])
        cpu_before = float(meta.get("cpu_seconds", 0.0))
        if meta.get("scaler"):
            scaler.load_state_dict(meta["scaler"])
    else:  # a fresh run (not a resumed one) may start from given weights
        if cfg.init:
            init_generator(generator, cfg.init, cfg.init_expand_inputs)
            if ema is not None:
                ema.load_state_dict(generator.state_dict())
        if cfg.init_discriminator:
            init_discriminator(discriminator, cfg.init_discriminator, cfg.init_expand_inputs)

    g_model: nn.Module = generator
    d_model = discriminator
    if info.enabled:
        ids = [device.index] if device.type == "cuda" else None
        g_model = DDP(generator, device_ids=ids)
        if discriminator is not None:
            d_model = DDP(discriminator, device_ids=ids)

    dataset = build_dataset(cfg, coarse=generator.coarse_input)
    sampler = ResumableBatchSampler(len(dataset), cfg.batch_size, cfg.seed, start,
                                    info.rank, info.world_size)
    loader = DataLoader(EpochView(dataset), batch_sampler=sampler, num_workers=cfg.num_workers,
                        pin_memory=device.type == "cuda",
                        # its own generator: creating the iterator must not draw from the
                        # global RNG, or a resumed run would diverge from an uninterrupted one
                        generator=torch.Generator().manual_seed(cfg.seed),
                        persistent_workers=cfg.num_workers > 0,
                        worker_init_fn=_worker_init)
    return Run(cfg=cfg, info=info, objective=objective, generator=generator,
               discriminator=discriminator, ema=ema, opt_g=opt_g, opt_d=opt_d, scaler=scaler,
               g_model=g_model, d_model=d_model, batches=iter(loader),
               model_name=registry_name(generator), start=start, cpu_before=cpu_before,
               last_ckpt=found, modules=modules, optimizers=optimizers)


def _find_resume(cfg: TrainConfig, resume: str | Path | None) -> Path | None:
    """``None``: a fresh run (refusing to overwrite one with checkpoints); ``"auto"``: the
    run's latest checkpoint if any; else the checkpoint / run folder given."""
    if resume is None:
        if ckpt.find_checkpoint(cfg.run_dir) is not None:
            raise InpaintError(f"run '{cfg.run_dir}' already has checkpoints: use --resume to "
                               "continue it or choose another --set name=...")
        return None
    found = ckpt.find_checkpoint(cfg.run_dir if resume == "auto" else Path(resume))
    if found is None and resume != "auto":
        raise InpaintError(f"no checkpoint found at {resume}")
    return found


def _worker_init(_worker_id: int) -> None:
    """Data workers ignore SIGINT/SIGTERM: a Ctrl-C or a scheduler's kill of the whole process
    group must reach only the main process, which finishes its step and checkpoints (a
    worker dying first would abort the run). Workers still exit when the main process does.
    (No cv2.setNumThreads here: reconfiguring OpenCV's thread pool in a forked child whose
    parent already ran pool threads waits forever on a lock held by a thread that does not
    exist in the child.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
