"""Format ``deepfill_v2_port``: DeepFill v2 weights of the PyTorch port (nipponjo/deepfillv2-pytorch).

Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019. The port saves
``torch.save({'G': generator.state_dict(), 'D': ..., 'G_optimizer': ..., 'D_optimizer':
..., 'n_iter': ...})`` (``.pth``); its generator comes in two layouts, told apart by the keys:

* ``networks.py`` ("port"): ``stage1.conv1.conv.weight``, ``stage1.down_block1.conv1_downsample
  .conv.weight``, ..., ``stage2.contextual_attention.fuse_weight`` (a constant ``eye(3)``
  buffer, checked for its shape and dropped); symmetric padding, attention with the fuse
  and PyTorch nearest downsampling. Config: ``refine_sees_mask=False,
  attention="official"``.
* ``networks_tf.py`` ("port_tf", the official TensorFlow release converted):
  ``conv1.conv.weight``, ``conv2_downsample.conv.weight``, ..., ``xconv1``, ``pmconv1``,
  ``allconv17``: the TensorFlow variable names. TensorFlow "SAME" padding, attention
  *without* the fuse, align-corners nearest downsampling. Config: the above and
  ``padding="tf", attention_fuse=False, attention_resize="align_corners"``.

Every gated conv is ``<name>.conv.{weight,bias}`` with ``2n`` output channels (feature half
first, then gate: the same split as ours, so tensors are copied unchanged); a deconv is
``<name>.conv.conv.*``; the RGB layers are plain ``<name>.conv.*`` convs. Widths: ``cnum``
= the first conv's output channels (48), input channels ``5 + in_extra``.

Ignored: the discriminator ``D.*`` (its spectral norm rescales the stored weight in place
on every forward, a state our ``sn_patchgan`` cannot take over exactly), the optimiser
states ``G_optimizer.*`` / ``D_optimizer.*`` and ``n_iter``. A bare generator state dict
(no ``G.`` prefix) is read too.

The port's own pre/post-processing, which our ``DeepFillV2.inpaint`` and the Inpainter
already do: image ``*2-1`` (RGB), mask ``> 0.5`` = hole, input ``[image*(1-m), 1, m]``,
crop to a multiple of 8 (ours: reflection padding), stage-2 tanh output, composite
``image*(1-m) + out*m``. One difference: the port writes ``uint8((x+1)*127.5)``
(truncation), ours rounds (<= 1 grey level).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from inpaintkit.errors import InpaintError
from inpaintkit.io.weights import flatten_tensors, read_torch_file
from inpaintkit.official import FORMATS, OfficialFormat, State

# (our module prefix, official names per layer: port_tf, port); deconv layers / RGB output
# are found by name (see _suffix).
_SECTIONS: tuple[tuple[str, list[str], list[str]], ...] = (
    ("coarse_net.body", [
        "conv1", "conv2_downsample", "conv3", "conv4_downsample", "conv5", "conv6", "conv7_atrous",
        "conv8_atrous", "conv9_atrous", "conv10_atrous", "conv11", "conv12", "conv13_upsample",
        "conv14", "conv15_upsample", "conv16", "conv17",
    ], [
        "stage1.conv1", "stage1.down_block1.conv1_downsample", "stage1.down_block1.conv2",
        "stage1.down_block2.conv1_downsample", "stage1.down_block2.conv2",
        *(f"stage1.conv_bn{i}" for i in range(1, 8)),
        "stage1.up_block1.conv1_upsample", "stage1.up_block1.conv2", "stage1.up_block2.conv1_upsample",
        "stage1.up_block2.conv2", "stage1.conv_to_rgb",
    ]),
    ("refine_net.hallucinate", [
        "xconv1", "xconv2_downsample", "xconv3", "xconv4_downsample", "xconv5", "xconv6",
        "xconv7_atrous", "xconv8_atrous", "xconv9_atrous", "xconv10_atrous",
    ], [
        "stage2.conv_conv1", "stage2.conv_down_block1.conv1_downsample", "stage2.conv_down_block1.conv2",
        "stage2.conv_down_block2.conv1_downsample", "stage2.conv_down_block2.conv2",
        *(f"stage2.conv_conv_bn{i}" for i in range(1, 6)),
    ]),
    ("refine_net.attention_in", [
        "pmconv1", "pmconv2_downsample", "pmconv3", "pmconv4_downsample", "pmconv5", "pmconv6",
    ], [
        "stage2.ca_conv1", "stage2.ca_down_block1.conv1_downsample", "stage2.ca_down_block1.conv2",
        "stage2.ca_down_block2.conv1_downsample", "stage2.ca_down_block2.conv2", "stage2.ca_conv_bn1",
    ]),
    ("refine_net.attention_out", ["pmconv9", "pmconv10"], ["stage2.ca_conv_bn4", "stage2.ca_conv_bn5"]),
    ("refine_net.decoder", [
        "allconv11", "allconv12", "allconv13_upsample", "allconv14", "allconv15_upsample", "allconv16",
        "allconv17",
    ], [
        "stage2.conv_bn6", "stage2.conv_bn7", "stage2.up_block1.conv1_upsample", "stage2.up_block1.conv2",
        "stage2.up_block2.conv1_upsample", "stage2.up_block2.conv2", "stage2.conv_to_rgb",
    ]),
)
FUSE_BUFFER = "stage2.contextual_attention.fuse_weight"  # networks.py only: eye(3), (1, 1, 3, 3)
LAYOUTS = ("port_tf", "port")
# The compatibility settings each layout needs (DeepFillV2Config; module docstring).
OVERRIDES: dict[str, dict[str, Any]] = {
    "port": {"refine_sees_mask": False, "attention": "official", "padding": "torch",
             "attention_fuse": True, "attention_resize": "floor"},
    "port_tf": {"refine_sees_mask": False, "attention": "official", "padding": "tf",
                "attention_fuse": False, "attention_resize": "align_corners"},
}
_FIRST = {"port_tf": "conv1.conv.weight", "port": "stage1.conv1.conv.weight"}


def _suffixes(name: str) -> tuple[str, str]:
    """(official, ours) key infix of one layer: deconvs nest a conv, RGB layers are plain."""
    if name.endswith("upsample"):
        return ".conv.conv", ".conv.conv"
    if name.endswith(("conv17", "conv_to_rgb")):
        return ".conv", ""
    return ".conv", ".conv"


def key_map(layout: str) -> dict[str, str]:
    """Official generator key -> our key (weights and biases) for ``layout``."""
    column = LAYOUTS.index(layout) + 1
    out: dict[str, str] = {}
    for section in _SECTIONS:
        for i, name in enumerate(section[column]):
            theirs, ours = _suffixes(name)
            for kind in ("weight", "bias"):
                out[f"{name}{theirs}.{kind}"] = f"{section[0]}.{i}{ours}.{kind}"
    return out


def _names(keys: list[str] | set[str], n: int = 3) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (", ..." if len(keys) > n else "")


def _layout(state: State) -> str:
    for layout, first in _FIRST.items():
        if first in state:
            return layout
    raise InpaintError(
        f"not a DeepFill v2 port generator: neither '{_FIRST['port']}' (networks.py) nor "
        f"'{_FIRST['port_tf']}' (networks_tf.py) among its {len(state)} tensors ({_names(set(state))})"
    )


def _convert(state: State, layout: str) -> tuple[dict[str, Any], State]:
    """Check ``state`` (one layout's generator keys) completely, then map it."""
    mapping = key_map(layout)
    expected = set(mapping) | ({FUSE_BUFFER} if layout == "port" else set())
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        parts = [f"{len(missing)} missing ({_names(missing)})"] if missing else []
        parts += [f"{len(unexpected)} unexpected ({_names(unexpected)})"] if unexpected else []
        raise InpaintError(f"DeepFill v2 {layout} generator keys do not match: {'; '.join(parts)}")
    first = state[_FIRST[layout]]
    if first.ndim != 4 or first.shape[1] < 5 or first.shape[0] % 4:
        raise InpaintError(f"DeepFill v2 {layout}: first conv has shape {tuple(first.shape)}, "
                           "expected (cnum, 5 [+ extra], 5, 5) with cnum divisible by 4")
    overrides = {"cnum": int(first.shape[0]), "in_extra": int(first.shape[1]) - 5, **OVERRIDES[layout]}
    if layout == "port" and tuple(state[FUSE_BUFFER].shape) != (1, 1, 3, 3):
        raise InpaintError(f"DeepFill v2 port: {FUSE_BUFFER} has shape {tuple(state[FUSE_BUFFER].shape)}, "
                           "expected (1, 1, 3, 3)")
    shapes = _our_shapes(overrides)
    for theirs, ours in mapping.items():
        if tuple(state[theirs].shape) != shapes[ours]:
            raise InpaintError(
                f"DeepFill v2 {layout}: {theirs} has shape {tuple(state[theirs].shape)}, but a "
                f"cnum={overrides['cnum']} generator needs {shapes[ours]} (another width variant?)"
            )
    ours = {mapping[k]: state[k].detach().to(torch.float32).clone() for k in mapping}
    return overrides, ours


def _our_shapes(overrides: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    from inpaintkit.models.registry import create_model

    with torch.device("meta"):
        model = create_model("deepfill_v2", **overrides)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def convert_port_tf_layout(state: dict[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
    """A ``networks_tf.py`` generator state dict (keys without ``G.``) -> (config overrides
    for ``deepfill_v2``, our state dict). One-line InpaintError for any mismatch."""
    if _FIRST["port_tf"] not in state:
        _layout(state)  # names the other layout, or says what is missing
        raise InpaintError(f"not a networks_tf.py generator: '{_FIRST['port_tf']}' is missing "
                           "(this looks like a networks.py one)")
    return _convert(state, "port_tf")


def _check_exportable(model: torch.nn.Module) -> None:
    c = model.config
    if (
        c.coarse != "learned" or not c.gated or c.partial or c.slim or c.residual or c.lowfreq != 1
        or c.refine_sees_mask
    ):
        raise InpaintError("only a DeepFill v2 with the port's structure (learned coarse, gated, not slim, "
                           "not residual, refine_sees_mask=False) exports to its layout")


def _export(model: torch.nn.Module, layout: str) -> State:
    _check_exportable(model)
    ours = model.state_dict()
    out = {theirs: ours[k].detach().clone() for theirs, k in key_map(layout).items()}
    if layout == "port":
        out[FUSE_BUFFER] = torch.eye(3).view(1, 1, 3, 3)
    return out


def export_port_tf_layout(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Our DeepFill v2 (built with the port_tf overrides) -> a ``networks_tf.py`` generator
    state dict (keys without ``G.``)."""
    return _export(model, "port_tf")


def read(path: Path) -> State:
    """The tensors of a port ``.pth`` file, flat (``G.conv1.conv.weight``, ``D.*``, ...)."""
    path = Path(path)
    if path.is_dir() or path.suffix in (".index", ".meta") or ".data-" in path.name:
        raise InpaintError(f"{path} looks like a TensorFlow checkpoint (the official release): "
                           "use the format deepfill_v2_tf; deepfill_v2_port reads the PyTorch port's .pth")
    flat = flatten_tensors(read_torch_file(path))
    if not flat:
        raise InpaintError(f"{path} holds no tensors (expected a DeepFill v2 port checkpoint)")
    return flat


def _generator(flat: State) -> State:
    if any(k.startswith("G.") for k in flat):
        return {k[2:]: v for k, v in flat.items() if k.startswith("G.")}
    if any(k.startswith(("inpaint_net/", "inpaint_net.")) for k in flat):
        raise InpaintError("this looks like a deepfill_v2_tf file (TensorFlow variable names), "
                           "not the PyTorch port's")
    return flat  # a bare generator state dict


def convert(flat: State) -> tuple[dict[str, Any], State, None]:
    """Either layout (told apart by the keys) -> (overrides, our state dict, no discriminator)."""
    state = _generator(flat)
    overrides, ours = _convert(state, _layout(state))
    return overrides, ours, None


def export(model: torch.nn.Module) -> State:
    """Our model -> a flat ``G.*`` dict in the layout its config implies (``padding="tf"``:
    networks_tf.py, else networks.py); ``torch.save`` of ``{'G': ...}`` is a port file."""
    layout = "port_tf" if model.config.padding == "tf" else "port"
    return {f"G.{k}": v for k, v in _export(model, layout).items()}


FORMATS["deepfill_v2_port"] = OfficialFormat(
    name="deepfill_v2_port",
    model="deepfill_v2",
    summary="DeepFill v2, PyTorch port nipponjo/deepfillv2-pytorch (.pth, networks.py or networks_tf.py)",
    read=read,
    convert=convert,
    export=export,
)
