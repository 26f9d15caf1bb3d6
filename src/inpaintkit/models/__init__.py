"""Pure architectures. ``MODELS`` maps a name to a generator class (see :mod:`.base`);
``DISCRIMINATORS`` maps a name to a discriminator class; :func:`create_model` is the one
constructor.
"""

from inpaintkit.models.registry import DISCRIMINATORS, MODELS, create_discriminator, create_model

__all__ = ["DISCRIMINATORS", "MODELS", "create_discriminator", "create_model"]
