"""The six-bucket evaluation protocol: on the shared val images + irregular masks (skipped if
absent) and on a synthetic folder (always)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from rich.console import Console

from inpaintkit.conventions import image_to_tensor, masked_input, tensor_to_image
from inpaintkit.masks.buckets import BUCKET_NAMES, BUCKETS
from inpaintkit.metrics.evaluate import (
    evaluate,
    prepare_image,
    read_image_rgb,
    results_table,
    select_pairs,
    write_csv,
    write_json,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
VAL, MASKS = DATA / "val", DATA / "masks" / "irregular"
needs_data = pytest.mark.skipif(
    not (VAL.is_dir() and MASKS.is_dir()),
    reason=f"shared data not found at {DATA} (val images + irregular masks)",
)


class CV2Inpaint:
    """Stand-in for the classical baselines (inference/classical.py is someone else's)."""

    def __init__(self, flag: int, radius: int = 3) -> None:
        self.flag, self.radius = flag, radius

    def inpaint(self, image, mask, generator=None):
        out = []
        for img, m in zip(image, mask, strict=True):
            arr = tensor_to_image(img)
            hole = (m[0] > 0.5).numpy().astype(np.uint8)
            out.append(image_to_tensor(cv2.inpaint(arr, hole, self.radius, self.flag)))
        return torch.cat(out)


class Identity:
    """Returns its input: the hole stays mid-grey (the masked input's zeros)."""

    def inpaint(self, image, mask, generator=None):
        return image.clone()


class Perfect:
    """Knows the ground truth: finds the image whose known pixels match the input."""

    def __init__(self, truths: list[np.ndarray]) -> None:
        self.truths = torch.cat([image_to_tensor(t) for t in truths])

    def inpaint(self, image, mask, generator=None):
        out = []
        for img, m in zip(image, mask, strict=True):
            known = masked_input(self.truths, m.expand(len(self.truths), 1, *m.shape[-2:]))
            match = [j for j in range(len(self.truths)) if torch.equal(known[j], img)]
            assert len(match) == 1
            out.append(self.truths[match[0]])
        return torch.stack(out)


# --- on the shared data ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_run():
    names = sorted(p for p in VAL.iterdir() if p.suffix.lower() == ".jpg")[:3]
    truths = [prepare_image(read_image_rgb(p), 256) for p in names]
    models = {
        "telea": CV2Inpaint(cv2.INPAINT_TELEA),
        "ns": CV2Inpaint(cv2.INPAINT_NS),
        "identity": Identity(),
        "perfect": Perfect(truths),
    }
    return evaluate(models, VAL, MASKS, size=256, images=3, seed=0, batch_size=4)


@needs_data
def test_per_bucket_results_for_every_model(shared_run):
    summary = shared_run.summary()
    assert list(summary) == ["telea", "ns", "identity", "perfect"]
    for model, rows in summary.items():
        assert list(rows) == [*BUCKET_NAMES, "all"]
        for name in BUCKET_NAMES:
            assert rows[name]["count"] == 3, (model, name)
            assert all(math.isfinite(rows[name][m]) for m in ("psnr", "ssim", "l1"))
        assert rows["all"]["count"] == 18
    # pairs: each bucket's masks really have that hole ratio, the NVIDIA numbering agrees
    for p in shared_run.pairs:
        lo, hi = BUCKETS[p.bucket]
        assert lo <= p.hole_ratio <= hi
        assert int(Path(p.mask).stem) // 2000 == p.bucket
    assert shared_run.config["bucket_mismatches"] == []
    assert len({p.mask for p in shared_run.pairs}) == 18  # distinct masks per image & bucket


@needs_data
def test_perfect_model_scores_cap_ssim_one_l1_zero(shared_run):
    scores = shared_run.scores["perfect"]
    assert np.all(scores["psnr"] == 100.0)  # the documented cap
    assert np.allclose(scores["ssim"], 1.0, atol=1e-9)
    assert np.all(scores["l1"] == 0.0)


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
        assert s["telea"][b]["psnr"] > s["identity"][b]["psnr"]
        assert s["ns"][b]["l1"] < s["identity"][b]["l1"]


@needs_data
def test_pairing_is_deterministic_and_prefix_stable():
    files = sorted(MASKS.iterdir())
    names = [f"img{i}" for i in range(3)]
    pairs, _, _ = select_pairs(names, files, 256, 1, seed=0)
    again, _, _ = select_pairs(names, files, 256, 1, seed=0)
    assert pairs == again
    fewer, _, _ = select_pairs(names[:2], files, 256, 1, seed=0)
    assert set(fewer) <= set(pairs)  # image i's masks do not depend on how many images
    other, _, _ = select_pairs(names, files, 256, 1, seed=1)
    assert {p.mask for p in other} != {p.mask for p in pairs}


@needs_data
def test_json_csv_and_table_written(shared_run, tmp_path):
    data = json.loads(write_json(shared_run, tmp_path / "out" / "results.json").read_text())
    assert data["summary"]["telea"]["1-10%"]["count"] == 3
    assert len(data["pairs"]) == 18 and len(data["scores"]["ns"]["ssim"]) == 18
    assert data["config"]["size"] == 256 and data["config"]["images"] == 3
    rows = list(csv.DictReader(write_csv(shared_run, tmp_path / "results.csv").open()))
    assert len(rows) == 4 * 7
    first = rows[0]
    assert first["model"] == "telea" and first["bucket"] == "1-10%" and first["count"] == "3"
    assert float(first["psnr"]) == pytest.approx(shared_run.summary()["telea"]["1-10%"]["psnr"])
    console = Console(record=True, width=200)
    console.print(results_table(shared_run))
    text = console.export_text()
    for word in ("telea", "perfect", "PSNR", "SSIM", "50-60%", "all"):
        assert word in text


# --- synthetic data (always runs) ------------------------------------------------------


def _synthetic(tmp_path: Path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(((40, 60), (50, 30), (24, 24))):
        grad = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
        img = (grad * 0.7 + rng.integers(0, 60, (h, w, 3))).clip(0, 255).astype(np.uint8)
        cv2.imwrite(str(images / f"im{i}.png"), img)
    (images / "notes.txt").write_text("not an image: ignored")

    def square(frac: float) -> np.ndarray:
        m = np.zeros((64, 64), np.uint8)
        side = round(64 * math.sqrt(frac))
        m[:side, :side] = 255
        return m

    # two masks in bucket 0, one in bucket 3, one outside every bucket
    for name, frac in (("a", 0.05), ("b", 0.06), ("c", 0.35), ("d", 0.8)):
        cv2.imwrite(str(masks / f"{name}.png"), square(frac))
    return images, masks


class Recorder(torch.nn.Module):
    """An nn.Module model: records the mode and generator it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.calls: list[tuple[bool, bool, int]] = []

    def inpaint(self, image, mask, generator=None):
        self.calls.append((self.training, isinstance(generator, torch.Generator), image.shape[0]))
        noise = torch.rand(image.shape, generator=generator) * 2 - 1
        return noise * self.scale


def test_synthetic_folder_buckets_cycling_and_modes(tmp_path):
    images, masks = _synthetic(tmp_path)
    model = Recorder()
    model.train()
    run = evaluate({"rec": model, "id": Identity()}, images, masks, size=32,
                   masks_per_bucket=2, batch_size=5, psnr_cap=None)
    summary = run.summary()
    assert summary["rec"]["1-10%"]["count"] == 3 * 2
    assert summary["rec"]["30-40%"]["count"] == 3 * 2  # one mask, reused
    for empty in ("10-20%", "20-30%", "40-50%", "50-60%"):
        assert summary["rec"][empty]["count"] == 0 and math.isnan(summary["rec"][empty]["psnr"])
    assert "d.png" not in {p.mask for p in run.pairs}
    # bucket 0 has two masks: each image gets both
    for image in ("im0.png", "im1.png", "im2.png"):
        assert sorted(p.mask for p in run.pairs if p.image == image and p.bucket == 0) == [
            "a.png", "b.png"]
    # nn.Module: evaluated in eval mode with a generator, training mode restored after
    assert [c[:2] for c in model.calls] == [(False, True)] * 3
    assert [c[2] for c in model.calls] == [5, 5, 2]
    assert model.training
    # stochastic models are reproducible for a seed
    again = evaluate({"rec": Recorder()}, images, masks, size=32, masks_per_bucket=2,
                     batch_size=5)
    assert np.array_equal(again.scores["rec"]["l1"], run.scores["rec"]["l1"])
    # NaN means in empty buckets are rendered, and non-finite values become null in JSON
    Console(record=True).print(results_table(run))
    data = json.loads(write_json(run, tmp_path / "r.json").read_text())
    assert data["summary"]["rec"]["10-20%"]["psnr"] is None


def test_known_pixels_kept_and_images_cropped(tmp_path):
    images, masks = _synthetic(tmp_path)

    class Spy(Identity):
        def inpaint(self, image, mask, generator=None):
            assert image.shape[-2:] == (32, 32)
            assert torch.all(image[mask.expand_as(image) > 0.5] == 0)  # hole hidden
            return torch.full_like(image, 0.5)  # garbage everywhere, composited away outside

    run = evaluate({"spy": Spy()}, images, masks, size=32, psnr_cap=None)
    # outside the hole the composite is exact, so the error is confined to the hole
    hole = {p.mask: p.hole_ratio for p in run.pairs}
    for p, l1v in zip(run.pairs, run.scores["spy"]["l1"], strict=True):
        assert l1v <= 100 * hole[p.mask] + 1e-9


def test_prepare_image_shorter_side_and_centre():
    arr = np.zeros((321, 481, 3), np.uint8)
    arr[:, 240] = 255  # the centre column survives the centre crop
    out = prepare_image(arr, 256)
    assert out.shape == (256, 256, 3)
    assert out[:, 126:130].max() > 0 and out[:, :100].max() == 0
    assert prepare_image(np.zeros((20, 30, 3), np.uint8), 64).shape == (64, 64, 3)


def test_bad_model_output_and_inputs(tmp_path):
    images, masks = _synthetic(tmp_path)

    class Wrong:
        def inpaint(self, image, mask, generator=None):
            return image[:, :, :8]

    with pytest.raises(ValueError, match="'wrong' returned"):
        evaluate({"wrong": Wrong()}, images, masks, size=32)
    with pytest.raises(ValueError):
        evaluate({}, images, masks)
    from inpaintkit.errors import InpaintError

    with pytest.raises(InpaintError, match="not found"):
        evaluate({"id": Identity()}, tmp_path / "nothing", masks, size=32)


# --- optional extras: LPIPS, FID, diversity (tiny random weight files) -------------------


def _tiny_weight_files(folder: Path) -> tuple[Path, Path]:
    """A tiny random FID Inception (batch norm calibrated so features are not all zero) and
    a tiny random AlexNet LPIPS (non-negative heads), saved as files like users' weights."""
    from safetensors.torch import save_file

    from inpaintkit.metrics import LPIPS, FIDInceptionV3

    torch.manual_seed(0)
    inception = FIDInceptionV3(width=1 / 16)
    for m in inception.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    inception.train()
    with torch.no_grad():
        inception(torch.rand(8, 3, 64, 64) * 2 - 1)
    fid_path = folder / "inception_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in inception.state_dict().items()}, str(fid_path))
    lpips = LPIPS("alex", (8, 12, 16, 8, 8))
    with torch.no_grad():
        for k in range(5):
            head = getattr(lpips, f"lin{k}").model[1].weight
            head.copy_(head.abs())
    lpips_path = folder / "lpips_tiny.pth"
    torch.save(lpips.state_dict(), lpips_path)
    return fid_path, lpips_path


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    return _tiny_weight_files(tmp_path_factory.mktemp("weights"))


def _extras_models(images: Path) -> dict:
    from inpaintkit.models import create_model

    torch.manual_seed(0)
    truths = [prepare_image(read_image_rgb(p), 64) for p in sorted(images.glob("*.png"))]
    return {"perfect": Perfect(truths), "id": Identity(),
            "pic": create_model("pic_net", tiny=True)}


def test_extras_add_columns_without_changing_the_plain_scores(tmp_path, weight_files):
    images, masks = _synthetic(tmp_path)
    fid_path, lpips_path = weight_files
    models = _extras_models(images)
    plain = evaluate(models, images, masks, size=64, batch_size=4)
    run = evaluate(models, images, masks, size=64, batch_size=4, fid_weights=fid_path,
                   lpips_weights=lpips_path, diversity_samples=3)
    # the plain run has exactly the three metrics; the extras leave them unchanged
    assert plain.metrics() == ["psnr", "ssim", "l1"]
    assert "fid_weights" not in plain.config
    for name in models:
        for metric in ("psnr", "ssim", "l1"):
            assert np.array_equal(plain.scores[name][metric], run.scores[name][metric]), name
    assert run.metrics() == ["psnr", "ssim", "l1", "lpips", "fid", "diversity"]
    assert run.config["diversity_metric"] == "lpips" and run.config["diversity_samples"] == 3
    summary = run.summary()
    for name in models:
        for bucket in ("1-10%", "30-40%", "all"):
            row = summary[name][bucket]
            assert math.isfinite(row["lpips"]) and math.isfinite(row["fid"]), (name, bucket)
        assert math.isnan(summary[name]["10-20%"]["fid"])  # empty bucket
    # deterministic models have no diversity; the pluralistic one differs between samples
    assert "diversity" not in summary["id"]["all"] and "diversity" not in run.scores["perfect"]
    assert np.all(run.scores["pic"]["diversity"] > 0)
    # the perfect model: LPIPS 0 per pair, FID ~0 and below the grey-hole model's
    assert np.allclose(run.scores["perfect"]["lpips"], 0.0, atol=1e-9)
    assert np.all(run.scores["id"]["lpips"] > 1e-4)
    assert abs(summary["perfect"]["all"]["fid"]) < 1e-6 * max(1.0, summary["id"]["all"]["fid"])
    assert summary["id"]["all"]["fid"] > summary["perfect"]["all"]["fid"]
    # reporting: table columns, CSV header (empty cells where absent), JSON summary
    console = Console(record=True, width=300)
    console.print(results_table(run))
    text = console.export_text()
    for word in ("LPIPS", "FID", "diversity"):
        assert word in text
    rows = list(csv.DictReader(write_csv(run, tmp_path / "r.csv").open()))
    assert list(rows[0]) == ["model", "bucket", "count", "psnr", "ssim", "l1", "lpips", "fid",
                             "diversity"]
    by = {(r["model"], r["bucket"]): r for r in rows}
    assert by[("id", "all")]["diversity"] == "" and float(by[("pic", "all")]["diversity"]) > 0
    data = json.loads(write_json(run, tmp_path / "r.json").read_text())
    assert data["summary"]["pic"]["all"]["fid"] == pytest.approx(summary["pic"]["all"]["fid"])
    assert data["config"]["fid_weights"] == str(fid_path)
    assert len(data["scores"]["pic"]["diversity"]) == len(run.pairs)


def test_diversity_without_lpips_is_hole_l1_and_reproducible(tmp_path):
    images, masks = _synthetic(tmp_path)
    models = _extras_models(images)
    run = evaluate(models, images, masks, size=64, diversity_samples=2)
    assert run.config["diversity_metric"] == "l1_hole_percent"
    assert run.metrics() == ["psnr", "ssim", "l1", "diversity"]
    assert run.metrics_of("id") == ["psnr", "ssim", "l1"]
    div = run.scores["pic"]["diversity"]
    assert np.all(div > 0) and np.all(div <= 100)
    again = evaluate({"pic": models["pic"]}, images, masks, size=64, diversity_samples=2)
    assert np.array_equal(again.scores["pic"]["diversity"], div)


def test_bad_weights_fail_before_reading_data(tmp_path, weight_files):
    from inpaintkit.errors import InpaintError

    missing = tmp_path / "nope.pth"
    # the images folder does not exist either: the weights are checked first
    with pytest.raises(InpaintError, match="nope.pth"):
        evaluate({"id": Identity()}, tmp_path / "none", tmp_path / "none", fid_weights=missing)
    with pytest.raises(InpaintError, match="Inception"):  # an LPIPS file given as FID weights
        evaluate({"id": Identity()}, tmp_path / "none", tmp_path / "none",
                 fid_weights=weight_files[1])
    with pytest.raises(ValueError, match="diversity_samples"):
        evaluate({"id": Identity()}, tmp_path, tmp_path, diversity_samples=1)
