"""``inpaintkit eval``: the papers' protocol (six hole-ratio buckets, PSNR / SSIM / L1 and
the hole realism), several models side by side on exactly the same (image, mask) pairs,
each filled through the Inpainter as ``inpaintkit fill`` does; optionally LPIPS and FID
(from local weight files) and the sample diversity of pluralistic models."""

from __future__ import annotations

from pathlib import Path

import typer

from inpaintkit.commands.options import Device, Strategy


def evaluate(
    model: list[str] = typer.Option(
        ..., "--model", "-m",
        help="Model name (a registry network, a classical fill such as 'telea', 'smooth' or "
        "'patchmatch', 'default') or checkpoint folder; repeat to compare.",
    ),
    images: Path = typer.Option(Path("../shared/data/val"), "--images", help="Folder of ground-truth images."),
    masks: Path = typer.Option(
        Path("../shared/data/masks/irregular"), "--masks", help="Folder of hole masks (white = hole)."
    ),
    size: int = typer.Option(256, "--size", help="Images resized/cropped to size x size."),
    masks_per_bucket: int = typer.Option(1, "--masks-per-bucket", help="Masks per image and bucket."),
    limit: int = typer.Option(None, "--limit", help="Only the first N images."),
    seed: int = typer.Option(0, "--seed"),
    device: Device = "cpu",
    strategy: Strategy = "auto",
    batch_size: int = typer.Option(8, "--batch-size"),
    json_out: Path = typer.Option(None, "--json", help="Write all results as JSON here."),
    csv_out: Path = typer.Option(None, "--csv", help="Write the per-bucket summary as CSV here."),
    fid_weights: Path = typer.Option(
        None, "--fid-weights",
        help="FID Inception-v3 weights file (e.g. pytorch-fid's pt_inception-*.pth): adds FID per bucket.",
    ),
    lpips_weights: Path = typer.Option(
        None, "--lpips-weights", help="LPIPS weights file (trunk + linear heads): adds LPIPS per bucket.",
    ),
    diversity: int = typer.Option(
        0, "--diversity", metavar="K",
        help="K >= 2 samples per pair: mean pairwise diversity of pluralistic models (0 = off).",
    ),
    allow_untrained: bool = typer.Option(
        False, "--allow-untrained", help="A network name without shipped weights gets random weights.",
    ),
) -> None:
    """Evaluate models per hole-ratio bucket and print the table."""
    from rich.console import Console

    from inpaintkit.errors import InpaintError
    from inpaintkit.evaluation import evaluate as run_eval
    from inpaintkit.evaluation import load_extras, results_table, write_csv, write_json
    from inpaintkit.inference import Inpainter

    # Cheap checks and the metric networks first, so a bad option fails before any model
    # or image is loaded.
    if diversity < 0 or diversity == 1:
        raise InpaintError(f"--diversity must be 0 (off) or at least 2, got {diversity}")
    for option, path in (("--fid-weights", fid_weights), ("--lpips-weights", lpips_weights)):
        if path is not None and not path.is_file():
            raise InpaintError(f"{option}: weights file not found: {path}")
    try:
        fid_net, _ = load_extras(fid_weights, None, device=device)
    except InpaintError as e:
        raise InpaintError(_short("--fid-weights", fid_weights, e)) from None
    try:
        _, lpips_net = load_extras(None, lpips_weights, device=device)
    except InpaintError as e:
        raise InpaintError(_short("--lpips-weights", lpips_weights, e)) from None

    console = Console()
    names = list(dict.fromkeys(model))  # keep order, drop repeats
    loaded = {name: Inpainter(name, device=device, strategy=strategy, allow_untrained=allow_untrained)
              for name in names}
    if diversity and not any(inpainter.pluralistic for inpainter in loaded.values()):
        console.print("note: --diversity ignored, no pluralistic model given")
    results = run_eval(loaded, images, masks, size=size, masks_per_bucket=masks_per_bucket,
                       images=limit, seed=seed, device=device, batch_size=batch_size,
                       fid_weights=fid_net, lpips_weights=lpips_net, diversity_samples=diversity,
                       strategy=strategy)
    if fid_weights is not None:  # the config shows the file, not the loaded network
        results.config["fid_weights"] = str(fid_weights)
    if lpips_weights is not None:
        results.config["lpips_weights"] = str(lpips_weights)
    console.print(results_table(results))
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in results.seconds.items())
    console.print(f"model time: {seconds}")
    if fid_weights is not None:
        console.print(f"note: FID on {len(results.pairs)} pairs is biased and noisy; compare it "
                      "only between the models of this run")
    if json_out is not None:
        console.print(f"wrote {write_json(results, json_out)}")
    if csv_out is not None:
        console.print(f"wrote {write_csv(results, csv_out)}")


def _short(option: str, path: Path | None, error: Exception, limit: int = 300) -> str:
    """One short line: loader messages can quote a whole state-dict mismatch, and torch's
    unpickling error suggests ``weights_only=False``, which is no advice for a user's file."""
    message = str(error)
    if message.startswith("cannot read weights file"):
        return (f"{option}: cannot read weights file {path} "
                "(expected .safetensors or a PyTorch state dict)")
    message = f"{option}: {message}"
    return message if len(message) <= limit else message[:limit - 3] + "..."
