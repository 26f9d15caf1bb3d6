"""The stylize objective: the IN and BN configs are one comparison, and its loss is the
weighted sum of the loss functions on the loss network."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from inpaintkit.losses.style_transfer import content_loss, gram_style_loss, style_grams, total_variation
from inpaintkit.training.config import load_config
from inpaintkit.training.objectives import OBJECTIVES

ROOT = Path(__file__).parents[2]


def test_in_and_bn_configs_differ_only_in_norm_and_name():
    a, b = (yaml.safe_load((ROOT / "configs" / "cpu" / f"stylize_{n}.yaml").read_text()) for n in ("in", "bn"))
    assert a["model_args"].pop("norm") == "instance" and b["model_args"].pop("norm") == "batch"
    assert a.pop("name") != b.pop("name")
    assert a == b and a["budget_cpu_minutes"] == 12 and a["method"] == "stylize"


def test_objective_loss_is_the_weighted_sum(tmp_path):
    style = tmp_path / "s.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(style)
    cfg = load_config(ROOT / "configs/cpu/stylize_in.yaml",
                      [f"objective_args.style={style}", "objective_args.style_size=0", "size=32", "tiny=true",
                       "objective_args.tv_weight=0.5"])
    obj = OBJECTIVES["stylize"](cfg)
    assert obj.style_image.shape == (1, 3, 32, 48)  # shorter side = the crop size
    torch.manual_seed(0)
    image, out = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    loss, logs = obj.generator_loss(None, image, None, out)
    a = obj.args
    feats = obj.net(out)
    ref = (a.content_weight * content_loss(feats["relu2_2"], obj.net(image)["relu2_2"])
           + a.style_weight * gram_style_loss(feats, style_grams(obj.net(obj.style_image), a.style_layers))
           + 0.5 * total_variation(out))
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert set(logs) == {"content", "style", "tv", "g_loss"}
