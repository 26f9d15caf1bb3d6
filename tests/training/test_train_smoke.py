"""Every method's config trains a few steps of its tiny model at 64 px with finite losses,
and the checkpoint it writes loads with load_model."""

import json
from pathlib import Path

import pytest
import torch

from inpaintkit.inference.weights import load_model
from inpaintkit.models import create_model
from inpaintkit.training.config import load_config
from inpaintkit.training.loop import train

CONFIGS = sorted(p for p in (Path(__file__).parents[2] / "configs").glob("*.yaml"))
# configs/cpu/*.yaml are the same methods at other widths (tests/training/test_budget.py)


def smoke_overrides(image_dir, out_dir, steps=20):
    return [f"data={image_dir}", f"out_dir={out_dir}", "tiny=true", "size=64", f"steps={steps}",
            "batch_size=2", "num_workers=0", "threads=1", "ckpt_every=10", "image_every=10",
            "log_every=5", "ema=0.9", "init=", "pool=0"]  # pool: fresh items, no 2000-item pool


@pytest.mark.parametrize("config", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_each_method_trains(config, image_dir, tmp_path):
    cfg = load_config(config, smoke_overrides(image_dir, tmp_path))
    torch.manual_seed(cfg.seed)  # the loop seeds the same way before building the model
    init = create_model(cfg.model, tiny=True, **cfg.model_args).state_dict()
    last = train(cfg)
    state = json.loads((last / "state.json").read_text())
    assert state["step"] == 20
    assert all(torch.isfinite(torch.tensor(v)).all() for v in state["replica_checksums"])
    model = load_model(str(last))
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:40, 20:44] = 1
    extra = {}
    if model.coarse_input is not None:  # e.g. a classical fill as an input
        from inpaintkit.models.classical import coarse_from_tensors

        extra["coarse"] = coarse_from_tensors(image, mask, model.coarse_input)
    with torch.no_grad():
        out = model.inpaint(image, mask, generator=torch.Generator().manual_seed(0), **extra)
    assert out.shape == image.shape and torch.isfinite(out).all()
    trained = model.state_dict()
    assert any(not torch.equal(init[k], trained[k]) for k in init if init[k].is_floating_point())
    assert (tmp_path / cfg.name / "tb").is_dir()


def test_refuses_to_overwrite_a_run(image_dir, tmp_path):
    from inpaintkit.errors import InpaintError

    cfg = load_config(CONFIGS[0], smoke_overrides(image_dir, tmp_path, steps=2))
    train(cfg)
    with pytest.raises(InpaintError, match="already has checkpoints"):
        train(cfg)
    # --resume auto on a finished run is a no-op that returns the last checkpoint
    assert train(cfg, resume="auto").name == "step_00000002"


def test_init_starts_a_fresh_run_from_given_weights(image_dir, tmp_path):
    from safetensors.torch import load_file

    from inpaintkit.errors import InpaintError

    config = Path(__file__).parents[2] / "configs" / "default_candidate_lowfreq.yaml"
    first = train(load_config(config, [*smoke_overrides(image_dir, tmp_path, steps=2), "name=a", "ema=0"]))
    # lr 0: the weights after one step are exactly the ones it started from
    tuned = train(load_config(config, [*smoke_overrides(image_dir, tmp_path, steps=1), "name=b", "ema=0",
                                       "lr_g=0", f"init={first}"]))
    want, got = load_file(first / "model.safetensors"), load_file(tuned / "model.safetensors")
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    # weights of another architecture are refused with the reason
    other = train(load_config(CONFIGS[0], [*smoke_overrides(image_dir, tmp_path, steps=1), "name=c"]))
    with pytest.raises(InpaintError, match="does not fit the model"):
        train(load_config(config, [*smoke_overrides(image_dir, tmp_path, steps=1), "name=d", f"init={other}"]))
    with pytest.raises(InpaintError, match="init: .* does not exist"):
        train(load_config(config, [*smoke_overrides(image_dir, tmp_path, steps=1), "name=e",
                                   f"init={tmp_path / 'nothing'}"]))
