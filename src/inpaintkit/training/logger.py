"""Progress, console lines and TensorBoard for the training loop (rank 0 only).

On a terminal: a Rich progress bar with it/s, ETA and the latest losses. Otherwise (a
``nohup`` log file): one plain line every ``log_every`` steps. TensorBoard scalars every
``log_every`` steps and an input / output / target grid every ``image_every`` steps, in
``<run>/tb``; TensorBoard is optional (a note is printed if it is not installed).
"""

from __future__ import annotations

import time

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from inpaintkit.conventions import composite
from inpaintkit.training.config import TrainConfig


def image_grid(rows: list[torch.Tensor], max_items: int = 4) -> torch.Tensor:
    """Rows of (B,3,H,W) images in [-1,1] -> one (3, rows*H, n*W) image in [0,1]."""
    n = min(max_items, rows[0].shape[0])
    lines = [torch.cat(list(r[:n].detach().float().cpu()), dim=2) for r in rows]  # each (3,H,n*W)
    return ((torch.cat(lines, dim=1) + 1) / 2).clamp(0, 1)


class TrainLogger:
    def __init__(self, cfg: TrainConfig, start_step: int, enabled: bool = True) -> None:
        self.cfg, self.enabled = cfg, enabled
        self.console = Console(stderr=True)
        self.tb = None
        self.progress = None
        self._t0, self._s0 = time.monotonic(), start_step
        self._last_log, self._waited = self._t0, 0.0  # data-wait share since the last log
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(cfg.run_dir / "tb"))
        except ImportError:
            self.console.print("note: tensorboard is not installed; no TensorBoard logs")
        if self.console.is_terminal:
            self.progress = Progress(
                TextColumn(f"[bold]{cfg.name}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[speed]}"), TimeRemainingColumn(),
                TextColumn("{task.fields[losses]}"), console=self.console,
            )
            self.task = self.progress.add_task("train", total=cfg.steps, completed=start_step,
                                               speed="", losses="")
            self.progress.start()
        else:
            self.message(f"training {cfg.name}: steps {start_step}..{cfg.steps}, "
                         f"batch {cfg.batch_size}, {cfg.size}px, logs in {cfg.run_dir}")

    def message(self, text: str) -> None:
        if self.enabled:
            self.console.print(text)

    def step(self, step: int, logs: dict[str, torch.Tensor | float], lr: float,
             data_wait: float = 0.0) -> None:
        """Progress every step; the losses (0-d tensors, read here: a host sync) only every
        ``log_every`` steps, with the share of the wall time since the last log spent
        waiting for data (``data_wait``: this step's seconds blocked on the loader)."""
        if not self.enabled:
            return
        now = time.monotonic()
        self._waited += data_wait
        elapsed = max(1e-9, now - self._t0)
        rate = (step - self._s0) / elapsed
        every = max(1, self.cfg.log_every)
        if step % every and step != self.cfg.steps:
            if self.progress is not None:
                self.progress.update(self.task, completed=step, speed=f"{rate:.2f} it/s")
            return
        stall = self._waited / max(1e-9, now - self._last_log)
        self._waited, self._last_log = 0.0, now
        logs = {k: float(v) for k, v in logs.items()}
        losses = " ".join(f"{k}={v:.4f}" for k, v in logs.items()) + f" data_wait={100 * stall:.1f}%"
        if self.progress is not None:
            self.progress.update(self.task, completed=step, speed=f"{rate:.2f} it/s", losses=losses)
        if self.progress is None:
            eta = (self.cfg.steps - step) / rate if rate > 0 else float("inf")
            self.console.print(f"step {step}/{self.cfg.steps} {rate:.3f} it/s "
                               f"eta {eta / 60:.1f} min {losses}")
        if self.tb is not None:
            for k, v in logs.items():
                self.tb.add_scalar(f"loss/{k}", v, step)
            self.tb.add_scalar("lr", lr, step)
            self.tb.add_scalar("speed/it_per_s", rate, step)
            self.tb.add_scalar("speed/data_wait_share", stall, step)

    def images(self, step: int, image: torch.Tensor, mask: torch.Tensor, pred: torch.Tensor) -> None:
        if self.tb is None:
            return
        masked = torch.where(mask > 0.5, torch.ones_like(image), image)  # hole shown white
        grid = image_grid([masked, composite(pred.float(), image, mask), image])
        self.tb.add_image("input_output_target", grid, step)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.tb is not None:
            self.tb.close()
