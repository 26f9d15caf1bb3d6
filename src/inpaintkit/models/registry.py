"""The model registries: plain dicts, one line per model.

Add a model by importing its class here and adding one entry; nothing else is needed for
it to be listed by ``inpaintkit models``, covered by the tests parametrised over
``MODELS``, trainable and loadable.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.models.base import InpaintModel, config_from_dict

MODELS: dict[str, type[InpaintModel]] = {}

DISCRIMINATORS: dict[str, type[nn.Module]] = {}


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


def create_discriminator(name: str, tiny: bool = False, **overrides: Any) -> nn.Module:
    cls = _lookup(DISCRIMINATORS, name, "discriminator")
    values = {**(getattr(cls, "tiny", {}) if tiny else {}), **overrides}
    return cls(config_from_dict(cls.config_class, values))
