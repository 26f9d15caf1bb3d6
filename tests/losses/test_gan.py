"""GAN losses (:mod:`inpaintkit.losses.gan`) against their formulas written out in plain
Python, element by element, on small score maps."""

from __future__ import annotations

import math

import pytest
import torch

from inpaintkit.losses.gan import (
    GAN_LOSSES,
    hinge_d_loss,
    hinge_g_loss,
    lsgan_d_loss,
    lsgan_g_loss,
    nsgan_d_loss,
    nsgan_g_loss,
)


def _scores(shape: tuple[int, ...], seed: int, scale: float = 2.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64) * scale


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


# real and fake maps of different sizes: each term is the mean over its own map.
REAL = _scores((2, 1, 3, 3), seed=0)
FAKE = _scores((3, 1, 2, 2), seed=1)
R, F = REAL.flatten().tolist(), FAKE.flatten().tolist()


def test_hinge() -> None:
    d = _mean([max(0.0, 1.0 - r) for r in R]) + _mean([max(0.0, 1.0 + f) for f in F])
    assert hinge_d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-12)
    assert hinge_g_loss(FAKE).item() == pytest.approx(-_mean(F), rel=1e-12)


def test_lsgan_halves_the_discriminator_sum() -> None:
    d = 0.5 * (_mean([(r - 1.0) ** 2 for r in R]) + _mean([f**2 for f in F]))
    assert lsgan_d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-12)
    assert lsgan_g_loss(FAKE).item() == pytest.approx(_mean([(f - 1.0) ** 2 for f in F]), rel=1e-12)


def test_nsgan_is_binary_cross_entropy_on_logits() -> None:
    # D: -log sigmoid(real) - log(1 - sigmoid(fake)); G: -log sigmoid(fake).
    d = _mean([-_log_sigmoid(r) for r in R]) + _mean([-math.log(1.0 - 1.0 / (1.0 + math.exp(-f))) for f in F])
    assert nsgan_d_loss(REAL, FAKE).item() == pytest.approx(d, rel=1e-10)
    assert nsgan_g_loss(FAKE).item() == pytest.approx(_mean([-_log_sigmoid(f) for f in F]), rel=1e-10)


def test_nsgan_stays_finite_for_confident_logits() -> None:
    # sigmoid(-200) underflows in float32; the loss must still be the exact 200.
    real = torch.tensor([-200.0, 200.0])
    fake = torch.tensor([200.0, -200.0])
    assert nsgan_d_loss(real, fake).item() == pytest.approx(0.5 * 200 + 0.5 * 200, rel=1e-6)
    assert nsgan_g_loss(torch.tensor([-200.0])).item() == pytest.approx(200.0, rel=1e-6)


def test_hinge_margins_are_zero_loss_and_gradients_follow_the_formula() -> None:
    # Beyond the margins (real >= 1, fake <= -1) the discriminator has nothing to learn.
    assert hinge_d_loss(torch.tensor([1.0, 3.0]), torch.tensor([-1.0, -2.5])).item() == 0.0
    real = torch.tensor([0.5, 2.0, -1.0], requires_grad=True)
    fake = torch.tensor([-2.0, 0.0], requires_grad=True)
    hinge_d_loss(real, fake).backward()
    # d/dr relu(1 - r) / n = -1/n where r < 1; d/df relu(1 + f) / n = 1/n where f > -1.
    assert real.grad.tolist() == pytest.approx([-1 / 3, 0.0, -1 / 3])
    assert fake.grad.tolist() == pytest.approx([0.0, 0.5])
    fake_g = torch.tensor([0.3, -0.7, 1.2, 5.0], requires_grad=True)
    hinge_g_loss(fake_g).backward()
    assert fake_g.grad.tolist() == pytest.approx([-0.25] * 4)


@pytest.mark.parametrize("kind", sorted(GAN_LOSSES))
def test_registry_pairs_and_optimum_direction(kind: str) -> None:
    d_loss, g_loss = GAN_LOSSES[kind]
    assert d_loss.__name__ == f"{kind}_d_loss" and g_loss.__name__ == f"{kind}_g_loss"
    # A discriminator that separates better has a lower loss; a generator whose fakes
    # score higher has a lower loss.
    good, bad = torch.full((4,), 2.0), torch.full((4,), -2.0)
    assert d_loss(good, bad) < d_loss(bad, good)
    assert g_loss(good) < g_loss(bad)
