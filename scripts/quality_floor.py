"""Measure the shipped learned models against the quality floor and record the verdicts.

    inpaintkit eval -m telea -m mean -m deepfill_v2 -m rn_inpaint -m pconv_unet -m pic_net \
        --json runs/floor.json                    # the full val set: 100 photos x 6 buckets
    .venv/bin/python scripts/quality_floor.py runs/floor.json [--write]

Prints each model's verdict (:mod:`inpaintkit.evaluation.floor`: every bucket from 10 %,
PSNR >= Telea's - 1 dB and realism <= Telea's) with its worst-bucket gap; ``--write`` stores
it under ``quality`` in the config.json of every model in the file that has shipped weights
(``src/inpaintkit/weights/<name>/``), with the eval's pair count and command, so that
``inpaintkit models``, the web menu and ``fill`` can say usable / experimental without
evaluating anything. The weights file itself (and its recorded sha256) is not touched.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import tempfile
from pathlib import Path

from inpaintkit.evaluation.floor import REFERENCE, describe, floor_verdict

WEIGHTS = Path(__file__).resolve().parent.parent / "src" / "inpaintkit" / "weights"


def _write_json_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_json", type=Path, help="output of inpaintkit eval --json (with telea in it)")
    parser.add_argument("--write", action="store_true", help="store the verdicts in the shipped config.json files")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.eval_json.read_text())
        summary, cfg = results["summary"], results["config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"{args.eval_json}: not an 'inpaintkit eval --json' result ({type(exc).__name__}: {exc})") from None
    if REFERENCE not in summary:
        raise SystemExit(f"{args.eval_json}: no '{REFERENCE}' in the eval (run it with -m {REFERENCE})")
    pairs = sum(summary[REFERENCE][b]["count"] for b in summary[REFERENCE] if b != "all")
    command = (f"inpaintkit eval -m {REFERENCE} -m <model> --images {cfg['images_dir']} --masks {cfg['masks_dir']} "
               f"--size {cfg['size']} --seed {cfg['seed']}")
    print(f"{pairs} pairs ({cfg['images']} images x 6 buckets x {cfg['masks_per_bucket']}), {cfg['size']} px")
    print("| model | verdict | worst PSNR gap to the floor | worst realism / Telea's |")
    print("|---|---|---|---|")
    for model in results["models"]:
        if model == REFERENCE:
            continue
        verdict = floor_verdict(summary[model], summary[REFERENCE])
        status, _ = describe(verdict)
        print(f"| {model} | {status} | {verdict['psnr_gap_db']:+.2f} dB | {verdict['realism_ratio']:.2f} |")
        folder = WEIGHTS / model
        if args.write and (folder / "config.json").is_file():
            info = json.loads((folder / "config.json").read_text())
            info["quality"] = {**verdict, "pairs": pairs, "eval": command,
                               "measured": datetime.date.today().isoformat()}
            _write_json_atomic(folder / "config.json", info)
            print(f"  wrote quality into {folder.relative_to(WEIGHTS.parent.parent.parent)}/config.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
