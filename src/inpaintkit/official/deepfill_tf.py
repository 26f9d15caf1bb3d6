"""Format ``deepfill_v2_tf``: the official DeepFill v2 TensorFlow release (JiahuiYu/generative_inpainting, v2).

Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019. The released
Places2 / CelebA-HQ models are TF1 ``tf.train.Saver`` checkpoints: a folder with
``checkpoint`` (``checkpoint.txt`` as Google Drive renames it), ``snap-N.index``,
``snap-N.data-00000-of-00001`` and ``snap-N.meta``; read by
:mod:`inpaintkit.io.tf_checkpoint` (no TensorFlow needed). The generator's variables are
``inpaint_net/<layer>/kernel`` (HWIO) and ``/bias`` for the layers of ``build_inpaint_net``
(``conv1`` ... ``conv17``, ``xconv1`` ... ``xconv10_atrous``, ``pmconv1`` ... ``pmconv10``,
``allconv11`` ... ``allconv17``), a ``gen_deconv`` nesting its conv as
``inpaint_net/<layer>/<layer>_conv/kernel``; base width ``cnum = 48`` (a constant of the
official code). Each maps to the PyTorch port's ``networks_tf.py`` key of the same layer
(``<layer>.conv.weight``, deconvs ``<layer>.conv.conv.weight``; kernel HWIO -> OIHW), and
from there to our ``deepfill_v2`` through :mod:`inpaintkit.official.deepfill_port`.

Ignored variables: the discriminator ``discriminator/...`` (SN-PatchGAN, with its spectral
norm vectors), the Adam slots ``.../Adam`` and ``.../Adam_1``, ``beta1_power`` /
``beta2_power``, ``lr`` and ``global_step``. Any other variable is an error.

What the official code (``test.py`` + ``build_server_graph``) computes, and where it lands:

* images come from ``cv2.imread`` (training: neuralgym's loader, cv2 too): **BGR**,
  ``x / 127.5 - 1``; the network's input, its coarse output and its result are BGR. The
  channel swap is folded into the weights (input channels 0-2 of ``conv1``, ``xconv1``,
  ``pmconv1`` and the outputs of ``conv17``, ``allconv17`` reversed; exact: the composite
  between the stages is per channel), so the imported model takes and returns RGB like
  every inpaintkit model. (The port's ``test.py`` feeds RGB from PIL to ``networks_tf.py``;
  whether its converted weights were swapped is not recorded in its repository.)
* mask ``> 127.5`` = hole, input ``[x * (1 - m), 1, m]``, composite
  ``x2 * m + x * (1 - m)`` (ours already); TensorFlow "SAME" padding (``padding="tf"``);
* contextual attention ``contextual_attention(x, x, mask_s, 3, 1, rate=2)`` *with* the fuse
  (its default, ``attention_fuse=True``; the port's ``networks_tf.py`` turns it off), and
  the mask resized twice with align-corners nearest: to the features' grid (H/4) by
  ``resize_mask_like``, then by the attention to H/8 (``attention_resize="tf"``; the port
  resizes once, by 8, which picks other rows: 24 of the 32 at 256 px);
* the output ``uint8`` is ``saturate_cast((x + 1) * 127.5)`` (truncation; ours rounds:
  <= 1 grey level) of the float composite; the image is cropped to a multiple of 8 (ours:
  reflection padding, the Inpainter's business).

Checked against the official TF1 graph itself run on TensorFlow 2 (``benchmarks/official/
deepfill_tf.py --tf-python``): the same 84 variable names, max 2e-5 on the raw output.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from inpaintkit.errors import InpaintError
from inpaintkit.io.tf_checkpoint import read_tf_checkpoint
from inpaintkit.official import FORMATS, OfficialFormat, State

SCOPE = "inpaint_net/"
CNUM = 48  # hard-coded in the official build_inpaint_net
# The layers of build_inpaint_net, in order (names are the variable scopes).
LAYERS: tuple[str, ...] = (
    "conv1", "conv2_downsample", "conv3", "conv4_downsample", "conv5", "conv6", "conv7_atrous",
    "conv8_atrous", "conv9_atrous", "conv10_atrous", "conv11", "conv12", "conv13_upsample", "conv14",
    "conv15_upsample", "conv16", "conv17",
    "xconv1", "xconv2_downsample", "xconv3", "xconv4_downsample", "xconv5", "xconv6", "xconv7_atrous",
    "xconv8_atrous", "xconv9_atrous", "xconv10_atrous",
    "pmconv1", "pmconv2_downsample", "pmconv3", "pmconv4_downsample", "pmconv5", "pmconv6", "pmconv9",
    "pmconv10",
    "allconv11", "allconv12", "allconv13_upsample", "allconv14", "allconv15_upsample", "allconv16",
    "allconv17",
)
# Layers that see the (BGR) image, and the RGB output layers (channel swap, docstring).
IMAGE_INPUTS = ("conv1", "xconv1", "pmconv1")
IMAGE_OUTPUTS = ("conv17", "allconv17")
# The compatibility settings on top of the port's networks_tf.py ones (module docstring).
TF_OVERRIDES: dict[str, Any] = {"attention_fuse": True, "attention_resize": "tf"}
_IGNORED = re.compile(r"(discriminator/.*|.+/Adam(_\d+)?|beta[12]_power(_\d+)?|lr|global_step)")


def is_ignored(name: str) -> bool:
    """A variable of the release that is not the generator's (module docstring)."""
    return _IGNORED.fullmatch(name) is not None


def _pairs() -> dict[str, str]:
    """TF variable name -> networks_tf.py key, weights and biases of every layer."""
    out: dict[str, str] = {}
    for layer in LAYERS:
        nested = layer.endswith("_upsample")
        tf_scope = f"{SCOPE}{layer}/{layer}_conv" if nested else f"{SCOPE}{layer}"
        port = f"{layer}.conv.conv" if nested else f"{layer}.conv"
        out[f"{tf_scope}/kernel"] = f"{port}.weight"
        out[f"{tf_scope}/bias"] = f"{port}.bias"
    return out


PAIRS = _pairs()


def _flip_channels(port: State) -> State:
    """Reverse the image channels of the image-facing layers (BGR <-> RGB; an involution)."""
    out = dict(port)
    for layer in IMAGE_INPUTS:
        w = out[f"{layer}.conv.weight"]
        out[f"{layer}.conv.weight"] = torch.cat([w[:, :3].flip(1), w[:, 3:]], dim=1)
    for layer in IMAGE_OUTPUTS:
        for kind in ("weight", "bias"):
            out[f"{layer}.conv.{kind}"] = out[f"{layer}.conv.{kind}"].flip(0)
    return out


def _names(keys: set[str] | list[str], n: int = 3) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")


def expected_shapes(cnum: int = CNUM) -> dict[str, tuple[int, ...]]:
    """TF variable name -> shape of the official generator (kernels HWIO)."""
    from inpaintkit.models.registry import create_model
    from inpaintkit.official.deepfill_port import OVERRIDES

    with torch.device("meta"):
        model = create_model("deepfill_v2", cnum=cnum, **OVERRIDES["port_tf"])
    return {k: tuple(v.shape) for k, v in _to_tf(_port_export(model)).items()}


def _port_export(model: torch.nn.Module) -> State:
    from inpaintkit.official.deepfill_port import export_port_tf_layout

    return export_port_tf_layout(model)


def _to_tf(port: State) -> State:
    """networks_tf.py state (OIHW) -> TF variables (HWIO), channel order untouched."""
    back = {v: k for k, v in PAIRS.items()}
    return {back[k]: (v.permute(2, 3, 1, 0) if v.ndim == 4 else v).contiguous() for k, v in port.items()}


def _shape_hint(tf_state: State) -> str:
    conv1 = tf_state.get(f"{SCOPE}conv1/kernel")
    conv2 = tf_state.get(f"{SCOPE}conv2_downsample/kernel")
    if conv1 is not None and conv1.ndim == 4 and conv1.shape[2] == 6:
        return " (6 input channels: the guided/edge variant, not supported)"
    if conv1 is not None and conv2 is not None and conv1.ndim == conv2.ndim == 4 and conv2.shape[2] == conv1.shape[3]:
        return " (ungated layers: a DeepFill v1 checkpoint, master branch, is not this format)"
    return " (another width variant?)"


def read(path: Path) -> State:
    """The generator (and any unknown) variables of a TF checkpoint (folder, prefix or
    ``.index``); ignored variables (module docstring) are not even read."""
    return read_tf_checkpoint(path, select=lambda name: not is_ignored(name))


def convert(flat: State) -> tuple[dict[str, Any], State, None]:
    """TF variables -> (config overrides, our ``deepfill_v2`` state dict, no discriminator).
    One-line InpaintError naming missing / unexpected variables or a wrong shape."""
    from inpaintkit.official.deepfill_port import convert_port_tf_layout

    flat = {k: v for k, v in flat.items() if not is_ignored(k)}
    if not any(k.startswith(SCOPE) for k in flat):
        port_like = any(k.startswith(("G.", "conv1.", "stage1.")) for k in flat)
        raise InpaintError(
            "this looks like a PyTorch port file (deepfill_v2_port), not a TensorFlow checkpoint"
            if port_like else f"not a DeepFill v2 TensorFlow checkpoint: no '{SCOPE}' variables among "
            f"its {len(flat)} generator candidates ({_names(set(flat))})"
        )
    missing, unexpected = set(PAIRS) - set(flat), set(flat) - set(PAIRS)
    if missing or unexpected:
        parts = [f"{len(missing)} missing ({_names(missing)})"] if missing else []
        parts += [f"{len(unexpected)} unexpected ({_names(unexpected)})"] if unexpected else []
        raise InpaintError(f"DeepFill v2 TensorFlow generator variables do not match: {'; '.join(parts)}")
    for name, shape in expected_shapes().items():
        if tuple(flat[name].shape) != shape:
            raise InpaintError(f"{name} has shape {tuple(flat[name].shape)}, but the official DeepFill v2 "
                               f"generator (cnum={CNUM}) needs {shape}{_shape_hint(flat)}")
    bad = [k for k, v in flat.items() if not v.is_floating_point()]
    if bad:
        raise InpaintError(f"{bad[0]} holds {flat[bad[0]].dtype} values, expected floats")
    port = {PAIRS[k]: (v.permute(3, 2, 0, 1) if v.ndim == 4 else v).float().contiguous() for k, v in flat.items()}
    overrides, ours = convert_port_tf_layout(_flip_channels(port))
    return {**overrides, **TF_OVERRIDES}, ours, None


def export(model: torch.nn.Module) -> State:
    """Our ``deepfill_v2`` built with the imported config -> the TF generator variables
    (what ``convert`` reads back to the same model)."""
    config = model.config
    wanted = {"padding": "tf", "attention": "official", "refine_sees_mask": False, **TF_OVERRIDES}
    off = {k: getattr(config, k, None) for k, v in wanted.items() if getattr(config, k, None) != v}
    if off or config.cnum != CNUM:
        what = ", ".join(f"{k}={v!r}" for k, v in off.items()) or f"cnum={config.cnum}"
        raise InpaintError(f"only a DeepFill v2 with the official TensorFlow settings exports to deepfill_v2_tf "
                           f"(this one has {what})")
    return _to_tf(_flip_channels(_port_export(model)))


FORMATS["deepfill_v2_tf"] = OfficialFormat(
    name="deepfill_v2_tf",
    model="deepfill_v2",
    summary="DeepFill v2, official TensorFlow release JiahuiYu/generative_inpainting v2 "
            "(checkpoint folder, prefix or .index)",
    read=read,
    convert=convert,
    export=export,
)
