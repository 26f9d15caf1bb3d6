"""Compute budgets (CPU-minutes) and the configs/cpu runs that share one."""

import json
from pathlib import Path

import pytest
import yaml

from inpaintkit.training.config import load_config
from inpaintkit.training.loop import lr_factor, train

ROOT = Path(__file__).parents[2]
# the inpainting runs (stylize_*.yaml are another task: tests/training/test_stylize_objective.py)
CPU_CONFIGS = sorted(p for p in (ROOT / "configs" / "cpu").glob("*.yaml") if not p.stem.startswith("stylize"))


def test_cosine_schedule_runs_over_the_budget_not_the_steps():
    cfg = load_config(None, ["lr_schedule=cosine", "steps=1000000", "budget_cpu_minutes=10"])
    assert lr_factor(cfg, 5, cpu_seconds=0.0) == pytest.approx(1.0)
    assert lr_factor(cfg, 5, cpu_seconds=300.0) == pytest.approx(0.5)  # half the budget
    assert lr_factor(cfg, 5, cpu_seconds=600.0) == pytest.approx(0.0, abs=1e-12)
    no_budget = load_config(None, ["lr_schedule=cosine", "steps=100"])
    assert lr_factor(no_budget, 50, cpu_seconds=1e9) == pytest.approx(0.5)


def test_run_stops_when_its_budget_is_spent_and_resume_counts_on(image_dir, tmp_path):
    over = [f"data={image_dir}", f"out_dir={tmp_path}", "tiny=true", "size=64", "steps=100000",
            "batch_size=2", "num_workers=0", "threads=1", "ckpt_every=0", "image_every=0",
            "log_every=50", "method=pconv", "model=pconv_unet", "discriminator=null",
            "budget_cpu_minutes=0.01"]  # 0.6 CPU-seconds: a handful of tiny steps
    last = train(load_config(None, over))
    state = json.loads((last / "state.json").read_text())
    assert 1 <= state["step"] < 100000
    assert state["cpu_seconds"] >= 0.6
    # resuming a spent run does at most one step more and keeps counting from the saved time
    again = train(load_config(None, over), resume="auto")
    state2 = json.loads((again / "state.json").read_text())
    assert state2["step"] <= state["step"] + 1
    assert state2["cpu_seconds"] >= state["cpu_seconds"]


def test_cpu_configs_share_data_masks_seed_and_budget():
    assert len(CPU_CONFIGS) >= 4
    shared = ("data", "masks", "seed", "size", "batch_size", "threads")
    values = [yaml.safe_load(p.read_text()) for p in CPU_CONFIGS]
    for key in shared:
        assert len({str(v[key]) for v in values}) == 1, key
    assert values[0]["masks"] == "deepfill"
    # The arms of one comparison (deepfill_v2*, rn*, pic_*) share one compute budget.
    budgets: dict[str, set[float]] = {}
    for p, v in zip(CPU_CONFIGS, values, strict=True):
        assert v["budget_cpu_minutes"] > 0, p.name
        if v.get("init"):  # a fine-tuning run (e.g. deepfill_v2_sketch) is no arm of a comparison
            continue
        budgets.setdefault(p.stem.split("_")[0], set()).add(v["budget_cpu_minutes"])
    assert {"deepfill", "rn", "pic"} <= set(budgets)
    assert all(len(b) == 1 for b in budgets.values()), budgets
    for p in CPU_CONFIGS:
        load_config(p)  # every key is a known option
