"""PIC-Net's official release (lyndonzheng/Pluralistic-Inpainting) -> ``pic_net``.

Format ``pic_net``. The official ``BaseModel.save_networks`` writes one
``torch.save(net.state_dict())`` file per network into the experiment folder:
``<iter>_net_E.pth`` (encoder), ``<iter>_net_G.pth`` (generator), ``<iter>_net_D.pth``
(discriminator of the generative path) and ``<iter>_net_D_rec.pth`` (of the reconstructive
path); ``<iter>`` is ``latest`` or an iteration count. SRC is that folder (``latest``
preferred) or any one of the files, the others found beside it. E and G are required; D,
when present, becomes the ranking discriminator (``pic_patchgan``); D_rec is not read
(training only). Networks saved from GPU runs are ``DataParallel``-wrapped: a ``module.``
prefix on every key is dropped.

The official nets: ``define_e(ngf=32, z_nc=128, img_f=128, layers=5, L=6)``,
``define_g(ngf=32, z_nc=128, img_f=128, L=0, layers=5, output_scale=4)`` (``--output_scale``
is read back from the ``out<i>`` heads), ``define_d(ndf=32, img_f=128, layers=5)``. Every
conv sits in the official ``SpectralNorm`` wrapper, whose tensors are registered on the
wrapped conv: ``<name>.module.{weight_bar, weight_u, weight_v, bias}`` (weight_bar = raw W,
(u, v) = its power-iteration vectors). Each residual block registers its convs twice,
as ``conv1 / conv2 / bypass`` and inside ``model.<i> / shortcut.<i>`` (the same tensors):
both names are required, the ``model / shortcut`` ones are read (the later ones in the
official load order, the ones the forward uses). Ignored: the discriminator's attention
``alpha`` and merge block ``attn2.model.*`` (built but never called by the official D).

Our model mirrors this (:mod:`inpaintkit.models.pic_net`) with the compatibility settings
``spectral_norm_style="official"`` (the wrapper's arithmetic), ``sampling="official"`` (the
official test loop's draws and per-forward power iteration), ``mask_convention="known"``
(products with the known-part mask) and ``down_pool="each"`` (the blocks' order of operations);
the key map is module-prefix to module-prefix, the tensor names below it are the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inpaintkit.errors import InpaintError, NotFound, Unsupported
from inpaintkit.io.weights import flatten_tensors, read_torch_file
from inpaintkit.official import FORMATS, OfficialFormat, State

_FILE = re.compile(r"^(?P<iter>.+)_net_(?P<net>E|G|D|D_rec)\.pth$")
_LEAF = re.compile(r"^(?P<prefix>.+?)\.(?P<leaf>(?:module\.)?(?:weight_bar|weight_u|weight_v|weight|bias)"
                   r"|gamma|alpha)$")
# The official settings (models/pluralistic_model.py) under our names.
COMPAT = {"spectral_norm_style": "official", "sampling": "official", "mask_convention": "known", "down_pool": "each"}
DISCRIMINATOR = "pic_patchgan"
DISCRIMINATOR_COMPAT = {"spectral_norm_style": "official", "down_pool": "each"}

# (our sub-module, official sub-module, official duplicate names of the same module)
_FIRST = (("body.0", "model.0", ("conv1",)), ("body.2", "model.2", ("conv2",)),
          ("shortcut.1", "shortcut.1", ("bypass",)))
_RES = (("body.1", "model.1", ("conv1",)), ("body.3", "model.3", ("conv2",)), ("shortcut", "shortcut.0", ("bypass",)))
_UP = (("body.0", "model.0", ()), ("body.2", "model.2", ("conv1",)), ("body.3", "model.3", ()),
       ("body.5", "model.5", ("conv2",)), ("shortcut", "shortcut.0", ("bypass",)))

Table = dict[str, tuple[str, tuple[str, ...]]]


def _add(table: Table, ours: str, official: str, parts: tuple[tuple[str, str, tuple[str, ...]], ...]) -> None:
    for mine, theirs, dups in parts:
        table[f"{ours}.{mine}"] = (f"{official}.{theirs}", tuple(f"{official}.{d}" for d in dups))


def generator_table(model: nn.Module) -> Table:
    """Our module prefix -> (official prefix, official duplicate prefixes) for a PICNet."""
    cfg = model.config
    t: Table = {}
    _add(t, "encoder.blocks.0", "E.block0", _FIRST)
    for i in range(1, cfg.layers):
        _add(t, f"encoder.blocks.{i}", f"E.encoder{i - 1}", _RES)
    for j in range(cfg.infer_blocks):
        _add(t, f"encoder.infer.{j}", f"E.infer_prior{j}", _RES)
    _add(t, "encoder.prior_head", "E.prior", _RES)
    _add(t, "encoder.posterior_head", "E.posterior", _RES)
    _add(t, "generator.lift", "G.generator", _RES)
    for j in range(cfg.transform_blocks):
        _add(t, f"generator.transform.{j}", f"G.generator{j}", _RES)
    for i in range(cfg.layers):
        _add(t, f"generator.blocks.{i}", f"G.decoder{i}", _UP)
    for i in model.generator.heads:
        t[f"generator.heads.{i}.2"] = (f"G.out{i}.model.2", (f"G.out{i}.conv1",))
    if cfg.use_attention:
        t["generator.attention"] = ("G.attn1", ())
        t["generator.attention.query"] = ("G.attn1.query_conv", ())
        _add(t, "generator.attention.merge", "G.attn1.model", _RES)
    return t


def discriminator_table(model: nn.Module) -> Table:
    """The same for a PICDiscriminator (official ResDiscriminator)."""
    t: Table = {}
    _add(t, "first", "D.block0", _FIRST)
    for j in range(len(model.blocks)):
        _add(t, f"blocks.{j}", f"D.encoder{j}", _RES)
    if model.attention is not None:
        t["attention"] = ("D.attn2", ())
        t["attention.query"] = ("D.attn2.query_conv", ())
    _add(t, "last", "D.block1", _RES)
    t["score"] = ("D.conv", ())
    return t


def _split(key: str) -> tuple[str, str]:
    match = _LEAF.match(key)
    if match is None:
        raise InpaintError(f"pic_net: no official name for parameter '{key}'")
    return match["prefix"], match["leaf"]


def _export(model: nn.Module, table: Table) -> State:
    out: State = {}
    for key, tensor in model.state_dict().items():
        prefix, leaf = _split(key)
        if prefix not in table:
            raise InpaintError(f"pic_net: no official name for parameter '{key}'")
        official, dups = table[prefix]
        for name in (official, *dups):
            out[f"{name}.{leaf}"] = tensor  # the duplicates share storage, as in the official file
    return out


def _check_official(model: nn.Module, what: str) -> None:
    style = getattr(model.config, "spectral_norm_style", None)
    if model.config.spectral_norm and style != "official":
        raise InpaintError(f"pic_net export: the {what} must be built with spectral_norm_style='official' "
                           f"(the imported config), got {style!r}")


def export(model: nn.Module) -> State:
    """Our PICNet (built with the imported config) -> the official ``E.* / G.*`` tensors."""
    _check_official(model, "generator")
    return _export(model, generator_table(model))


def export_discriminator(model: nn.Module) -> State:
    """Our PICDiscriminator (official spectral norm) -> the official ``D.*`` tensors, with
    the attention's unused ``alpha`` and merge block filled (zeros, unit vectors)."""
    _check_official(model, "discriminator")
    out = _export(model, discriminator_table(model))
    if model.attention is not None:
        c = model.attention.channels
        out["D.attn2.alpha"] = torch.zeros(1)
        for mine, theirs, dups in _RES:
            cin = c if mine == "body.3" else 2 * c
            k = 1 if mine == "shortcut" else 3
            unit_u, unit_v = torch.zeros(c), torch.zeros(cin * k * k)
            unit_u[0] = unit_v[0] = 1.0
            leaves = {"module.bias": torch.zeros(c), "module.weight_u": unit_u,
                      "module.weight_v": unit_v, "module.weight_bar": torch.zeros(c, cin, k, k)}
            for name in (theirs, *dups):
                for leaf, tensor in leaves.items():
                    out[f"D.attn2.model.{name}.{leaf}"] = tensor
    return out


# --- reading the files ----------------------------------------------------------------

def _files(path: Path) -> dict[str, Path]:
    """The network files of one release: {"E": path, "G": path[, "D": path]}."""
    if path.is_dir():
        iters = sorted({m["iter"] for f in path.iterdir() if (m := _FILE.match(f.name)) and m["net"] == "G"})
        if not iters:
            raise NotFound(f"{path}: no PIC-Net network files (<iter>_net_G.pth, <iter>_net_E.pth)")
        if "latest" in iters:
            chosen = "latest"
        elif len(iters) == 1:
            chosen = iters[0]
        else:
            raise InpaintError(f"{path}: several PIC-Net iterations ({', '.join(iters[:5])}); pass one file")
        folder = path
    elif path.is_file():
        match = _FILE.match(path.name)
        if match is None:
            raise Unsupported(f"{path}: not a PIC-Net network file (expected <iter>_net_E.pth / "
                              f"<iter>_net_G.pth / <iter>_net_D.pth)")
        chosen, folder = match["iter"], path.parent
    else:
        raise NotFound(f"PIC-Net weights not found: {path}")
    found = {net: folder / f"{chosen}_net_{net}.pth" for net in ("E", "G", "D")}
    for net in ("E", "G"):
        if not found[net].is_file():
            raise NotFound(f"{found[net]} not found (PIC-Net needs both {chosen}_net_E.pth and {chosen}_net_G.pth)")
    if not found["D"].is_file():
        del found["D"]
    return found


def read(path: Path) -> State:
    """The official tensors of E, G (and D), keys prefixed ``E.`` / ``G.`` / ``D.``."""
    out: State = {}
    for net, file in _files(Path(path)).items():
        obj = read_torch_file(file)
        if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise Unsupported(f"{file} is not a state dict (name -> tensor) as save_networks writes it")
        state = flatten_tensors(obj)
        if all(k.startswith("module.") for k in state):  # saved from a DataParallel (GPU) run
            state = {k[len("module."):]: v for k, v in state.items()}
        out.update({f"{net}.{k}": v for k, v in state.items()})
    return out


# --- official -> ours -------------------------------------------------------------------

def _first(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def _hint(keys: list[str]) -> str:
    if any("weight_orig" in k for k in keys):
        return " (torch.nn.utils.spectral_norm names: another format's file, not the official PIC-Net)"
    if keys and not any(k.endswith("weight_bar") for k in keys):
        return " (no official SpectralNorm tensors 'weight_bar': not a PIC-Net file)"
    return ""


def _match(state: State, expected: State, what: str) -> None:
    """One-line InpaintError for missing / unexpected keys or other shapes."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({_first(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected ({_first(unexpected)})")
        raise InpaintError(f"{what}: " + "; ".join(parts) + _hint(list(state)))
    wrong = [k for k in sorted(expected) if tuple(state[k].shape) != tuple(expected[k].shape)]
    if wrong:
        shapes = ", ".join(f"{k} {tuple(state[k].shape)} != {tuple(expected[k].shape)}" for k in wrong[:3])
        raise InpaintError(f"{what}: {len(wrong)} tensors of another shape ({shapes}"
                           f"{', ...' if len(wrong) > 3 else ''}): another variant/width")


def _ours(model: nn.Module, table: Table, state: State) -> State:
    out: State = {}
    for key in model.state_dict():
        prefix, leaf = _split(key)
        out[key] = state[f"{table[prefix][0]}.{leaf}"].detach().clone().contiguous()
    return out


def convert(state: State) -> tuple[dict[str, Any], State, tuple[str, dict[str, Any], State] | None]:
    """Official E/G(/D) tensors -> (our config overrides, our PICNet state, discriminator)."""
    from inpaintkit.models import create_discriminator, create_model

    nets = {k.split(".", 1)[0] for k in state}
    if not {"E", "G"} <= nets or nets - {"E", "G", "D"}:
        raise InpaintError(f"pic_net: expected the networks E, G (and D), got {', '.join(sorted(nets)) or 'none'}"
                           + _hint(list(state)))
    heads = sorted({int(m[1]) for k in state if (m := re.match(r"G\.out(\d+)\.", k))})
    overrides: dict[str, Any] = dict(COMPAT)
    if heads and heads[-1] == 4 and heads == list(range(5 - len(heads), 5)):
        overrides["output_scale"] = len(heads)  # --output_scale of the official run
    with torch.device("meta"):  # the reference layout only: no memory, no init cost
        reference = create_model("pic_net", **overrides)
    gen = {k: v for k, v in state.items() if k[0] in "EG"}
    _match(gen, export(reference), "pic_net (official E/G)")
    ours = _ours(reference, generator_table(reference), gen)
    disc = None
    if "D" in nets:
        with torch.device("meta"):
            d_ref = create_discriminator(DISCRIMINATOR, **DISCRIMINATOR_COMPAT)
        d_state = {k: v for k, v in state.items() if k[0] == "D"}
        _match(d_state, export_discriminator(d_ref), "pic_net (official D)")
        disc = (DISCRIMINATOR, dict(DISCRIMINATOR_COMPAT), _ours(d_ref, discriminator_table(d_ref), d_state))
    return overrides, ours, disc


FORMATS["pic_net"] = OfficialFormat(
    name="pic_net",
    model="pic_net",
    summary="PIC-Net (lyndonzheng/Pluralistic-Inpainting): <iter>_net_E.pth + <iter>_net_G.pth [+ _net_D.pth]",
    read=read,
    convert=convert,
    export=export,
    files=lambda path: list(_files(Path(path)).values()),
)
