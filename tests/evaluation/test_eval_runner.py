"""Scoring through the Inpainter: on the shared val images + irregular masks (skipped if
absent) and on a synthetic folder (always); the optional LPIPS / FID / diversity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from eval_helpers import MASKS, VAL, GreyHole, Perfect, Recorder, synthetic_folders

from inpaintkit.evaluation import build_eval_set, evaluate
from inpaintkit.inference import Inpainter
from inpaintkit.masks.buckets import BUCKET_NAMES
from inpaintkit.metrics.image_metrics import compute_metrics
from inpaintkit.metrics.realism import patch_swd

needs_data = pytest.mark.skipif(
    not (VAL.is_dir() and MASKS.is_dir()),
    reason=f"shared data not found at {VAL.parent} (val images + irregular masks)",
)

# --- on the shared data ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_run():
    models = {"telea": "telea", "ns": "ns", "grey": GreyHole(), "perfect": Perfect()}
    return evaluate(models, VAL, MASKS, size=256, images=3, seed=0, batch_size=4)


@needs_data
def test_per_bucket_results_for_every_model(shared_run):
    summary = shared_run.summary()
    assert list(summary) == ["telea", "ns", "grey", "perfect"]
    for model, rows in summary.items():
        assert list(rows) == [*BUCKET_NAMES, "all"]
        for name in BUCKET_NAMES:
            assert rows[name]["count"] == 3, (model, name)
            assert all(math.isfinite(rows[name][m]) for m in ("psnr", "ssim", "l1", "realism"))
        assert rows["all"]["count"] == 18
    assert shared_run.config["bucket_mismatches"] == []
    assert shared_run.config["strategy"] == "auto" and shared_run.config["device"] == "cpu"


@needs_data
def test_scores_are_those_of_the_inpainter_output(shared_run):
    """eval measures what ``fill`` produces: the Inpainter's uint8 result, scored."""
    data = build_eval_set(VAL, MASKS, size=256, images=3)
    inpainter = Inpainter("telea", device="cpu")
    for i in (0, 7, 17):
        pair = data.pairs[i]
        truth, hole = data.images[pair.image], data.masks[pair.mask]
        out = inpainter.inpaint(truth, hole)[0]
        assert np.array_equal(out[~hole], truth[~hole])
        scores = compute_metrics(torch.from_numpy(out).permute(2, 0, 1)[None],
                                 torch.from_numpy(truth).permute(2, 0, 1)[None], max_db=100.0)
        for metric in ("psnr", "ssim", "l1"):
            assert shared_run.scores["telea"][metric][i] == pytest.approx(float(scores[metric][0]), abs=1e-9)
        assert shared_run.scores["telea"]["realism"][i] == patch_swd(out, truth, hole)


@needs_data
def test_perfect_model_scores_cap_ssim_one_l1_and_realism_zero(shared_run):
    scores = shared_run.scores["perfect"]
    assert np.all(scores["psnr"] == 100.0)  # the documented cap
    assert np.allclose(scores["ssim"], 1.0, atol=1e-9)
    assert np.all(scores["l1"] == 0.0) and np.all(scores["realism"] == 0.0)


@needs_data
def test_telea_degrades_monotonically_with_hole_size(shared_run):
    rows = shared_run.summary()["telea"]
    psnrs = [rows[b]["psnr"] for b in BUCKET_NAMES]
    ssims = [rows[b]["ssim"] for b in BUCKET_NAMES]
    l1s = [rows[b]["l1"] for b in BUCKET_NAMES]
    assert psnrs == sorted(psnrs, reverse=True) and len(set(psnrs)) == 6, psnrs
    assert ssims == sorted(ssims, reverse=True) and len(set(ssims)) == 6, ssims
    assert l1s == sorted(l1s) and len(set(l1s)) == 6, l1s


@needs_data
def test_fill_beats_grey_hole_everywhere(shared_run):
    s = shared_run.summary()
    for b in BUCKET_NAMES:
        assert s["telea"][b]["psnr"] > s["grey"][b]["psnr"]
        assert s["ns"][b]["l1"] < s["grey"][b]["l1"]
        # not realism: the two finest Laplacian bands do not see a flat hole's wrong colour,
        # and a flat grey hole can score better than Telea's streaks (metrics/realism.py)
        assert s["grey"][b]["realism"] > 0


# --- synthetic data (always runs) ------------------------------------------------------


def test_stochastic_module_seeded_per_pair_and_mode_restored(tmp_path):
    images, masks = synthetic_folders(tmp_path)
    model = Recorder()
    model.train()
    run = evaluate({"rec": model, "grey": GreyHole()}, images, masks, size=32,
                   masks_per_bucket=2, batch_size=5, psnr_cap=None)
    assert len(run.pairs) == 12
    # through the Inpainter: one image per call, eval mode, a seeded generator
    assert model.calls == [(False, True, 1)] * 12
    assert model.training  # put back in training mode afterwards
    again = evaluate({"rec": Recorder()}, images, masks, size=32, masks_per_bucket=2, batch_size=3)
    assert np.array_equal(again.scores["rec"]["l1"], run.scores["rec"]["l1"])  # reproducible
    other = evaluate({"rec": Recorder()}, images, masks, size=32, masks_per_bucket=2, seed=1)
    assert not np.array_equal(other.scores["rec"]["l1"], run.scores["rec"]["l1"])
    # the error is confined to the hole: known pixels are the input's
    for p, l1v in zip(run.pairs, run.scores["grey"]["l1"], strict=True):
        assert 0 < l1v <= 100 * p.hole_ratio + 1e-9
    assert run.metrics() == ["psnr", "ssim", "l1", "realism"]


def test_bad_arguments(tmp_path):
    images, masks = synthetic_folders(tmp_path)
    with pytest.raises(ValueError, match="no models"):
        evaluate({}, images, masks)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate({"g": GreyHole()}, images, masks, batch_size=0)
    from inpaintkit.errors import InpaintError

    with pytest.raises(InpaintError, match="no_such_model"):
        evaluate({"x": "no_such_model"}, images, masks, size=32)


# --- optional extras: LPIPS, FID, diversity (tiny random weight files) -------------------


def _extras_models() -> dict:
    from inpaintkit.models import create_model

    torch.manual_seed(0)
    return {"perfect": Perfect(), "grey": GreyHole(), "pic": create_model("pic_net", tiny=True)}


def test_extras_add_columns_without_changing_the_plain_scores(tmp_path, metric_weight_files):
    images, masks = synthetic_folders(tmp_path)
    fid_path, lpips_path = metric_weight_files
    models = _extras_models()
    plain = evaluate(models, images, masks, size=64, batch_size=4)
    run = evaluate(models, images, masks, size=64, batch_size=4, fid_weights=fid_path,
                   lpips_weights=lpips_path, diversity_samples=3)
    assert plain.metrics() == ["psnr", "ssim", "l1", "realism"]
    assert "fid_weights" not in plain.config
    for name in models:
        for metric in ("psnr", "ssim", "l1", "realism"):
            assert np.array_equal(plain.scores[name][metric], run.scores[name][metric]), name
    assert run.metrics() == ["psnr", "ssim", "l1", "realism", "lpips", "fid", "diversity"]
    assert run.config["diversity_metric"] == "lpips" and run.config["diversity_samples"] == 3
    assert run.config["fid_weights"] == str(fid_path)
    summary = run.summary()
    for name in models:
        for bucket in ("1-10%", "30-40%", "all"):
            row = summary[name][bucket]
            assert math.isfinite(row["lpips"]) and math.isfinite(row["fid"]), (name, bucket)
        assert math.isnan(summary[name]["10-20%"]["fid"])  # empty bucket
    # deterministic models have no diversity; the pluralistic one differs between samples
    assert "diversity" not in summary["grey"]["all"] and "diversity" not in run.scores["perfect"]
    assert np.all(run.scores["pic"]["diversity"] > 0)
    # the perfect model: LPIPS 0 per pair, FID ~0 and below the grey-hole model's
    assert np.allclose(run.scores["perfect"]["lpips"], 0.0, atol=1e-9)
    assert np.all(run.scores["grey"]["lpips"] > 1e-4)
    assert abs(summary["perfect"]["all"]["fid"]) < 1e-6 * max(1.0, summary["grey"]["all"]["fid"])
    assert summary["grey"]["all"]["fid"] > summary["perfect"]["all"]["fid"]


def test_diversity_without_lpips_is_hole_l1_of_the_inpainter_samples(tmp_path):
    images, masks = synthetic_folders(tmp_path)
    models = _extras_models()
    run = evaluate(models, images, masks, size=64, diversity_samples=2)
    assert run.config["diversity_metric"] == "l1_hole_percent"
    assert run.metrics_of("grey") == ["psnr", "ssim", "l1", "realism"]
    div = run.scores["pic"]["diversity"]
    assert np.all(div > 0) and np.all(div <= 100)
    again = evaluate({"pic": models["pic"]}, images, masks, size=64, diversity_samples=2)
    assert np.array_equal(again.scores["pic"]["diversity"], div)
    # pair 0 by hand: two Inpainter samples with the diversity seed, mean |a - b| in the hole
    data = build_eval_set(images, masks, size=64)
    pair = data.pairs[0]
    hole = data.masks[pair.mask]
    a, b = Inpainter(models["pic"], device="cpu").inpaint(
        data.images[pair.image], hole, samples=2, seed=(1 << 40))
    want = np.abs(a.astype(float) - b.astype(float)).mean(axis=2)[hole].mean() * 100 / 255
    assert div[0] == pytest.approx(want, rel=1e-9)


def test_bad_weights_fail_before_reading_data(tmp_path, metric_weight_files):
    from inpaintkit.errors import InpaintError

    missing = tmp_path / "nope.pth"
    # the images folder does not exist either: the weights are checked first
    with pytest.raises(InpaintError, match="nope.pth"):
        evaluate({"g": GreyHole()}, tmp_path / "none", tmp_path / "none", fid_weights=missing)
    with pytest.raises(InpaintError, match="Inception"):  # an LPIPS file given as FID weights
        evaluate({"g": GreyHole()}, tmp_path / "none", tmp_path / "none",
                 fid_weights=metric_weight_files[1])
    with pytest.raises(ValueError, match="diversity_samples"):
        evaluate({"g": GreyHole()}, tmp_path, tmp_path, diversity_samples=1)
