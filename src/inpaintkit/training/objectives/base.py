"""What a training objective is: the losses of one method, nothing else.

The loop (``training/loop.py``) is the same for every method. It asks the objective to
build the networks, to run the generator (``generate``), and for the discriminator and
generator losses; it never looks at the model's name. An objective's loss weights are a
frozen dataclass (``args_class``) filled from the config's ``objective_args``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from inpaintkit.models import create_discriminator, create_model
from inpaintkit.models.base import config_from_dict
from inpaintkit.training.config import TrainConfig

# Detached 0-d loss tensors: the loop reads them only at log intervals (no host sync per step).
Logs = dict[str, torch.Tensor]


class Objective:
    args_class: ClassVar[type]

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        try:
            self.args = config_from_dict(self.args_class, cfg.objective_args)
        except (TypeError, ValueError) as exc:
            from inpaintkit.errors import InpaintError

            raise InpaintError(f"objective_args: {exc}") from None

    # --- networks -------------------------------------------------------------------
    def build_generator(self) -> nn.Module:
        return create_model(self.cfg.model, tiny=self.cfg.tiny, **self.cfg.model_args)

    def build_discriminator(self) -> nn.Module | None:
        """The discriminator(s) as one module (an ``nn.ModuleDict`` when there are
        several), or None for a method without adversarial loss."""
        if not self.cfg.discriminator:
            return None
        return create_discriminator(self.cfg.discriminator, tiny=self.cfg.tiny, **self.cfg.disc_args)

    # --- one training step ----------------------------------------------------------
    def generate(self, generator: nn.Module, image: torch.Tensor, mask: torch.Tensor,
                 coarse: torch.Tensor | None = None) -> Any:
        """Run the generator on a batch; the result is passed to both losses. ``coarse``:
        the classical coarse fill (B,3,H,W) of generators that take one (``coarse_input``),
        computed by the data workers."""
        raise NotImplementedError

    def discriminator_loss(
        self, discriminator: nn.Module, image: torch.Tensor, mask: torch.Tensor, out: Any
    ) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

    def generator_loss(
        self, discriminator: nn.Module | None, image: torch.Tensor, mask: torch.Tensor, out: Any
    ) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

    def prediction(self, out: Any) -> torch.Tensor:
        """The (B,3,H,W) completion to show in image grids."""
        raise NotImplementedError
