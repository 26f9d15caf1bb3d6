import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from inpaintkit.losses.kl import kl_normal, kl_standard_normal, symmetric_kl_normal


def _params(shape, seed):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(shape, generator=g, dtype=torch.float64) * 2
    sigma = torch.rand(shape, generator=g, dtype=torch.float64) * 3 + 0.05
    return mu, sigma


def test_kl_normal_matches_torch_distributions():
    mu1, s1 = _params((2, 4, 3, 3), 0)
    mu2, s2 = _params((2, 4, 3, 3), 1)
    expected = kl_divergence(Normal(mu1, s1), Normal(mu2, s2))
    torch.testing.assert_close(kl_normal(mu1, s1, mu2, s2), expected)


def test_kl_normal_broadcasts_like_torch():
    mu1, s1 = _params((2, 4, 3, 3), 2)
    mu2 = torch.zeros(1, dtype=torch.float64)
    s2 = torch.full((2, 1, 1, 1), 0.3, dtype=torch.float64)
    out = kl_normal(mu1, s1, mu2, s2)
    assert out.shape == (2, 4, 3, 3)
    torch.testing.assert_close(out, kl_divergence(Normal(mu1, s1), Normal(mu2, s2)))


def test_kl_standard_normal_matches_torch():
    mu, s = _params((3, 5), 3)
    expected = kl_divergence(Normal(mu, s), Normal(torch.zeros_like(mu), torch.ones_like(s)))
    torch.testing.assert_close(kl_standard_normal(mu, s), expected)
    torch.testing.assert_close(kl_standard_normal(mu, s), kl_normal(mu, s, 0.0 * mu, 1.0 + 0 * s))


def test_symmetric_kl_is_both_directions():
    mu1, s1 = _params((7,), 4)
    mu2, s2 = _params((7,), 5)
    p, q = Normal(mu1, s1), Normal(mu2, s2)
    expected = kl_divergence(p, q) + kl_divergence(q, p)
    torch.testing.assert_close(symmetric_kl_normal(mu1, s1, mu2, s2), expected)
    torch.testing.assert_close(symmetric_kl_normal(mu1, s1, mu2, s2),
                               symmetric_kl_normal(mu2, s2, mu1, s1))


def test_known_value():
    # KL(N(1, 2^2) || N(0, 1)) = -log 2 + (4 + 1)/2 - 1/2 = 2 - log 2
    val = kl_standard_normal(torch.tensor(1.0), torch.tensor(2.0))
    assert val.item() == pytest.approx(2 - math.log(2), rel=1e-6)


def test_gradients_finite_float32():
    mu1, s1 = (t.float().requires_grad_() for t in _params((16,), 6))
    mu2, s2 = (t.float().requires_grad_() for t in _params((16,), 7))
    (kl_normal(mu1, s1, mu2, s2).sum() + kl_standard_normal(mu1, s1).sum()).backward()
    for t in (mu1, s1, mu2, s2):
        assert torch.isfinite(t.grad).all()


finite = st.floats(-5, 5, allow_nan=False)
positive = st.floats(1e-2, 5, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(finite, positive, finite, positive)
def test_nonnegative_and_zero_iff_equal(m1, s1, m2, s2):
    t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    kl = kl_normal(t(m1), t(s1), t(m2), t(s2)).item()
    assert kl >= -1e-12
    assert kl_normal(t(m1), t(s1), t(m1), t(s1)).item() == pytest.approx(0.0, abs=1e-12)
    expected = kl_divergence(Normal(t(m1), t(s1)), Normal(t(m2), t(s2))).item()
    assert kl == pytest.approx(expected, rel=1e-9, abs=1e-12)
