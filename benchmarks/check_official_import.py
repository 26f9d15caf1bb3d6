"""Proof that imported official weights compute what the official code computes.

For every format of :mod:`inpaintkit.official`, the per-format checker in
``benchmarks/official/<module>.py`` imports the official code at run time from the checkout
the user gives (nothing of it is copied into this repository), builds the official network
with seeded random weights, saves it in the official file layout, imports the file with
``inpaintkit.official`` (the same path as ``inpaintkit weights import``), runs both on the
same val photo + irregular mask at each size with each side's own pre- and post-processing,
and reports the max abs difference of the raw network outputs (float32, the same value
range) and of the composited uint8 results.

Target (issue 25): <= 1e-4 raw, <= 1 grey level, for every format at 256 and 512 px.

Usage::

    python benchmarks/check_official_import.py --official /path/to/checkouts \
        [--deepfill DIR] [--deepfill-tf DIR] [--rn DIR] [--pic DIR] [--sizes 256 512]

``--official`` is a folder holding the checkouts under their repository names
(``deepfillv2-pytorch``, ``generative_inpainting``, ``RN``, ``Pluralistic-Inpainting``), or
give each one with its own option. ``deepfill_v2_tf`` is checked twice: against the PyTorch
port's ``networks_tf.py`` patched at run time to the TF graph (fuse on, two-step mask
resize, BGR; the port as shipped differs from the TF release in those three), with the
checkpoint written in the official TF variable names by inpaintkit's tensor-bundle writer;
and, with ``--tf-python`` (a Python that has TensorFlow 2.x, e.g. a separate venv with
``pip install tensorflow-cpu``; never a dependency of inpaintkit), against the official TF1
graph itself (``inpaint_model.py`` unmodified, run through ``tf.compat.v1`` with stand-ins
for ``tf.contrib``'s arg_scope and neuralgym's resize).
A format whose checkout is missing is skipped with the reason.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_RAW, TARGET_UINT8 = 1e-4, 1

# format module -> (checkout option, repository folder name)
CHECKS = {
    "deepfill_port": ("deepfill", "deepfillv2-pytorch"),
    "deepfill_tf": ("deepfill_tf", "deepfillv2-pytorch"),
    "rn": ("rn", "RN"),
    "pic": ("pic", "Pluralistic-Inpainting"),
}


def _checkout(args: argparse.Namespace, option: str, repo: str) -> Path | None:
    given = getattr(args, option)
    if given:
        return Path(given)
    if args.official:
        for name in (repo, repo.lower()):
            if (Path(args.official) / name).is_dir():
                return Path(args.official) / name
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--official", help="folder holding the official checkouts by repository name")
    parser.add_argument("--deepfill", help="nipponjo/deepfillv2-pytorch checkout (deepfill_v2_port)")
    parser.add_argument("--deepfill-tf", dest="deepfill_tf",
                        help="checkout checked against for deepfill_v2_tf (default: the port's)")
    parser.add_argument("--rn", help="geekyutao/RN checkout")
    parser.add_argument("--pic", help="lyndonzheng/Pluralistic-Inpainting checkout")
    parser.add_argument("--tf", dest="tf_checkout", help="JiahuiYu/generative_inpainting checkout (v2)")
    parser.add_argument("--tf-python", help="a Python with TensorFlow 2.x: also run the official TF graph")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--only", nargs="+", choices=sorted(CHECKS), help="run these checks only")
    args = parser.parse_args(argv)
    if args.deepfill_tf is None:
        args.deepfill_tf = args.deepfill

    sys.path.insert(0, str(HERE))
    rows: list[dict] = []
    for module, (option, repo) in CHECKS.items():
        if args.only and module not in args.only:
            continue
        checkout = _checkout(args, option, repo)
        if checkout is None:
            print(f"skip {module}: no checkout (give --{option.replace('_', '-')} or --official)")
            continue
        start = time.perf_counter()
        try:
            check = importlib.import_module(f"official.{module}")
            got = check.run(checkout, tuple(args.sizes))
        except Exception as exc:  # a failing checker is reported, the others still run
            print(f"FAIL {module}: {type(exc).__name__}: {exc}")
            rows.append({"format": module, "size": "-", "raw_max_abs": float("nan"),
                         "uint8_max_abs": float("nan"), "note": f"error: {exc}"})
            continue
        print(f"{module}: {len(got)} rows in {time.perf_counter() - start:.0f} s")
        rows += got
        if module == "deepfill_tf" and args.tf_python:
            tf_checkout = args.tf_checkout or _checkout(args, "tf_checkout", "generative_inpainting")
            if tf_checkout is None:
                print("skip the TF graph: no generative_inpainting checkout (--tf or --official)")
            else:
                rows += check.run_tf_graph(args.tf_python, Path(tf_checkout), tuple(args.sizes))

    print()
    print("| format | size | raw max abs diff | uint8 max abs diff | within target | note |")
    print("|---|---|---|---|---|---|")
    ok_all = bool(rows)
    for r in rows:
        ok = r["raw_max_abs"] <= TARGET_RAW and r["uint8_max_abs"] <= TARGET_UINT8
        ok_all &= ok
        print(f"| {r['format']} | {r['size']} | {r['raw_max_abs']:.2e} | {r['uint8_max_abs']:g} | "
              f"{'yes' if ok else 'NO'} | {r.get('note', '')} |")
    print(f"\ntarget: raw <= {TARGET_RAW:g}, uint8 <= {TARGET_UINT8}; all within: {'yes' if ok_all else 'no'}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
