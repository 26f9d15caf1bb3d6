import pytest
import torch
import torch.nn.functional as F

from inpaintkit.layers.short_long_attention import ShortLongAttention

C, H, W = 16, 6, 5


def _inputs(seed=0, b=2, c=C, h=H, w=W):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, h, w, generator=g)
    e = torch.randn(b, c, h, w, generator=g)
    mask = torch.zeros(b, 1, h, w)
    mask[:, :, 1:4, 2:4] = 1
    return x, e, mask


def _layer(seed=0, **kw):
    torch.manual_seed(seed)
    # eval: in train mode every call runs a spectral-norm power iteration on the merge
    # convs, so two calls would not see the same weights.
    return ShortLongAttention(C, **kw).eval()


def test_shapes_and_rows_sum_to_one():
    layer = _layer()
    x, e, mask = _inputs()
    with torch.no_grad():
        layer.query.weight.normal_()  # sharpen the map so the check is not trivially uniform
        out, attn = layer(x, e, mask)
    assert out.shape == x.shape
    assert attn.shape == (2, H * W, H * W)
    assert (attn >= 0).all()
    torch.testing.assert_close(attn.sum(-1), torch.ones(2, H * W))
    assert attn.max() > 2.0 / (H * W)  # not uniform


def test_starts_as_exact_identity_without_encoder():
    layer = _layer()
    assert layer.gamma.item() == 0.0 and layer.alpha.item() == 0.0
    x, _, _ = _inputs()
    out, _ = layer(x)
    assert torch.equal(out, x)
    with torch.no_grad():
        layer.gamma.fill_(0.5)
    out, _ = layer(x)
    assert not torch.allclose(out, x)


def test_at_init_hole_encoder_features_do_not_reach_output():
    # alpha = 0: context = (1 - M) e, so e inside the hole is ignored ...
    layer = _layer()
    x, e, mask = _inputs()
    e2 = torch.where(mask > 0.5, torch.randn_like(e) * 10, e)
    out1, _ = layer(x, e, mask)
    out2, _ = layer(x, e2, mask)
    assert torch.equal(out1, out2)
    # ... while the visible encoder features do.
    e3 = torch.where(mask > 0.5, e, e + 1.0)
    out3, _ = layer(x, e3, mask)
    assert not torch.allclose(out1, out3)
    # Once alpha != 0 the contextual flow (which mixes all positions) reaches the hole.
    with torch.no_grad():
        layer.alpha.fill_(1.0)
    out4, _ = layer(x, e, mask)
    out5, _ = layer(x, e2, mask)
    assert not torch.allclose(out4, out5)


def test_no_hole_means_alpha_is_irrelevant():
    layer = _layer()
    x, e, _ = _inputs()
    mask = torch.zeros(2, 1, H, W)
    out1, _ = layer(x, e, mask)
    with torch.no_grad():
        layer.alpha.fill_(3.0)
    out2, _ = layer(x, e, mask)
    assert torch.equal(out1, out2)


def _reference(layer, x, e, mask):
    """Per-position loops over the formulas of the module docstring."""
    b, c, h, w = x.shape
    n = h * w
    q = layer.query(x).flatten(2)
    k = q if layer.key is None else layer.key(x).flatten(2)
    xf, ef, mf = x.flatten(2), e.flatten(2), mask.flatten(2)
    short = torch.empty_like(xf)
    ctx = torch.empty_like(ef)
    attn = torch.empty(b, n, n)
    for bi in range(b):
        for i in range(n):
            s = torch.stack([q[bi, :, i] @ k[bi, :, j] for j in range(n)])
            a = torch.softmax(s, 0)
            attn[bi, i] = a
            short[bi, :, i] = layer.gamma * (xf[bi] * a).sum(1) + xf[bi, :, i]
            flow = (ef[bi] * a).sum(1)
            m = mf[bi, 0, i]
            ctx[bi, :, i] = layer.alpha * m * flow + (1 - m) * ef[bi, :, i]
    merged = layer.merge(torch.cat([short.view_as(x), ctx.view_as(e)], 1))
    return merged, attn


@pytest.mark.parametrize("shared", [True, False])
def test_vectorised_matches_loop_reference(shared):
    layer = _layer(shared_qk=shared)
    x, e, mask = _inputs(b=2, h=3, w=4)
    with torch.no_grad():
        layer.query.weight.normal_()
        if layer.key is not None:
            layer.key.weight.normal_()
        layer.gamma.fill_(0.7)
        layer.alpha.fill_(-0.4)
        out, attn = layer(x, e, mask)
        ref_out, ref_attn = _reference(layer, x, e, mask)
    torch.testing.assert_close(attn, ref_attn)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)


def test_shared_qk_is_official_default_and_width():
    layer = ShortLongAttention(32)
    assert layer.key is None and layer.query.out_channels == 8  # C/4, one conv
    sagan = ShortLongAttention(32, reduction=8, shared_qk=False)
    assert sagan.query.out_channels == 4 and sagan.key.out_channels == 4


@pytest.mark.parametrize("shared", [True, False])
def test_gradients_reach_query_key_once_gamma_nonzero(shared):
    layer = _layer(shared_qk=shared)
    x, e, mask = _inputs()
    x.requires_grad_()
    out, _ = layer(x, e, mask)
    out.square().mean().backward()
    # At init the map has no effect on the output, so q/k get exactly zero gradient, but
    # gamma and alpha do get one: that is how they leave 0.
    assert layer.query.weight.grad.abs().max() == 0
    assert layer.gamma.grad.abs().item() > 0
    assert layer.alpha.grad.abs().item() > 0
    layer.zero_grad()
    with torch.no_grad():
        layer.gamma.fill_(0.5)
    out, _ = layer(x, e, mask)
    out.square().mean().backward()
    convs = [layer.query] + ([] if layer.key is None else [layer.key])
    for conv in convs:
        assert conv.weight.grad.abs().max() > 0
        assert torch.isfinite(conv.weight.grad).all()


def test_mask_is_resized_bilinear():
    layer = _layer()
    with torch.no_grad():
        layer.alpha.fill_(0.5)
    x, e, _ = _inputs()
    big = torch.zeros(2, 1, 2 * H, 2 * W)
    big[:, :, 3:9, 4:8] = 1
    small = F.interpolate(big, size=(H, W), mode="bilinear", align_corners=True)
    out_big, _ = layer(x, e, big)
    out_small, _ = layer(x, e, small)
    torch.testing.assert_close(out_big, out_small)


def test_batch_items_are_independent():
    layer = _layer()
    with torch.no_grad():
        layer.gamma.fill_(0.3)
        layer.alpha.fill_(0.3)
    x, e, mask = _inputs(b=2)
    out, _ = layer(x, e, mask)
    out0, _ = layer(x[:1], e[:1], mask[:1])
    # Batch 2 vs batch 1: different float32 GEMM blocking, so a few ulps of the largest
    # output (values up to 2.6; measured 3.6e-7 = 1.5 ulp with AVX2). 32 ulps of it (1e-5):
    # attention leaking across the batch would move outputs on the scale of the values.
    tol = 32 * torch.finfo(torch.float32).eps * float(out.abs().max())
    torch.testing.assert_close(out[:1], out0, rtol=0, atol=tol)


def test_encoder_channels_may_differ():
    layer = ShortLongAttention(C, encoder_channels=8)
    x, _, mask = _inputs()
    out, _ = layer(x, torch.randn(2, 8, H, W), mask)
    assert out.shape == x.shape


def test_short_term_only_variant_has_no_merge():
    layer = ShortLongAttention(C, long_term=False)
    assert not hasattr(layer, "merge")
    x, e, mask = _inputs()
    out, _ = layer(x, e, mask)
    assert torch.equal(out, x)


def test_errors():
    layer = _layer()
    x, e, mask = _inputs()
    with pytest.raises(ValueError, match="mask"):
        layer(x, e)
    with pytest.raises(ValueError, match="channels"):
        layer(torch.randn(2, C + 1, H, W))
    with pytest.raises(ValueError, match="encoder"):
        layer(x, e[:, :, :-1], mask)
