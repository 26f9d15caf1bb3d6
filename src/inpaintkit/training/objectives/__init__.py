"""One objective per method; ``OBJECTIVES`` maps the config's ``method`` to it."""

from inpaintkit.training.objectives.base import Objective
from inpaintkit.training.objectives.deepfill import DeepFillObjective
from inpaintkit.training.objectives.pconv import PConvObjective
from inpaintkit.training.objectives.pic import PICObjective
from inpaintkit.training.objectives.rn import RNObjective

OBJECTIVES: dict[str, type[Objective]] = {
    "deepfill": DeepFillObjective,
    "rn": RNObjective,
    "pconv": PConvObjective,
    "pic": PICObjective,
}

__all__ = ["OBJECTIVES", "Objective"]
