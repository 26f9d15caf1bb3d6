"""PIC-Net: both paths' outputs, sampling, seeds, the official widths, its discriminator and
sample ranking (the generator contract is in test_contract.py)."""

import itertools

import pytest
import torch
from torch import nn

from inpaintkit.losses.kl import kl_normal, symmetric_kl_normal
from inpaintkit.models import DISCRIMINATORS, MODELS, create_discriminator, create_model
from inpaintkit.models.base import config_from_dict, config_to_dict
from inpaintkit.models.pic_discriminator import PICDiscriminator, PICDiscriminatorConfig, rank_samples
from inpaintkit.models.pic_net import PICNet, PICNetConfig, reconstructive_prior_sigma, scale_pyramid


def _tiny(seed=0, **overrides) -> PICNet:
    torch.manual_seed(seed)
    return PICNet(PICNetConfig(**{**PICNet.tiny, **overrides}))


def _batch(b=2, h=64, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(b, 1, h, w)
    mask[:, :, h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 1
    if b > 1:
        mask[1:, :, :, : w // 2] = 0  # different holes per item
    return image, mask


def _seed(s):
    return torch.Generator().manual_seed(s)


def _hole_l1(a, b, mask):
    hole = (mask > 0.5).expand_as(a)
    return (a - b).abs()[hole].mean().item()


def test_registered_and_tiny_is_small():
    assert MODELS["pic_net"] is PICNet
    assert DISCRIMINATORS["pic_patchgan"] is PICDiscriminator
    model = create_model("pic_net", tiny=True)
    assert PICNet.pluralistic and model.multiple == 32
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    # widths <= 32 (the attention merge block reads decoder + encoder features concatenated)
    assert max(c.out_channels for c in convs) <= 32
    d = create_discriminator("pic_patchgan", tiny=True)
    assert max(c.out_channels for c in d.modules() if isinstance(c, nn.Conv2d)) <= 32


def test_config_round_trip():
    cfg = PICNetConfig(**PICNet.tiny)
    assert config_from_dict(PICNetConfig, config_to_dict(cfg)) == cfg
    with pytest.raises(ValueError):
        PICNetConfig(decoder_norm="batch")
    with pytest.raises(ValueError):
        PICNetConfig(output_scale=6)


def test_full_config_matches_official_widths():
    # Official E (define_e with ngf=32, z_nc=128, img_f=128, layers=5, L=6) has 3,604,224
    # weights and G (define_g, L=0, output_scale=4) 2,374,016, counted from its layer list.
    model = PICNet()
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model.encoder) == 3_604_224
    assert count(model.generator) == 2_374_016
    # Official ResDiscriminator holds 1,575,075, of which the attention's merge block and
    # alpha (475,521) are never used by its forward; we do not build them.
    assert count(PICDiscriminator()) == 1_575_075 - 475_521


def test_forward_backward():
    model = _tiny().train()
    size = (64, 96)
    image, mask = _batch(2, *size)
    out = model(image, mask, generator=_seed(0))
    h, w = size
    expected = [(h // 8, w // 8), (h // 4, w // 4), (h // 2, w // 2), (h, w)]
    for path in (out.rec, out.gen):
        assert [tuple(x.shape[-2:]) for x in path] == expected
        for x in path:
            assert x.shape[:2] == (2, 3)
            assert torch.isfinite(x).all() and x.abs().max() <= 1
    latent = (2, 16, h // 32, w // 32)
    for dist in (out.posterior, out.prior):
        assert dist.mu.shape == latent and dist.sigma.shape == latent
        assert torch.isfinite(dist.mu).all() and (dist.sigma > 0).all()
    assert out.z_rec.shape == latent and out.z_gen.shape == latent
    n = (h // 8) * (w // 8)
    assert out.attention.shape == (2, n, n)
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(2, n))

    # The official objective's shape: symmetric KLs + multi-scale L1.
    s = reconstructive_prior_sigma(mask)
    kl_rec = symmetric_kl_normal(out.posterior.mu, out.posterior.sigma,
                                 torch.zeros_like(out.posterior.mu), s.expand_as(out.posterior.mu))
    kl_g = kl_normal(out.prior.mu, out.prior.sigma,
                     out.posterior.mu.detach(), out.posterior.sigma.detach())
    assert torch.isfinite(kl_rec).all() and torch.isfinite(kl_g).all()
    targets = scale_pyramid(image, 4)
    l1 = sum((r - t).abs().mean() + (g - t).abs().mean()
             for r, g, t in zip(out.rec, out.gen, targets, strict=True))
    (l1 + kl_rec.mean() + kl_g.mean()).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    for name in ("encoder.blocks.0.body.0.parametrizations.weight.original",
                 "encoder.posterior_head.shortcut.parametrizations.weight.original",
                 "encoder.prior_head.shortcut.parametrizations.weight.original",
                 "generator.lift.shortcut.parametrizations.weight.original",
                 "generator.attention.gamma"):
        assert grads[name].abs().max() > 0, name


def test_samples_differ_at_init():
    model = _tiny().eval()
    image, mask = _batch(1)
    k = 4
    samples = model.sample(image, mask, k, generator=_seed(0))
    assert samples.shape == (1, k, 3, 64, 64)
    assert torch.isfinite(samples).all() and samples.abs().max() <= 1
    pairs = [_hole_l1(samples[0, i], samples[0, j], mask[0])
             for i, j in itertools.combinations(range(k), 2)]
    diversity = sum(pairs) / len(pairs)
    print(f"PICNet tiny diversity at init (mean pairwise hole L1, k={k}): {diversity:.4f}")
    assert min(pairs) > 1e-3


def test_seeds():
    model = _tiny()
    image, mask = _batch(2)
    a = model.sample(image, mask, 3, generator=_seed(5))
    b = model.sample(image, mask, 3, generator=_seed(5))
    c = model.sample(image, mask, 3, generator=_seed(6))
    assert torch.equal(a, b)
    assert _hole_l1(a[0, 0], c[0, 0], mask[0]) > 1e-3
    # inpaint is the first sample of sample(k=1); train mode stays train and is still
    # deterministic (spectral-norm power iteration is off inside inpaint/sample).
    model.train()
    x = model.inpaint(image, mask, generator=_seed(5))
    y = model.inpaint(image, mask, generator=_seed(5))
    assert model.training
    assert torch.equal(x, y)
    torch.testing.assert_close(x, model.sample(image, mask, 1, generator=_seed(5))[:, 0])
    assert x.shape == image.shape


def test_batch_items_independent_in_sample():
    model = _tiny().eval()
    image, mask = _batch(2)
    both = model.sample(image, mask, 2, generator=_seed(3))
    first = model.sample(image[:1], mask[:1], 2, generator=_seed(3))
    torch.testing.assert_close(both[:1], first, rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_safetensors(tmp_path):
    from safetensors.torch import load_file, save_file

    model = _tiny(seed=1).train()
    image, mask = _batch(1)
    model(image, mask)  # one training forward moves the spectral-norm vectors
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    clone = _tiny(seed=2)
    clone.load_state_dict(load_file(str(tmp_path / "m.safetensors")))
    a = model.inpaint(image, mask, generator=_seed(0))
    b = clone.inpaint(image, mask, generator=_seed(0))
    assert torch.equal(a, b)


def test_bad_inputs():
    model = _tiny()
    image, mask = _batch(1)
    with pytest.raises(ValueError, match="multiples of 32"):
        model.inpaint(image[..., :48], mask[..., :48])
    with pytest.raises(ValueError):
        model.inpaint(image, mask[..., :32])
    with pytest.raises(ValueError):
        model.sample(image, mask, 0)


def test_prior_sigma_and_pyramid():
    none, full = torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    assert reconstructive_prior_sigma(none).item() == pytest.approx(1 / (1 + 2.718281828**1.6),
                                                                    rel=1e-3)
    assert reconstructive_prior_sigma(full).item() > 0.99
    masks = torch.zeros(9, 1, 32, 32)
    for i in range(9):
        masks[i].view(-1)[: i * 128] = 1  # hole ratio i/8
    sig = reconstructive_prior_sigma(masks).flatten()
    assert sig.shape == (9,) and (sig[1:] > sig[:-1]).all()
    pyr = scale_pyramid(torch.randn(1, 3, 64, 32), 3)
    assert [tuple(p.shape[-2:]) for p in pyr] == [(16, 8), (32, 16), (64, 32)]


def test_discriminator():
    d = create_discriminator("pic_patchgan", tiny=True)
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    out = d(x)
    assert out.shape == (2, 1, 2, 2) and torch.isfinite(out).all()
    out.mean().backward()
    assert x.grad.abs().max() > 0
    assert d.attention is not None and d.attention.gamma.grad is not None
    with pytest.raises(ValueError, match="smaller"):
        d(torch.rand(1, 3, 32, 32))
    full = PICDiscriminator(PICDiscriminatorConfig())
    assert full(torch.rand(1, 3, 96, 96)).shape == (1, 1, 1, 1)


class _MeanInHole(nn.Module):
    """A stand-in discriminator: the score is the brightness of each pixel."""

    def forward(self, x):
        return x.mean(dim=1, keepdim=True)


def test_rank_samples():
    image, mask = _batch(1, 64, 64)
    levels = torch.tensor([0.1, 0.9, -0.5, 0.4])
    samples = levels.view(1, 4, 1, 1, 1).expand(1, 4, 3, 64, 64).clone()
    order = rank_samples(samples, _MeanInHole(), mask, image=image)
    assert order.tolist() == [[1, 3, 0, 2]]
    # With a real discriminator: a permutation per image.
    d = create_discriminator("pic_patchgan", tiny=True).eval()
    model = _tiny().eval()
    image2, mask2 = _batch(2)
    samples2 = model.sample(image2, mask2, 3, generator=_seed(0))
    order2 = rank_samples(samples2, d, mask2, image=image2)
    assert order2.shape == (2, 3)
    assert all(sorted(row) == [0, 1, 2] for row in order2.tolist())
