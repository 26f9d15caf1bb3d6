"""``inpaintkit export``: write a model's ``inpaint`` as an ONNX graph (verified)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from inpaintkit.errors import InpaintError

FORMATS = ("onnx",)


def export(
    model: Annotated[
        str, typer.Option("--model", help="A model name, checkpoint folder or .safetensors file.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.onnx).")],
    format: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    size: Annotated[
        int, typer.Option("--size", min=8, help="Example / verification size (fixed size if not dynamic).")
    ] = 256,
    static: Annotated[
        bool, typer.Option("--static", help="Fixed H and W (= --size) instead of dynamic.")
    ] = False,
    opset: Annotated[int, typer.Option("--opset", min=11, help="ONNX opset.")] = 17,
) -> None:
    """Export a model to ONNX and check it against PyTorch in ONNX Runtime."""
    from rich.console import Console
    from rich.markup import escape

    from inpaintkit.inference.export import export_onnx
    from inpaintkit.inference.weights import UntrainedModelWarning

    if format not in FORMATS:
        raise InpaintError(f"unknown export format '{format}' (supported: {', '.join(FORMATS)})")
    if out.suffix.lower() != ".onnx":
        raise InpaintError(f"{out}: an ONNX export should end in .onnx")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UntrainedModelWarning)
        result = export_onnx(model, out, size=size, dynamic=not static, opset=opset)
    console = Console(highlight=False, soft_wrap=True)
    notes = [str(w.message) for w in caught if issubclass(w.category, UntrainedModelWarning)]
    for note in notes + result.notes:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"note: {escape(note)}")
    shape = "any H, W" if result.dynamic else f"fixed {result.size}x{result.size}"
    diff = "n/a (stochastic)" if result.max_abs_diff is None else f"{result.max_abs_diff:.1e}"
    console.print(escape(
        f"wrote {result.path} ({result.model}, opset {result.opset}, {shape}, multiple of "
        f"{result.multiple}; ONNX Runtime vs PyTorch max abs diff {diff})"
    ))
