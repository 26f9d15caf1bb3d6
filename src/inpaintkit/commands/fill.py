"""``inpaintkit fill``: inpaint one image, or a folder of images (batch, resumable, sharded).

Single: ``inpaintkit fill IMAGE --mask MASK -o OUT [--samples K]`` writes OUT, or with
K > 1 ``OUT_0 .. OUT_{K-1}`` (same suffix). Any bad input ends as one ``error:`` line and
exit code 2, before anything is written.

``--sketch S.png`` (single mode; white strokes on black, the image's size, or fitted like the
mask with ``--resize-mask``) guides a model with a sketch channel, the default included, inside
the hole (strokes outside it are ignored); any problem with it is an error before anything is written.

EXIF: images are read as shown (their EXIF orientation applied). A mask drawn on the
stored, unrotated pixels of such a photo is refused with a message naming the orientation;
``--mask-exif`` applies the image's orientation to the mask (``--resize-mask`` would
stretch it onto the wrong place).

Batch: ``inpaintkit fill --input DIR --masks DIR --output DIR``. For each image ``x.<ext>``
of DIR (not recursive) the mask is ``x.<ext2>`` or ``x_mask.<ext2>`` in the mask folder (any
image suffix); the result is ``<output>/x.png`` (PNG: lossless, so known pixels stay
bit-identical; ``x_0.png ..`` with K > 1). A bad file is reported and skipped; a summary
ends the run (also one stopped by Ctrl-C, which then exits 130); exit code 1 when any
file failed. Outputs are written atomically, and a re-run skips an output only when it
decodes completely at the image's size (``--overwrite`` redoes them all); temporary files
of a killed run are removed at the start.
The output folder must differ from the input and mask folders. Under torchrun
(``WORLD_SIZE``/``RANK`` set) rank r takes files r, r+world, ... of the sorted list.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer

from inpaintkit.commands.fill_io import (
    _check_output,
    _console,
    _find_mask,
    _kept_alpha,
    _load_pair,
    _load_sketch,
    _mask_mode,
    _remove_stale,
    _say,
    _shard,
    _shown_size,
    _unsupported_note,
)
from inpaintkit.commands.options import Device, MaskMode, Strategy
from inpaintkit.commands.select_options import SelectBox, SelectPoints, check_fill_selection, load_selection
from inpaintkit.errors import InpaintError, TooLarge
from inpaintkit.io import DEFAULT_MAX_PIXELS, same_file
from inpaintkit.machine import physical_memory

if TYPE_CHECKING:
    from inpaintkit.inference import Inpainter


def sample_paths(output: Path, samples: int) -> list[Path]:
    """OUT for one sample; OUT_0 .. OUT_{K-1} (same suffix) for K samples."""
    if samples == 1:
        return [output]
    return [output.with_name(f"{output.stem}_{i}{output.suffix}") for i in range(samples)]


def _check_samples(inpainter, samples: int) -> None:
    if samples > 1 and not inpainter.stochastic:
        raise InpaintError(
            f"model '{inpainter.model_name}' is deterministic: --samples {samples} would give "
            f"identical results (use a pluralistic model such as pic_net)"
        )


def make_inpainter(model: str, **options: Any) -> Inpainter:
    """An Inpainter whose "untrained model" warning becomes a note (printed once, by us)."""
    import warnings

    from inpaintkit.inference import Inpainter  # noqa: F811 - the runtime import
    from inpaintkit.inference.weights import UntrainedModelWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UntrainedModelWarning)
        return Inpainter(model, **options)


def fill(
    image: Annotated[
        Path | None, typer.Argument(help="Image to fill (single mode).", show_default=False)
    ] = None,
    mask: Annotated[
        Path | None, typer.Option("--mask", "-m", help="Mask image, white = hole (single mode).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Output file (single mode) or folder (batch mode)."),
    ] = None,
    input_dir: Annotated[
        Path | None, typer.Option("--input", "-i", help="Folder of images (batch mode).")
    ] = None,
    masks_dir: Annotated[
        Path | None,
        typer.Option("--masks", help="Folder of masks named x.* or x_mask.* (batch mode)."),
    ] = None,
    model: Annotated[
        str,
        typer.Option("--model", help="default, telea, ns, smooth, a model name, a checkpoint folder or .onnx."),
    ] = "default",
    samples: Annotated[int, typer.Option("--samples", "-k", min=1, help="Results per image.")] = 1,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (reproducible runs).")] = None,
    device: Device = "auto",
    strategy: Strategy = "auto",
    dilate: Annotated[int, typer.Option("--dilate", min=0, help="Grow the hole by PX pixels.")] = 0,
    resize_mask: Annotated[
        bool, typer.Option("--resize-mask", help="Scale a mask of another size to the image.")
    ] = False,
    mask_mode: MaskMode = "luminance",
    mask_alpha: Annotated[
        bool, typer.Option("--mask-alpha", help="Holes are the transparent pixels of the mask (--mask-mode alpha).")
    ] = False,
    mask_exif: Annotated[
        bool, typer.Option("--mask-exif", help="The mask was drawn on the stored pixels: apply the image's EXIF "
                                               "orientation to it.")
    ] = False,
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", min=1, help="Refuse larger images.")
    ] = DEFAULT_MAX_PIXELS,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Batch: redo outputs that already exist.")
    ] = False,
    allow_untrained: Annotated[
        bool, typer.Option("--allow-untrained", help="A network name without shipped weights gets random weights.")
    ] = False,
    sketch: Annotated[
        Path | None, typer.Option("--sketch", help="Sketch image, white strokes on black, the image's size: "
                                                   "guides the default or a model with a sketch channel (single mode).")
    ] = None,
    box: SelectBox = None,
    point: SelectPoints = None,
) -> None:
    """Fill the holes (white in the mask) of an image, or of a folder of images."""
    mask_mode = _mask_mode(mask_mode, mask_alpha)
    batch = input_dir is not None or masks_dir is not None
    check_fill_selection(batch, mask, box, point)
    if batch:
        if image is not None or mask is not None:
            raise InpaintError("give either IMAGE --mask MASK or --input DIR --masks DIR, not both")
        if input_dir is None or masks_dir is None or output is None:
            raise InpaintError("batch mode needs --input DIR, --masks DIR and --output DIR")
        if sketch is not None:
            raise InpaintError("--sketch is for one image (IMAGE --mask MASK --sketch S)")
        _fill_folder(input_dir, masks_dir, output, model=model, samples=samples, seed=seed,
                     device=device, strategy=strategy, dilate=dilate, resize_mask=resize_mask,
                     mask_mode=mask_mode, max_pixels=max_pixels, overwrite=overwrite,
                     allow_untrained=allow_untrained, mask_exif=mask_exif)
        return
    if image is None:
        raise InpaintError("missing IMAGE (or use --input DIR --masks DIR --output DIR)")
    if mask is None and box is None and not point:
        raise InpaintError("missing --mask MASK (or --box x0,y0,x1,y1 to select the object)")
    if output is None:
        raise InpaintError("missing -o OUT")
    from inpaintkit.io import write_image
    from inpaintkit.io.photo import with_alpha

    # Cheap checks first, the output folder last: a failed run creates nothing.
    targets = sample_paths(output, samples)
    inputs = tuple(p for p in (image, mask, sketch) if p is not None)
    for target in targets:
        _check_output(target, inputs, create=False, folder_checks=False)
    exif_notes: list[str] = []
    if mask is None:
        pixels, hole = load_selection(image, box, point, max_pixels)
    else:
        pixels, hole = _load_pair(image, mask, max_pixels, mask_mode, resize_mask, mask_exif, exif_notes)
    strokes = _load_sketch(sketch, max_pixels) if sketch is not None else None
    if strokes is not None and resize_mask:  # --resize-mask fits the sketch as it fits the mask
        from inpaintkit.io.read import fit_mask

        strokes = fit_mask(strokes, pixels.shape[:2], True, "sketch", "image", "")
    inpainter = make_inpainter(model, device=device, strategy=strategy, max_pixels=max_pixels,
                               allow_untrained=allow_untrained)
    _check_samples(inpainter, samples)
    if strokes is not None:  # size and model checked before any folder is created
        from inpaintkit.inference.sketch import sketch_strokes

        strokes = sketch_strokes(strokes, pixels.shape[:2], inpainter.model_name, inpainter.model.sketch_channels)
    for target in targets:
        _check_output(target, inputs, create=True)
    alpha = _kept_alpha(image, targets, max_pixels, exif_notes)
    for note in [*inpainter.load_notes, *exif_notes, *_remove_stale(targets[0].parent)]:
        _say(f"note: {note}", stderr=True)
    check_memory(inpainter, pixels, hole, samples)
    results = inpainter.inpaint(pixels, hole, samples=samples, seed=seed, dilate=dilate, sketch=strokes)
    for note in inpainter.notes:
        _say(f"note: {image.name}: {note}", stderr=True)
    if output.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        _say(f"note: {output.suffix} is lossy: known pixels are not kept exactly (use .png)", stderr=True)
    for target, result in zip(targets, results, strict=True):
        write_image(target, with_alpha(result, alpha), inputs=inputs)
    used = f", strategy {inpainter.last_strategy}" if inpainter.last_strategy else ""
    _say(f"wrote {', '.join(str(t) for t in targets)} (model {inpainter.model_name}{used})")


def check_memory(inpainter: Inpainter, pixels: np.ndarray, hole: np.ndarray, samples: int) -> None:
    """:class:`TooLarge` (exit 2, with the numbers) when a network call would need more
    memory than the machine has: only ``--strategy full`` can (auto, crop and resize keep
    each call near the model's native size; contextual attention grows with the square of
    the pixels: a 2048^2 photo at ``full`` asks DeepFill v2 for tens of GiB)."""
    if inpainter.strategy != "full" or inpainter.classical or not hole.any():
        return
    total = physical_memory()
    if total is None:
        return
    need = inpainter.estimate_peak_bytes(pixels.shape, hole, samples)["bytes"]
    if need > 0.8 * total:
        raise TooLarge(
            f"{pixels.shape[1]}x{pixels.shape[0]} at --strategy full needs about {need / 2**30:.1f} GiB "
            f"with {inpainter.model_name}, over 80 % of this machine's {total / 2**30:.1f} GiB: "
            f"use --strategy auto (crop or resize)"
        )


def _fill_folder(input_dir: Path, masks_dir: Path, output: Path, *, model: str, samples: int,
                 seed: int | None, device: str, strategy: str, dilate: int, resize_mask: bool,
                 mask_mode: str, max_pixels: int, overwrite: bool, allow_untrained: bool = False,
                 mask_exif: bool = False) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from inpaintkit.io import list_image_files, write_image
    from inpaintkit.io.photo import with_alpha
    from inpaintkit.io.write import output_complete, prepare_output_folder

    images = list_image_files(input_dir, recursive=False)
    mask_files = list_image_files(masks_dir, recursive=False)
    if same_file(input_dir, masks_dir):
        # Masks beside their images: x_mask.png is a mask, not an image to fill.
        images = [p for p in images if not p.stem.endswith("_mask")]
    for folder, what in ((input_dir, "input"), (masks_dir, "mask")):
        if same_file(output, folder):
            raise InpaintError(f"{output}: the output folder must differ from the {what} folder")
    if output.exists() and not output.is_dir():
        raise InpaintError(f"{output}: exists and is not a folder")
    if not images:
        raise InpaintError(f"{input_dir}: no images found (png, jpg, webp, bmp, tif)")
    inpainter = make_inpainter(model, device=device, strategy=strategy, max_pixels=max_pixels,
                               allow_untrained=allow_untrained)
    _check_samples(inpainter, samples)
    for stale in prepare_output_folder(output):
        _say(f"note: removed {stale.name}, left by a killed run", stderr=True)
    if (left_out := _unsupported_note(input_dir, "filled")) is not None:
        _say(f"note: {left_out}", stderr=True)
    masks: dict[str, list[Path]] = {}
    for path in mask_files:
        masks.setdefault(path.stem, []).append(path)

    rank, world = _shard()
    mine = images[rank::world]
    prefix = f"[rank {rank}/{world}] " if world > 1 else ""
    for note in inpainter.load_notes:
        _say(f"{prefix}note: {note}", stderr=True)

    done, skipped, failed = 0, 0, []
    claimed: dict[Path, Path] = {}
    err = _console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    interrupted = False
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task(f"{prefix}filling", total=len(mine))
        for path in mine:
            if interrupted:
                break
            try:
                targets = sample_paths(output / f"{path.stem}.png", samples)
                if targets[0] in claimed:
                    raise InpaintError(
                        f"{path}: output {targets[0].name} is already the output of {claimed[targets[0]].name}"
                    )
                claimed[targets[0]] = path
                if not overwrite and all(t.exists() for t in targets):
                    size = _shown_size(path)
                    if all(output_complete(t, size) for t in targets):
                        skipped += 1
                        continue
                    progress.console.print(f"{prefix}note: {path.name}: redoing an incomplete output", markup=False)
                mask_path = _find_mask(path.stem, masks)
                if mask_path is None:
                    raise InpaintError(
                        f"{path}: no mask in {masks_dir} (expected {path.stem}.<ext> or {path.stem}_mask.<ext>)"
                    )
                pixels, hole = _load_pair(path, mask_path, max_pixels, mask_mode, resize_mask, mask_exif)
                alpha_notes: list[str] = []
                alpha = _kept_alpha(path, targets, max_pixels, alpha_notes)
                check_memory(inpainter, pixels, hole, samples)
                results = inpainter.inpaint(pixels, hole, samples=samples, seed=seed, dilate=dilate)
                for note in [*inpainter.notes, *alpha_notes]:
                    progress.console.print(f"{prefix}note: {path.name}: {note}", markup=False)
                for target, result in zip(targets, results, strict=True):
                    write_image(target, with_alpha(result, alpha), inputs=(path, mask_path))
                done += 1
            except KeyboardInterrupt:
                interrupted = True  # the summary below still tells what was done
            except InpaintError as exc:
                failed.append((path, str(exc)))
                progress.console.print(f"{prefix}error: {exc}", markup=False)
            except Exception as exc:  # a runtime failure on one file must not stop the batch
                failed.append((path, f"{type(exc).__name__}: {exc}"))
                progress.console.print(f"{prefix}error: {path}: internal error: {type(exc).__name__}: {exc}",
                                       markup=False)
            finally:
                progress.advance(task)
    summary = f"{prefix}{done} filled, {skipped} already done, {len(failed)} failed of {len(mine)} ({output})"
    if interrupted:
        summary += f"; interrupted, {len(mine) - done - skipped - len(failed)} not done (run again to resume)"
    _say(summary)
    for path, message in failed:
        _say(f"{prefix}failed: {path.name}: {message}", stderr=True)
    if interrupted:
        raise typer.Exit(130)
    if failed:
        raise typer.Exit(1)
