import pytest

from inpaintkit.errors import InpaintError
from inpaintkit.training.config import TrainConfig, apply_overrides, load_config
from inpaintkit.training.loop import lr_factor
from inpaintkit.training.setup import ResumableBatchSampler


def test_yaml_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nsteps: 5\nbetas_g: [0.0, 0.9]\nmodel_args:\n  cnum: 16\n")
    cfg = load_config(p, ["steps=7", "model_args.slim=true", "lr_g=2e-4"])
    assert cfg.steps == 7 and cfg.betas_g == (0.0, 0.9)
    assert cfg.model_args == {"cnum": 16, "slim": True}
    assert cfg.lr_g == pytest.approx(2e-4)


@pytest.mark.parametrize("bad", [["nosuch=1"], ["steps"], ["steps.x=1"]])
def test_bad_overrides(bad):
    with pytest.raises(InpaintError):
        load_config(None, bad)


def test_unknown_yaml_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("stepz: 5\n")
    with pytest.raises(InpaintError, match="stepz"):
        load_config(p)


def test_override_does_not_mutate_input():
    base = {"model_args": {"cnum": 8}}
    apply_overrides(base, ["model_args.cnum=9"])
    assert base == {"model_args": {"cnum": 8}}


def test_sampler_resume_and_sharding():
    full = ResumableBatchSampler(10, 4, seed=3)
    it = iter(full)
    batches = [next(it) for _ in range(6)]
    resumed = iter(ResumableBatchSampler(10, 4, seed=3, start_step=4))
    assert next(resumed) == batches[4]
    # within an epoch every item appears exactly once
    flat = [i for b in batches for i in b]
    assert sorted(v % 10 for v in flat[:10]) == list(range(10))
    # two ranks see disjoint items of the same global batch
    r0 = ResumableBatchSampler(10, 2, seed=3, rank=0, world_size=2).batch_at(0)
    r1 = ResumableBatchSampler(10, 2, seed=3, rank=1, world_size=2).batch_at(0)
    assert not set(r0) & set(r1)


def test_lr_schedules():
    cfg = TrainConfig(steps=100, lr_schedule="cosine", warmup_steps=10)
    assert lr_factor(cfg, 0) == pytest.approx(0.1)
    assert lr_factor(cfg, 10) == pytest.approx(1.0)
    assert lr_factor(cfg, 100) == pytest.approx(0.0, abs=1e-9)
    assert lr_factor(TrainConfig(lr_schedule="linear", steps=10), 5) == pytest.approx(0.5)
