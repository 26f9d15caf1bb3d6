"""What ``default`` is in a clean install, and the measured margins that put it there.

No learned model has beaten PatchMatch on both accuracy and realism yet (README "Default
model"), so no default weights ship and ``default`` is the classical ``patchmatch_lf`` fill
(PatchMatch's texture on smooth's low frequencies). The
margins below are measured on a fixed subset of the val protocol (the first 4 photos x
the 10-60 % buckets = 20 pairs at 256 px; the full protocol's numbers are in the README)
with thresholds well inside them, so they pin the claim, not the noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inpaintkit.cli import app
from inpaintkit.inference import Inpainter
from inpaintkit.inference.weights import DEFAULT_WEIGHTS, resolve_model
from inpaintkit.models.classical import PatchMatchLF

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_no_default_weights_ship_and_default_is_patchmatch_lf():
    assert not DEFAULT_WEIGHTS.exists()
    loaded = resolve_model("default")
    assert isinstance(loaded.model, PatchMatchLF) and loaded.name == "patchmatch_lf"
    assert loaded.source == "default" and "PatchMatch" in loaded.notes[0]


@pytest.fixture(scope="module")
def subset_scores():
    """Mean PSNR and realism of telea, smooth, patchmatch and default over the fixed 20-pair subset."""
    if not (DATA / "val").is_dir():
        pytest.skip("../shared/data is not there")
    from inpaintkit.evaluation import build_eval_set
    from inpaintkit.metrics.realism import PatchSWD

    data = build_eval_set(DATA / "val", DATA / "masks" / "irregular", 256, 1, 4, 0)
    pairs = [p for p in data.pairs if p.bucket >= 1]
    assert len(pairs) == 20
    scores = {}
    for name in ("telea", "smooth", "patchmatch", "default"):
        inp = Inpainter(name, device="cpu")
        psnrs, realism = [], []
        for p in pairs:
            truth, hole = data.images[p.image], data.masks[p.mask]
            (out,) = inp.inpaint(truth, hole)
            mse = np.mean((out.astype(np.float64) - truth) ** 2)
            psnrs.append(10 * np.log10(255.0**2 / mse))
            realism.append(PatchSWD(truth, hole)(out))
        scores[name] = (float(np.mean(psnrs)), float(np.nanmean(realism)))
    return scores


def test_default_is_far_more_realistic_than_telea_and_smooth(subset_scores):
    # Measured on this subset: realism 125 (default) vs 131 (PatchMatch), 310 (Telea) and
    # 403 (smooth).
    default, pm, telea, smooth = (subset_scores[k][1] for k in ("default", "patchmatch", "telea", "smooth"))
    assert default < 0.6 * telea and default < 0.5 * smooth
    assert default < 1.05 * pm  # as realistic as plain PatchMatch (the low-pass spares texture)


def test_default_pays_for_texture_with_little_accuracy(subset_scores):
    # The perception-distortion trade-off: measured PSNR 23.82 (default) vs 23.73
    # (PatchMatch), 23.80 (Telea) and 24.51 (smooth). Within half a dB of Telea, not below
    # PatchMatch by more than noise, and below smooth, as the README says.
    default, pm, telea, smooth = (subset_scores[k][0] for k in ("default", "patchmatch", "telea", "smooth"))
    assert telea - 0.5 < default < smooth and default > pm - 0.1


def test_demo_uses_the_default(tmp_path):
    r = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "patchmatch" in r.stdout
    assert np.asarray(Image.open(tmp_path / "result.png")).shape == (512, 512, 3)
