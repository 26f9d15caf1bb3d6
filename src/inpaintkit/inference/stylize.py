"""Stylization models in, stylized uint8 images out (``inpaintkit stylize apply``, the benchmark).

:func:`load_stylizer` reads a stylizer checkpoint folder (``config.json`` +
``model.safetensors``, never unpickled) or, with no path, the shipped one in
``inpaintkit/weights/stylize_default/``; :func:`stylize_array` runs it on an image of any
size (the network pads and crops itself) in eval mode: instance norm then uses the image's
own statistics, batch norm its running averages.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inpaintkit.conventions import image_to_tensor, tensor_to_image
from inpaintkit.errors import NotFound
from inpaintkit.inference.device import resolve_device
from inpaintkit.inference.weights import WEIGHTS_ROOT
from inpaintkit.models.serialization import CONFIG_FILE, load_checkpoint

DEFAULT_STYLIZER = WEIGHTS_ROOT / "stylize_default"
TRAIN_HINT = ("train one with: inpaintkit stylize train --style PAINTING.jpg --content PHOTOS/ "
              "--out MODEL_DIR, then pass --model MODEL_DIR")


def load_stylizer(path: str | os.PathLike | None = None,
                  device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(the stylizer in eval mode, its config.json metadata: style image, norm, steps...)."""
    if path is None:
        if not (DEFAULT_STYLIZER / CONFIG_FILE).is_file():
            raise NotFound(f"no stylization model ships with this package ({DEFAULT_STYLIZER} is missing); "
                           + TRAIN_HINT)
        path = DEFAULT_STYLIZER
    if not Path(path).exists():
        raise NotFound(f"stylization model {path} does not exist; {TRAIN_HINT}")
    return load_checkpoint(path, resolve_device(device), kind="stylizer")


@torch.inference_mode()
def stylize_array(model: nn.Module, image: np.ndarray) -> np.ndarray:
    """(H,W,3) uint8 -> (H,W,3) uint8, any H and W."""
    device = next(model.parameters()).device
    out = model(image_to_tensor(image).to(device))
    return tensor_to_image(out)


__all__ = ["DEFAULT_STYLIZER", "TRAIN_HINT", "load_stylizer", "stylize_array"]
