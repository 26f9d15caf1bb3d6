"""K samples of a pluralistic model come back best first by its discriminator's score
(inference/ranking.py), the discriminator loaded from ``<checkpoint>/discriminator/``."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from inpaintkit.inference import Inpainter
from inpaintkit.inference.ranking import rank_results
from inpaintkit.models import create_discriminator, create_model
from inpaintkit.models.pic_discriminator import PICDiscriminator
from inpaintkit.models.serialization import DISCRIMINATOR_DIR, save_model


class _Brightness(nn.Module):
    """A stand-in discriminator: a patch is as 'real' as it is bright."""

    min_size = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=1, keepdim=True)


def _photo(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    hole = np.zeros((64, 80), bool)
    hole[16:44, 20:60] = True
    return image, hole


def test_rank_results_orders_by_score_in_the_hole_at_any_size():
    image, hole = _photo()
    results = []
    for level in (90, 200, 30, 140):
        r = image.copy()
        r[hole] = level
        results.append(r)
    # 64x80 scored as is, then shrunk to about 32x32 pixels: the order holds either way.
    for native in (256, 32):
        order, scores = rank_results(_Brightness(), results, hole, native)
        assert order == [1, 3, 0, 2]
        assert scores[1] > scores[3] > scores[0] > scores[2]


def test_checkpoint_with_a_discriminator_ranks_its_samples(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "pic"
    save_model(create_model("pic_net", tiny=True), folder)
    plain = Inpainter(folder, device="cpu", strategy="full")
    assert plain.ranker is None
    save_model(create_discriminator("pic_patchgan", tiny=True), folder / DISCRIMINATOR_DIR)
    ranked = Inpainter(folder, device="cpu", strategy="full")
    assert isinstance(ranked.ranker, PICDiscriminator)

    image, hole = _photo(1)
    unranked = plain.inpaint(image, hole, samples=4, seed=3)
    assert plain.last_scores is None
    ranked.ranker = _Brightness()  # a ranker whose preference the test knows
    out = ranked.inpaint(image, hole, samples=4, seed=3)
    means = [float(o[hole].mean()) for o in out]
    assert means == sorted(means, reverse=True)
    # The same samples (same seed), only reordered; the known pixels untouched.
    assert sorted(o.tobytes() for o in out) == sorted(o.tobytes() for o in unranked)
    assert all(np.array_equal(o[~hole], image[~hole]) for o in out)
    assert ranked.last_scores == sorted(ranked.last_scores, reverse=True)
    assert any("ranked by the discriminator" in n for n in ranked.notes)
    # One sample: nothing to rank.
    ranked.inpaint(image, hole, samples=1, seed=3)
    assert ranked.last_scores is None


def test_a_pic_net_folder_with_its_discriminator_ranks(tmp_path):
    # pic_net's CPU weights are no longer shipped (README "Models": a checkerboard); a folder
    # written like an imported official release (generator + discriminator/) ranks its samples.
    from inpaintkit.models import create_discriminator, create_model
    from inpaintkit.models.serialization import DISCRIMINATOR_DIR, save_model

    folder = save_model(create_model("pic_net", tiny=True), tmp_path / "pic")
    save_model(create_discriminator("pic_patchgan", tiny=True), folder / DISCRIMINATOR_DIR)
    assert isinstance(Inpainter(str(folder), device="cpu").ranker, PICDiscriminator)
    assert Inpainter("deepfill_v2", device="cpu").ranker is None
