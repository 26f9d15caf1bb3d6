"""Generators and discriminators. ``MODELS`` maps a name to a generator class following the
protocol of :mod:`.base` (the networks and the classical fills of :mod:`.classical`);
``DISCRIMINATORS`` maps a name to a discriminator class; :func:`create_model` is the one
constructor. :mod:`.serialization` owns the checkpoint folder format, which training
writes and inference reads.
"""

from inpaintkit.models.registry import DISCRIMINATORS, MODELS, create_discriminator, create_model

__all__ = ["DISCRIMINATORS", "MODELS", "create_discriminator", "create_model"]
