"""Generators and discriminators. ``MODELS`` maps a name to a generator class following the
protocol of :mod:`.base` (the networks and the classical fills of :mod:`.classical`);
``DISCRIMINATORS`` maps a name to a discriminator class; :func:`create_model` is the one
constructor. ``STYLIZERS`` holds the stylization networks (``inpaintkit stylize``),
built by :func:`create_stylizer`. :mod:`.serialization` owns the checkpoint folder format, which training
writes and inference reads.
"""

from inpaintkit.models.registry import (
    DISCRIMINATORS,
    MODELS,
    STYLIZERS,
    create_discriminator,
    create_model,
    create_stylizer,
)

__all__ = ["DISCRIMINATORS", "MODELS", "STYLIZERS", "create_discriminator", "create_model", "create_stylizer"]
