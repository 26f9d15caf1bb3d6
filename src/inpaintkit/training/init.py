"""Starting weights for fine-tuning (``init``, ``init_discriminator`` of the training config).

A fresh run (never a resumed one) may start its generator from a model folder / a
``.safetensors`` file and its discriminator from a training checkpoint. Names and shapes
must match exactly, with one explicit exception, ``init_expand_inputs``: a conv weight
``(out, c_old, k, k)`` loads into ``(out, c_new, k, k)``, ``c_new > c_old``, as
``[W_old, 0]``: the new input channels (appended last, as DeepFill v2's sketch and
SN-PatchGAN's sketch are) start with zero weights, so while those inputs are zero the
expanded model computes exactly what the given one did. A spectral-norm power-iteration
vector ``v`` (the flattened ``(c, k, k)`` input side of its weight) is padded with zeros the
same way, which keeps it the same singular-vector estimate of the expanded weight.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.io import read_state_dict

logger = logging.getLogger(__name__)


def _expanded(own: torch.Tensor, given: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor | None:
    """``given`` padded with zeros to ``own``'s shape along the input channels, or None when
    the shapes differ in any other way. ``weight``: for a spectral-norm ``_v``, the own
    weight it belongs to (its input side is ``v``'s layout)."""
    if own.ndim == 4 and given.ndim == 4 and own.shape[0] == given.shape[0] \
            and own.shape[2:] == given.shape[2:] and own.shape[1] > given.shape[1]:
        out = torch.zeros(own.shape, dtype=own.dtype)
        out[:, : given.shape[1]] = given
        return out
    if weight is not None and own.ndim == 1 and given.ndim == 1:
        per_channel = weight[0, 0].numel()  # k * k
        if given.numel() % per_channel == 0 and own.numel() > given.numel():
            out = torch.zeros(own.numel() // per_channel, per_channel, dtype=own.dtype)
            out[: given.numel() // per_channel] = given.view(-1, per_channel)
            return out.view(-1)
    return None


def fit_state(module: nn.Module, state: dict[str, torch.Tensor], source: str,
              expand: bool = False) -> dict[str, torch.Tensor]:
    """``state`` checked against ``module`` (same names; same shapes, or input channels
    expanded with zeros when ``expand``), cast to its dtypes; an InpaintError otherwise."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    fitted, wrong, grown = {}, [], []
    for key in sorted(set(own) & set(state)):
        value = state[key]
        if own[key].shape != value.shape:
            weight_key = key.rsplit(".", 2)[0] + ".original" if key.endswith("._v") else None
            new = _expanded(own[key], value, own.get(weight_key)) if expand else None
            if new is None:
                wrong.append(key)
                continue
            grown.append(key)
            value = new
        fitted[key] = value.to(own[key].dtype)
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[0]
        hint = "" if expand or not wrong else " (init_expand_inputs: true adds zero-weight input channels)"
        raise InpaintError(
            f"init: {source} does not fit the model ({len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(wrong)} wrong-shaped tensors, e.g. '{first}'){hint}"
        )
    if grown:
        logger.warning("init: %s: %d tensor(s) given zero-weight extra input channels: %s",
                       source, len(grown), ", ".join(grown))
    return fitted


def init_generator(generator: nn.Module, source: str, expand: bool = False) -> None:
    """Load generator weights (a folder holding model.safetensors, or the file)."""
    path = Path(source)
    if not path.exists():
        raise InpaintError(f"init: {source} does not exist")
    if path.is_dir():
        path = path / "model.safetensors"
    if path.suffix != ".safetensors":
        raise InpaintError(f"init: expected a .safetensors file or a folder holding one, got {source}")
    generator.load_state_dict(fit_state(generator, read_state_dict(path), str(path), expand))


def init_discriminator(discriminator: nn.Module | None, source: str, expand: bool = False) -> None:
    """Load the ``discriminator.`` tensors of a training checkpoint folder."""
    from inpaintkit.training import checkpoint as ckpt

    if discriminator is None:
        raise InpaintError("init_discriminator: this run has no discriminator")
    found = ckpt.find_checkpoint(Path(source)) if Path(source).exists() else None
    if found is None:
        raise InpaintError(f"init_discriminator: no training checkpoint at {source}")
    _meta, tensors = ckpt.load_checkpoint(found)
    prefix = "discriminator."
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if not state:
        raise InpaintError(f"init_discriminator: {found} holds no discriminator")
    discriminator.load_state_dict(fit_state(discriminator, state, str(found), expand))
