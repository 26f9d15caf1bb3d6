"""What the official-code checkers share: the data folder, the one input pair every check
runs on, and a scoped import of the official modules from a checkout.

The checkers run as scripts (``python benchmarks/official/rn.py``) and as modules of the
``official`` package (``benchmarks/check_official_import.py`` puts ``benchmarks/`` first on
``sys.path``); each puts ``benchmarks/`` on ``sys.path`` itself so that
``from official.common import ...`` works both ways.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MASK_NAME = "04000.png"  # an irregular mask of the 20-30 % bucket


def val_inputs(size: int) -> tuple[np.ndarray, np.ndarray, str]:
    """The first validation photo (centre square crop, bicubic resize to ``size``), the mask
    (nearest resize, ``True`` = hole) and a line naming both."""
    photo = sorted((DATA / "val").glob("*.jpg"))[0]
    mask_path = DATA / "masks" / "irregular" / MASK_NAME
    image = Image.open(photo).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    mask = Image.open(mask_path).convert("L").resize((size, size), Image.NEAREST)
    return np.asarray(image).copy(), np.asarray(mask) > 127, f"{photo.name} + {mask_path.name}"


@contextlib.contextmanager
def official_import(checkout: Path, names: tuple[str, ...],
                    stand_ins: Mapping[str, types.ModuleType] | None = None) -> Iterator[None]:
    """``checkout`` first on ``sys.path`` and ``stand_ins`` in ``sys.modules`` while the
    block imports the official modules ``names``. Afterwards every one of those entries is
    dropped and what was there before is put back, so that the official ``model`` or
    ``networks`` cannot shadow another checkout's (or ours) in a later import."""
    stand_ins = dict(stand_ins or {})
    scoped = (*names, *stand_ins)
    saved = {name: sys.modules.pop(name) for name in scoped if name in sys.modules}
    sys.modules.update(stand_ins)
    sys.path.insert(0, str(checkout))
    try:
        yield
    finally:
        sys.path.remove(str(checkout))
        for name in scoped:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
