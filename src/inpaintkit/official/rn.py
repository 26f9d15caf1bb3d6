"""Format ``rn``: the checkpoints of the official Region Normalization code (geekyutao/RN,
Yu et al., AAAI 2020), imported as ``rn_inpaint`` (and its ``edge_patchgan``
discriminator).

The file: ``torch.save(InpaintingModel.state_dict())`` (``main.py`` ``checkpoint``), no
wrapper dict. Keys ``generator.*`` (``G_Net``), ``discriminator.*`` (``D_Net``, the old
``nn.utils.spectral_norm`` layout ``weight_orig`` / ``weight_u`` / ``weight_v``) and the
``AdversarialLoss`` buffers. A model trained on several GPUs has ``generator.module.*`` /
``discriminator.module.*`` (DataParallel); that segment is dropped. The released
``x_admin.cluster.localRN-0.8RN-Net_bs_14_epoch_3.pth`` is such a file according to the
key lists quoted in the repository's issues #7 and #35 (the file itself was not
available here). Ignored entries:

* ``adversarial_loss.real_label`` / ``fake_label`` (the BCE targets 1 and 0);
* ``discriminator.features.0.*``: the released file comes from a ``D_Net`` with
  ``self.conv1 = self.features = ...`` (the same tensors under two names); used in place
  of ``conv1`` only when ``conv1`` is absent.

Nothing else is saved (the L1 loss has no state, RN's ``BatchNorm2d`` keeps no running
statistics, the optimisers are not in the file). Key map (official ``generator.`` ->
ours)::

    encoder_conv{k}.*                 enc{k}.*                       k = 1, 2, 3
    encoder_in{k}.foreground_gamma    enc_norm{k}.hole_weight  = 1 + gamma   (RN-B)
    encoder_in{k}.foreground_beta     enc_norm{k}.hole_bias
    encoder_in{k}.background_gamma    enc_norm{k}.known_weight = 1 + gamma
    encoder_in{k}.background_beta     enc_norm{k}.known_bias
    middle.{i}.conv_block.1 / .5      middle.{i}.conv1 / conv2
    middle.{i}.conv_block.2 / .6.sa   middle.{i}.norm1 / norm2       (RN-L)
    decoder.0 / .4                    dec1.0 / dec2.0                (conv before PixelShuffle)
    decoder.2 / .6 .sa                dec_norm1 / dec_norm2          (RN-L)
    decoder.9                         out
    (RN-L) sa.conv1 / sa.gamma_conv / sa.beta_conv  ->  detector / gamma_conv / beta_conv

``1 + gamma`` is what the official forward computes in float32 each time, so the stored
weight is bit-identical to the factor it uses; ``export`` writes ``weight - 1`` (exact for
weights in [0.5, 2], within one rounding otherwise). Discriminator:
``conv{j}.0.weight_orig / weight_u / weight_v`` -> ``layers.{j-1}.parametrizations.weight
.original / .0._u / .0._v`` (same power-iteration vectors, same sigma in eval).

The imported config (:data:`CONFIG`) turns on what makes ``rn_inpaint`` compute the
official forward: 3 input channels (``mask_input=False``), the [0, 1] input with a white
hole (``input_fill="white"``; the official ``(tanh + 1) / 2`` output is our ``tanh``
rescaled), RN statistics pooled over the batch (``rn_mode="batch"``), the official
arithmetic of RN's statistics (``rn_stats="official"``, effectively eps * N / |R|) and
RN-B's summed betas (``rn_bias="sum"``); RN-L threshold 0.8 (the released file's, not
stored in it: ``--threshold`` of the official scripts). Sizes: multiples of 4, as the
official network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from inpaintkit.errors import InpaintError
from inpaintkit.io.weights import flatten_tensors, read_torch_file
from inpaintkit.official import FORMATS, OfficialFormat, State

MODEL = "rn_inpaint"
DISCRIMINATOR = "edge_patchgan"

# The official G_Net / D_Net (widths and depth are fixed in its code).
CONFIG: dict[str, Any] = {
    "channels": 64,
    "residual_blocks": 8,
    "dilation": 2,
    "norm": "rn",
    "rn_mode": "batch",
    "threshold": 0.8,
    "mask_input": False,
    "edge": False,
    "upsample": "pixelshuffle",
    "input_fill": "white",
    "rn_stats": "official",
    "rn_bias": "sum",
}
DISCRIMINATOR_CONFIG: dict[str, Any] = {"in_channels": 3, "channels": 64, "use_sigmoid": True, "spectral_norm": True}

_IGNORED = ("adversarial_loss.",)

# ours -> official (generator, without the "generator." prefix); exactly one rule matches.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), target)
    for pattern, target in (
        (r"enc(\d)\.(weight|bias)", r"encoder_conv\1.\2"),
        (r"enc_norm(\d)\.hole_weight", r"encoder_in\1.foreground_gamma"),
        (r"enc_norm(\d)\.hole_bias", r"encoder_in\1.foreground_beta"),
        (r"enc_norm(\d)\.known_weight", r"encoder_in\1.background_gamma"),
        (r"enc_norm(\d)\.known_bias", r"encoder_in\1.background_beta"),
        (r"middle\.(\d+)\.conv1\.(weight|bias)", r"middle.\1.conv_block.1.\2"),
        (r"middle\.(\d+)\.norm1\.(.+)", r"middle.\1.conv_block.2.sa.\2"),
        (r"middle\.(\d+)\.conv2\.(weight|bias)", r"middle.\1.conv_block.5.\2"),
        (r"middle\.(\d+)\.norm2\.(.+)", r"middle.\1.conv_block.6.sa.\2"),
        (r"dec1\.0\.(weight|bias)", r"decoder.0.\1"),
        (r"dec_norm1\.(.+)", r"decoder.2.sa.\1"),
        (r"dec2\.0\.(weight|bias)", r"decoder.4.\1"),
        (r"dec_norm2\.(.+)", r"decoder.6.sa.\1"),
        (r"out\.(weight|bias)", r"decoder.9.\1"),
    )
)
_D_LEAVES = {
    "weight_orig": "parametrizations.weight.original",
    "weight_u": "parametrizations.weight.0._u",
    "weight_v": "parametrizations.weight.0._v",
}


def official_name(ours: str) -> str:
    """Our generator parameter name -> the official one (with ``generator.``)."""
    for pattern, target in _RULES:
        if pattern.fullmatch(ours):
            name = pattern.sub(target, ours)
            return "generator." + name.replace(".sa.detector.", ".sa.conv1.")
    raise ValueError(f"rn: no official name for parameter '{ours}'")


def _is_gamma(official: str) -> bool:
    return official.endswith(("foreground_gamma", "background_gamma"))


def _discriminator_name(ours: str) -> str:
    match = re.fullmatch(r"layers\.(\d)\.(.+)", ours)
    leaf = {v: k for k, v in _D_LEAVES.items()}.get(match[2]) if match else None
    if leaf is None:
        raise ValueError(f"rn: no official name for discriminator parameter '{ours}'")
    return f"discriminator.conv{int(match[1]) + 1}.0.{leaf}"


def read(path: Path) -> State:
    """The tensors of an official RN checkpoint, flat (``weights_only`` load)."""
    obj = read_torch_file(path)
    if not isinstance(obj, Mapping):
        raise InpaintError(f"{path} is not an RN checkpoint: it holds a {type(obj).__name__}, not a state dict")
    flat = flatten_tensors(obj)
    if not flat:
        raise InpaintError(f"{path} is not an RN checkpoint: it holds no tensors")
    return flat


def export(model: torch.nn.Module) -> State:
    """Our ``rn_inpaint`` (built with :data:`CONFIG`) -> the official ``generator.*`` tensors."""
    config = getattr(model, "config", None)
    wrong = [
        f"{k}={getattr(config, k, None)!r} (official {v!r})" for k, v in CONFIG.items() if getattr(config, k, None) != v
    ]
    if wrong:
        raise InpaintError(f"cannot export as an official RN generator: config {', '.join(wrong[:3])}")
    out: State = {}
    for name, tensor in model.state_dict().items():
        official = official_name(name)
        value = tensor.detach().float()
        out[official] = (value - 1.0) if _is_gamma(official) else value.clone()
    return out


def export_discriminator(disc: torch.nn.Module) -> State:
    """Our ``edge_patchgan`` (:data:`DISCRIMINATOR_CONFIG`) -> the official ``discriminator.*``."""
    return {_discriminator_name(k): v.detach().float().clone() for k, v in disc.state_dict().items()}


def _expected() -> tuple[dict[str, tuple[str, tuple[int, ...]]], dict[str, tuple[str, tuple[int, ...]]]]:
    """Our names -> (official name, shape) of the generator and the discriminator. The
    generator is built on the meta device (no memory, no initialisation); the
    discriminator on the CPU: spectral norm's set-up runs ~100x slower on meta."""
    from inpaintkit.models import create_discriminator, create_model

    with torch.device("meta"):
        gen = create_model(MODEL, **CONFIG)
    disc = create_discriminator(DISCRIMINATOR, **DISCRIMINATOR_CONFIG)
    g = {k: (official_name(k), tuple(v.shape)) for k, v in gen.state_dict().items()}
    d = {k: (_discriminator_name(k), tuple(v.shape)) for k, v in disc.state_dict().items()}
    return g, d


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")


def _other_format(keys: list[str]) -> str:
    """A hint when the keys are clearly another layout's."""
    if any(k.startswith(("G.", "D.")) for k in keys):
        return "; this looks like a DeepFill v2 PyTorch-port file (nipponjo/deepfillv2-pytorch, keys 'G.*')"
    if any(k.startswith(("enc1.", "enc_norm1.", "middle.0.conv1.")) for k in keys):
        return "; this looks like an inpaintkit rn_inpaint state dict (load its checkpoint folder, no import needed)"
    if any(k.startswith("generator.encoder.") for k in keys):
        return "; this looks like an EdgeConnect checkpoint (knazeri/edge-connect), not RN"
    if any(k.startswith(("block0.", "posterior.", "prior.", "infer_prior")) for k in keys):
        return "; this looks like a PIC-Net network file (lyndonzheng/Pluralistic-Inpainting)"
    return ""


def _check(part: str, got: State, expected: dict[str, tuple[int, ...]]) -> None:
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys ({_names(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_names(unexpected)})")
        raise InpaintError(f"not an official RN (geekyutao/RN) {part}: {'; '.join(parts)}")
    wrong = [
        f"{k} {tuple(got[k].shape)} (expected {expected[k]})" for k in expected if tuple(got[k].shape) != expected[k]
    ]
    if wrong:
        raise InpaintError(
            f"not the official RN {part} (a variant with other widths?): {len(wrong)} shapes differ: {_names(wrong)}"
        )
    odd = [k for k in expected if not got[k].is_floating_point()]
    if odd:
        raise InpaintError(f"official RN {part}: non-float tensors ({_names(odd)})")


def convert(state: State) -> tuple[dict[str, Any], State, tuple[str, dict[str, Any], State] | None]:
    """Official flat dict -> (config overrides, ``rn_inpaint`` state, discriminator or None)."""
    # DataParallel's "module." segment (generator.module.x, module.generator.x) is dropped.
    state = {re.sub(r"(^|\.)module\.", r"\1", k): v for k, v in state.items()}
    keys = list(state)
    if not any(k.startswith("generator.encoder_conv1.") for k in keys):
        hint = _other_format(keys)
        raise InpaintError(
            f"not an official RN (geekyutao/RN) checkpoint: no 'generator.encoder_conv1.*' among "
            f"{len(keys)} keys ({_names(keys)}){hint}"
        )
    gen = {k: v for k, v in state.items() if k.startswith("generator.")}
    disc = {k: v for k, v in state.items() if k.startswith("discriminator.")}
    other = [k for k in keys if k not in gen and k not in disc and not k.startswith(_IGNORED)]
    if other:
        raise InpaintError(f"not an official RN checkpoint: {len(other)} unexpected keys ({_names(other)})")
    # The released file's alias of conv1 (see the module docstring).
    aliases = {k: v for k, v in disc.items() if k.startswith("discriminator.features.")}
    disc = {k: v for k, v in disc.items() if k not in aliases}
    if not any(k.startswith("discriminator.conv1.") for k in disc):
        disc.update({k.replace(".features.", ".conv1.", 1): v for k, v in aliases.items()})

    expected_g, expected_d = _expected()
    _check("generator", gen, dict(expected_g.values()))
    ours: State = {}
    for name, (official, _) in expected_g.items():
        value = gen[official].detach().to(torch.float32)
        # The official forward's own factor, computed the same way (float32 1 + gamma).
        ours[name] = (1.0 + value) if _is_gamma(official) else value.clone()

    discriminator = None
    if disc:
        _check("discriminator", disc, dict(expected_d.values()))
        d_state = {name: disc[off].detach().to(torch.float32).clone() for name, (off, _) in expected_d.items()}
        discriminator = (DISCRIMINATOR, dict(DISCRIMINATOR_CONFIG), d_state)
    return dict(CONFIG), ours, discriminator


FORMATS["rn"] = OfficialFormat(
    name="rn",
    model=MODEL,
    summary="Region Normalization (geekyutao/RN): the InpaintingModel state dict (.pth) of main.py",
    read=read,
    convert=convert,
    export=export,
)
