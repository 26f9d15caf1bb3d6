"""``inpaintkit demo``: inpaint a bundled example photo with a random brush mask.

The photo ships with scikit-image (``skimage.data.astronaut()``, no download); the mask
is a DeepFill-style free-form brush mask (:func:`inpaintkit.masks.free_form_mask`). The
result is a side-by-side PNG: input with the hole painted white | mask | result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from inpaintkit.commands.options import Device
from inpaintkit.errors import InpaintError


def example_photo() -> np.ndarray:
    """(512, 512, 3) uint8 RGB: scikit-image's bundled astronaut photo (NASA, public domain)."""
    try:
        from skimage import data
    except ImportError:
        raise InpaintError(
            "the demo photo comes with scikit-image: pip install 'inpaintkit[metrics]'"
        ) from None
    return np.ascontiguousarray(data.astronaut()[..., :3], dtype=np.uint8)


def side_by_side(image: np.ndarray, mask: np.ndarray, result: np.ndarray, gap: int = 8) -> np.ndarray:
    """[input with the hole in white | mask | result] with white gaps, (H, 3W + 2 gap, 3)."""
    shown = image.copy()
    shown[mask] = 255
    mask_rgb = np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=2)
    spacer = np.full((image.shape[0], gap, 3), 255, dtype=np.uint8)
    return np.concatenate([shown, spacer, mask_rgb, spacer, result], axis=1)


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("outputs/demo"),
    model: Annotated[str, typer.Option("--model", help="Model name or path.")] = "default",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the brush mask.")] = 0,
    device: Device = "auto",
) -> None:
    """Fill a brush-stroke hole in an example photo and write a before / mask / after PNG."""
    from rich.console import Console
    from rich.markup import escape

    from inpaintkit.commands.fill import make_inpainter
    from inpaintkit.io import write_image
    from inpaintkit.masks import free_form_mask

    console = Console(highlight=False, soft_wrap=True)
    image = example_photo()
    h, w = image.shape[:2]
    mask = free_form_mask(h, w, np.random.default_rng(seed))
    inpainter = make_inpainter(model, device=device)
    for note in inpainter.load_notes:
        console.print(f"note: {escape(note)}")
    result = inpainter.inpaint(image, mask, seed=seed)[0]
    if out.exists() and not out.is_dir():
        raise InpaintError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InpaintError(f"{out}: cannot create folder ({exc.strerror})") from None
    target = write_image(out / "demo.png", side_by_side(image, mask, result))
    write_image(out / "input.png", image)
    write_image(out / "mask.png", mask)
    write_image(out / "result.png", result)
    console.print(
        escape(f"model: {inpainter.model_name} ({inpainter.source}); hole "
               f"{100 * mask.mean():.1f}% of the {w}x{h} photo")
    )
    console.print(escape(f"wrote {target} (input | mask | result)"))
