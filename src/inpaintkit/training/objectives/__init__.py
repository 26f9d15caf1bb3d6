"""One objective per method; ``OBJECTIVES`` maps the config's ``method`` to it."""

from inpaintkit.training.objectives.base import Objective
from inpaintkit.training.objectives.deepfill import DeepFillObjective
from inpaintkit.training.objectives.lowfreq import LowFreqObjective
from inpaintkit.training.objectives.pconv import PConvObjective
from inpaintkit.training.objectives.pic import PICObjective
from inpaintkit.training.objectives.rn import RNObjective
from inpaintkit.training.objectives.stylize import StylizeObjective

OBJECTIVES: dict[str, type[Objective]] = {
    "deepfill": DeepFillObjective,
    "rn": RNObjective,
    "pconv": PConvObjective,
    "lowfreq": LowFreqObjective,  # patchmatch_lfnet: learned coarse bands over PatchMatch
    "pic": PICObjective,
    "stylize": StylizeObjective,  # not inpainting: fast stylization (models.STYLIZERS)
}

__all__ = ["OBJECTIVES", "Objective"]
