"""One objective per method; ``OBJECTIVES`` maps the config's ``method`` to it."""

from inpaintkit.training.objectives.base import Objective
from inpaintkit.training.objectives.deepfill import DeepFillObjective

OBJECTIVES: dict[str, type[Objective]] = {
    "deepfill": DeepFillObjective,
}

__all__ = ["OBJECTIVES", "Objective"]
