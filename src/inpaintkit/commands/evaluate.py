"""``inpaintkit eval``: the papers' protocol (six hole-ratio buckets, PSNR / SSIM / L1),
several models side by side on exactly the same (image, mask) pairs."""

from __future__ import annotations

from pathlib import Path

import typer


def evaluate(
    model: list[str] = typer.Option(
        ..., "--model", "-m",
        help="Model name (registry, 'telea', 'ns', 'default') or checkpoint folder; repeat to compare.",
    ),
    images: Path = typer.Option(Path("../shared/data/val"), "--images", help="Folder of ground-truth images."),
    masks: Path = typer.Option(
        Path("../shared/data/masks/irregular"), "--masks", help="Folder of hole masks (white = hole)."
    ),
    size: int = typer.Option(256, "--size", help="Images resized/cropped to size x size."),
    masks_per_bucket: int = typer.Option(1, "--masks-per-bucket", help="Masks per image and bucket."),
    limit: int = typer.Option(None, "--limit", help="Only the first N images."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device"),
    batch_size: int = typer.Option(8, "--batch-size"),
    json_out: Path = typer.Option(None, "--json", help="Write all results as JSON here."),
    csv_out: Path = typer.Option(None, "--csv", help="Write the per-bucket summary as CSV here."),
) -> None:
    """Evaluate models per hole-ratio bucket and print the table."""
    from rich.console import Console

    from inpaintkit.inference.weights import load_model
    from inpaintkit.metrics.evaluate import evaluate as run_eval
    from inpaintkit.metrics.evaluate import results_table, write_csv, write_json

    names = list(dict.fromkeys(model))  # keep order, drop repeats
    loaded = {name: load_model(name, device=device) for name in names}
    results = run_eval(loaded, images, masks, size=size, masks_per_bucket=masks_per_bucket,
                       images=limit, seed=seed, device=device, batch_size=batch_size)
    console = Console()
    console.print(results_table(results))
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in results.seconds.items())
    console.print(f"model time: {seconds}")
    if json_out is not None:
        console.print(f"wrote {write_json(results, json_out)}")
    if csv_out is not None:
        console.print(f"wrote {write_csv(results, csv_out)}")
