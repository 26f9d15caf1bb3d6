"""``inpaintkit stylize``: fast stylization (Johnson et al. 2016 with Ulyanov et al.'s
instance normalization): ``train`` a feed-forward network on one painting, ``apply`` it.

``stylize train --style IMG --content DIR --norm instance --out MODEL_DIR`` runs the
training loop (``method: stylize``, ``-c CONFIG`` or ``configs/cpu/stylize_in.yaml`` with the
run named ``stylize_<norm>_<style>``; options given override the config's) and writes
the final generator to MODEL_DIR (``config.json`` + ``model.safetensors``) with the style
image and the painting in the metadata. MODEL_DIR is never replaced without ``--overwrite``,
and is checked before training starts.

``stylize apply [--model MODEL_DIR] INPUT -o OUTPUT``: INPUT a file (OUTPUT a file) or a
folder (OUTPUT a folder, ``x.png`` per image, as ``fill``'s batch: bad files reported and
skipped, a summary, exit 1 when any failed, complete outputs skipped unless
``--overwrite``). Writes are atomic; bad input gives one ``error:`` line and exit 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from inpaintkit.commands.fill_io import (
    _check_output,
    _console,
    _kept_alpha,
    _remove_stale,
    _say,
    _shown_size,
    _unsupported_note,
)
from inpaintkit.commands.options import GROUP_SETTINGS, Device
from inpaintkit.errors import InpaintError
from inpaintkit.io import DEFAULT_MAX_PIXELS, same_file

stylize_app = typer.Typer(help="Fast stylization: train a network on a painting, apply it.", **GROUP_SETTINGS)

DEFAULT_CONFIG = Path("configs/cpu/stylize_in.yaml")
NORMS = ("instance", "batch")
# The paintings of ../shared/data/styles (public domain; styles/README.md).
PAINTINGS = {
    "starry_night": "The Starry Night, Vincent van Gogh, 1889",
    "the_scream": "The Scream, Edvard Munch, 1893",
    "wave": "The Great Wave off Kanagawa, Katsushika Hokusai, c. 1831",
    "composition_vii": "Composition VII, Wassily Kandinsky, 1913",
}


@stylize_app.command("train")
def train(
    style: Annotated[Path, typer.Option("--style", help="The style image (a painting).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the trained model (config.json + model.safetensors).")],
    content: Annotated[Path | None, typer.Option("--content", help="Folder of content photos (recursive).")] = None,
    norm: Annotated[str | None, typer.Option("--norm", help="instance (Ulyanov et al.) or batch (Johnson et al.); "
                                                            "default: the config's, else instance.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config (default: "
                                                f"{DEFAULT_CONFIG} when it exists).")] = None,
    budget: Annotated[float | None, typer.Option("--budget-cpu-minutes", min=0,
                                                 help="Stop after N CPU-minutes.")] = None,
    size: Annotated[int | None, typer.Option("--size", min=16, help="Training crop size.")] = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Stop after N steps.")] = None,
    vgg: Annotated[Path | None, typer.Option("--vgg", help="Local VGG-19/16 weights (torchvision layout) for the "
                                                           "losses; default: random features.")] = None,
    title: Annotated[str | None, typer.Option("--style-title", help="The painting, for the metadata.")] = None,
    fp16: Annotated[bool, typer.Option("--fp16", help="Store the weights in half precision.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing model at --out.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a training option: key=value.")] = None,
) -> None:
    """Train a stylization network on one style image."""
    from inpaintkit.commands.train import check_model_config
    from inpaintkit.training.config import load_config
    from inpaintkit.training.loop import TrainingDiverged, TrainingInterrupted
    from inpaintkit.training.loop import train as run_training

    if norm is not None and norm not in NORMS:
        raise InpaintError(f"--norm must be one of {', '.join(NORMS)}, got '{norm}'")
    if not style.is_file():
        raise InpaintError(f"style image not found: {style}")
    if content is not None and not content.is_dir():
        raise InpaintError(f"content folder not found: {content}")
    _check_model_target(out, overwrite)
    overrides = ["method=stylize", "model=stylizer", "discriminator=null", "masks=full",
                 f"objective_args.style={style}"]
    if config is None:  # the default config, with a run name of its own per norm and style
        config = DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None
        overrides.append(f"name=stylize_{norm or 'instance'}_{style.stem}")
    if norm is not None:
        overrides.append(f"model_args.norm={norm}")
    for key, value in (("data", content), ("budget_cpu_minutes", budget), ("size", size), ("steps", steps),
                       ("objective_args.vgg_weights", vgg)):
        if value is not None:
            overrides.append(f"{key}={value}")
    cfg = load_config(config, overrides + list(set_ or []))
    check_model_config(cfg.model, cfg.tiny, cfg.model_args)
    try:
        last = run_training(cfg)
    except TrainingDiverged as exc:
        raise InpaintError(str(exc)) from None
    except TrainingInterrupted as exc:
        typer.echo(f"last checkpoint: {exc.checkpoint} (not written to {out})", err=True)
        raise typer.Exit(128 + exc.signum) from None
    _export(last, out, style, title or PAINTINGS.get(style.stem, style.stem), fp16)
    _say(f"wrote {out} (last checkpoint: {last})")


def _check_model_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InpaintError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise InpaintError(f"--out {out}: exists and is not empty (use --overwrite to replace the model)")
        others = sorted(p.name for p in out.iterdir() if p.name not in ("config.json", "model.safetensors"))
        if others:  # save_model replaces a model folder, nothing else (checked before training)
            raise InpaintError(f"--out {out}: holds files that are not a model ({', '.join(others[:3])})")
    parent = out.parent if str(out.parent) else Path(".")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise InpaintError(f"--out {out}: folder {parent} is not writable")


def _export(checkpoint: Path, out: Path, style: Path, title: str, fp16: bool) -> None:
    import json

    import torch

    from inpaintkit.models.serialization import load_checkpoint, save_model

    model, meta = load_checkpoint(checkpoint, kind="stylizer")
    state = json.loads((checkpoint / "state.json").read_text())
    cfg = state.get("config", {})
    save_model(model, out, dtype=torch.float16 if fp16 else None, metadata={
        "style_image": style.name, "style_painting": title, "norm": model.config.norm, "steps": state.get("step"),
        "cpu_minutes": round(float(state.get("cpu_seconds", 0.0)) / 60, 2), "crop_size": cfg.get("size"),
        "loss_network": (cfg.get("objective_args") or {}).get("vgg_weights") or "random features",
        "trained_from": str(checkpoint),
    })


@stylize_app.command("apply")
def apply(
    input_path: Annotated[Path, typer.Argument(help="An image, or a folder of images.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file, or folder for a folder.")],
    model: Annotated[Path | None, typer.Option("--model", help="Model folder (default: the shipped one).")] = None,
    device: Device = "cpu",
    max_pixels: Annotated[int, typer.Option("--max-pixels", min=1, help="Refuse larger images.")] = DEFAULT_MAX_PIXELS,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Folder: redo outputs that already exist.")] = False,
) -> None:
    """Stylize an image, or every image of a folder, with a trained stylization model."""
    from inpaintkit.inference.stylize import load_stylizer, stylize_array
    from inpaintkit.io import read_image, write_image
    from inpaintkit.io.photo import with_alpha

    if not input_path.exists():
        raise InpaintError(f"input not found: {input_path}")
    if input_path.is_dir():
        _apply_folder(input_path, output, model, device, max_pixels, overwrite)
        return
    _check_output(output, (input_path,), create=False, folder_checks=False)
    pixels = read_image(input_path, max_pixels=max_pixels)
    net, meta = load_stylizer(model, device)
    _check_output(output, (input_path,), create=True)
    notes = _remove_stale(output.parent)
    alpha = _kept_alpha(input_path, [output], max_pixels, notes)
    for note in notes:
        _say(f"note: {note}", stderr=True)
    write_image(output, with_alpha(stylize_array(net, pixels), alpha), inputs=(input_path,))
    _say(f"wrote {output} (style: {meta.get('style_painting', meta.get('style_image', '?'))})")


def _apply_folder(folder: Path, output: Path, model: Path | None, device: str, max_pixels: int,
                  overwrite: bool) -> None:
    from inpaintkit.inference.stylize import load_stylizer, stylize_array
    from inpaintkit.io import list_image_files, read_image, write_image
    from inpaintkit.io.photo import with_alpha
    from inpaintkit.io.write import output_complete, prepare_output_folder

    images = list_image_files(folder, recursive=False)
    if same_file(output, folder):
        raise InpaintError(f"{output}: the output folder must differ from the input folder")
    if output.exists() and not output.is_dir():
        raise InpaintError(f"{output}: exists and is not a folder")
    if not images:
        raise InpaintError(f"{folder}: no images found (png, jpg, webp, bmp, tif)")
    net, _ = load_stylizer(model, device)
    for stale in prepare_output_folder(output):
        _say(f"note: removed {stale.name}, left by a killed run", stderr=True)
    if (left_out := _unsupported_note(folder, "stylized")) is not None:
        _say(f"note: {left_out}", stderr=True)
    done, skipped, failed = 0, 0, []
    claimed: dict[Path, Path] = {}  # a.jpg and a.png both map to a.png: the second is an error
    err = _console(stderr=True)
    for path in images:
        target = output / f"{path.stem}.png"
        try:
            if target in claimed:
                raise InpaintError(f"{path}: output {target.name} is already the output of {claimed[target].name}")
            claimed[target] = path
            if not overwrite and target.exists() and output_complete(target, _shown_size(path)):
                skipped += 1
                continue
            notes: list[str] = []
            alpha = _kept_alpha(path, [target], max_pixels, notes)
            result = with_alpha(stylize_array(net, read_image(path, max_pixels=max_pixels)), alpha)
            for note in notes:
                err.print(f"note: {path.name}: {note}", markup=False)
            write_image(target, result, inputs=(path,))
            done += 1
        except InpaintError as exc:
            failed.append((path, str(exc)))
            err.print(f"error: {exc}", markup=False)
        except Exception as exc:  # a runtime failure on one file must not stop the batch
            failed.append((path, f"{type(exc).__name__}: {exc}"))
            err.print(f"error: {path}: internal error: {type(exc).__name__}: {exc}", markup=False)
    _say(f"{done} stylized, {skipped} already done, {len(failed)} failed of {len(images)} ({output})")
    for path, message in failed:
        _say(f"failed: {path.name}: {message}", stderr=True)
    if failed:
        raise typer.Exit(1)
