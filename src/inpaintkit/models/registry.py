"""The model registries: plain dicts, one line per model.

Add a model by importing its class here and adding one entry; nothing else is needed for
it to be listed by ``inpaintkit models``, covered by the tests parametrised over
``MODELS``, trainable and loadable. The classical fills (``telea``, ``ns``, ``smooth``,
``patchmatch``, ``patchmatch_lf``) are entries like any other (``classical = True``, no parameters).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.models.base import InpaintModel, config_from_dict
from inpaintkit.models.classical import MeanFill, NavierStokes, PatchMatch, PatchMatchLF, SmoothFill, Telea
from inpaintkit.models.deepfill_v2 import DeepFillV2, DeepFillV2Partial, DeepFillV2Vanilla
from inpaintkit.models.patchmatch_lfnet import PatchMatchLFNet
from inpaintkit.models.pconv_unet import PConvUNet
from inpaintkit.models.pic_discriminator import PICDiscriminator
from inpaintkit.models.pic_net import PICNet
from inpaintkit.models.rn_inpaint import EdgePatchGAN, RNInpaint
from inpaintkit.models.sn_patchgan import SNPatchGAN
from inpaintkit.models.stylizer import Stylizer

MODELS: dict[str, type[InpaintModel]] = {}
MODELS["pconv_unet"] = PConvUNet
MODELS["rn_inpaint"] = RNInpaint
MODELS["deepfill_v2"] = DeepFillV2
MODELS["deepfill_v2_vanilla"] = DeepFillV2Vanilla
MODELS["deepfill_v2_partial"] = DeepFillV2Partial
MODELS["pic_net"] = PICNet
MODELS["telea"] = Telea
MODELS["ns"] = NavierStokes
MODELS["smooth"] = SmoothFill
MODELS["patchmatch"] = PatchMatch
MODELS["patchmatch_lf"] = PatchMatchLF
MODELS["patchmatch_lfnet"] = PatchMatchLFNet
MODELS["mean"] = MeanFill

DISCRIMINATORS: dict[str, type[nn.Module]] = {}
DISCRIMINATORS["edge_patchgan"] = EdgePatchGAN
DISCRIMINATORS["sn_patchgan"] = SNPatchGAN
DISCRIMINATORS["pic_patchgan"] = PICDiscriminator

# Image-to-image stylization networks (not inpainting generators: `inpaintkit stylize`).
STYLIZERS: dict[str, type[nn.Module]] = {}
STYLIZERS["stylizer"] = Stylizer


def registered() -> dict[str, type]:
    """Generators, discriminators and stylizers: one name space (the names differ)."""
    return {**MODELS, **DISCRIMINATORS, **STYLIZERS}


def _lookup(table: dict[str, type], name: str, what: str) -> type:
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise InpaintError(f"unknown {what} '{name}' (known: {known})")
    return table[name]


def create_model(name: str, tiny: bool = False, **overrides: Any) -> InpaintModel:
    """Build generator ``name`` with its default config, the tiny test config if ``tiny``,
    and ``overrides`` on top."""
    cls = _lookup(MODELS, name, "model")
    values = {**(cls.tiny if tiny else {}), **overrides}
    return cls(config_from_dict(cls.config_class, values))


def create_stylizer(name: str, tiny: bool = False, **overrides: Any) -> nn.Module:
    cls = _lookup(STYLIZERS, name, "stylizer")
    values = {**(cls.tiny if tiny else {}), **overrides}
    return cls(config_from_dict(cls.config_class, values))


def create_discriminator(name: str, tiny: bool = False, **overrides: Any) -> nn.Module:
    cls = _lookup(DISCRIMINATORS, name, "discriminator")
    values = {**(cls.tiny if tiny else {}), **overrides}
    return cls(config_from_dict(cls.config_class, values))
