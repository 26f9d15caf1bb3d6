"""ContextualAttention: copies the right patch, never reads the hole, matches a per-sample
reference written with plain convolutions (the official formulation)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from inpaintkit.layers.contextual_attention import (
    ContextualAttention,
    _fold_functional,
    _Fuse,
    _fuse_functional,
    _fuse_scores,
    flow_to_image,
)


def _copy_scene(batch: int = 2, channels: int = 16, size: int = 32):
    """Random features; the hole (rows/cols 12..19) holds in the *foreground* an exact copy
    of the background block at rows 2..9, cols 22..29, which lies in the known region."""
    gen = torch.Generator().manual_seed(0)
    background = torch.randn(batch, channels, size, size, generator=gen)
    mask = torch.zeros(batch, 1, size, size)
    mask[:, :, 12:20, 12:20] = 1.0
    foreground = background.clone()
    foreground[:, :, 12:20, 12:20] = background[:, :, 2:10, 22:30]
    return foreground, background, mask


def test_hole_gets_the_matching_background_patch_and_flow_points_to_it() -> None:
    foreground, background, mask = _copy_scene()
    out, flow = ContextualAttention()(foreground, background, mask)
    assert out.shape == foreground.shape and flow.shape == (2, 2, 32, 32)
    # Interior of the hole (away from the hole border, whose patches mix known pixels).
    got = out[:, :, 14:18, 14:18].flatten(1)
    want = background[:, :, 4:8, 24:28].flatten(1)
    assert (F.cosine_similarity(got, want) > 0.95).all()
    # Displacement from hole position to source: (2 - 12, 22 - 12) = (-10, +10).
    inner = flow[:, :, 14:18, 14:18]
    assert (inner[:, 0] == -10).all() and (inner[:, 1] == 10).all()


def test_hole_content_of_background_never_reaches_the_output() -> None:
    foreground, background, mask = _copy_scene()
    layer = ContextualAttention()
    out, flow = layer(foreground, background, mask)
    poisoned = background.clone()
    poisoned[:, :, 12:20, 12:20] = 1e6
    poisoned[:, 3, 14, 15] = float("inf")
    out2, flow2 = layer(foreground, poisoned, mask)
    assert torch.isfinite(out2).all()
    assert torch.equal(out, out2) and torch.equal(flow, flow2)
    # Even when the hole holds an exact copy of what the foreground looks for.
    lure = background.clone()
    lure[:, :, 12:20, 12:20] = foreground[:, :, 12:20, 12:20]
    out3, _ = layer(foreground, lure, mask)
    assert torch.equal(out, out3)


def _touches_hole(mask: torch.Tensor, rate: int, ksize: int) -> torch.Tensor:
    """Per background patch (row-major at 1/rate), whether its matching window (at the
    patch grid) or its (2*rate)^2 paste window covers a hole pixel; explicit loops."""
    hole = mask[0, 0] > 0.5
    height, width = hole.shape
    h, w = height // rate, width // rate
    out = torch.zeros(h * w, dtype=torch.bool)
    for i in range(h):
        for j in range(w):
            rows = range((i - ksize // 2) * rate, (i + ksize // 2 + 1) * rate)
            cols = range((j - ksize // 2) * rate, (j + ksize // 2 + 1) * rate)
            match = [(y, x) for y in rows for x in cols if 0 <= y < height and 0 <= x < width]
            prow = range(i * rate - rate // 2, i * rate - rate // 2 + 2 * rate)
            pcol = range(j * rate - rate // 2, j * rate - rate // 2 + 2 * rate)
            paste = [(y, x) for y in prow for x in pcol if 0 <= y < height and 0 <= x < width]
            out[i * w + j] = any(bool(hole[y, x]) for y, x in match + paste)
    return out


@pytest.mark.parametrize("rate", [1, 2, 3])
def test_patches_touching_the_hole_get_zero_weight_and_the_rest_sum_to_one(rate: int) -> None:
    gen = torch.Generator().manual_seed(1)
    size = 12 * rate
    foreground = torch.randn(1, 6, size, size, generator=gen)
    background = torch.randn(1, 6, size, size, generator=gen)
    mask = torch.zeros(1, 1, size, size)
    mask[:, :, 3 * rate + 1 : 7 * rate, 5 * rate : 8 * rate - 1] = 1.0  # unaligned hole
    attn = ContextualAttention(rate=rate).attention(foreground, background, mask)
    assert attn.shape == (1, (size // rate) ** 2, size // rate, size // rate)
    touched = _touches_hole(mask, rate, 3)
    assert touched.any() and (~touched).any()
    assert (attn[0, touched] == 0).all()
    assert (attn[0, ~touched] > 0).all()
    torch.testing.assert_close(attn.sum(dim=1), torch.ones(1, size // rate, size // rate))


def _reference(f, b, mask, rate=2, k=3, fuse_k=3, scale=10.0):
    """Loop over the batch with conv2d / conv_transpose2d (the official formulation, with
    the fuse stopping at the grid border)."""
    outs = []
    eye = torch.eye(fuse_k).view(1, 1, fuse_k, fuse_k)
    for i in range(f.shape[0]):
        fi, mi = f[i : i + 1], mask[i : i + 1]
        bi = b[i : i + 1].masked_fill(mi > 0.5, 0.0)
        raw = F.unfold(F.pad(bi, (1, 1, 1, 1)), 2 * rate, stride=rate)  # rate 2 only
        c = fi.shape[1]
        raw = raw.transpose(1, 2).reshape(-1, c, 2 * rate, 2 * rate)
        fd, bd = fi[:, :, ::rate, ::rate], bi[:, :, ::rate, ::rate]
        hf, wf = fd.shape[-2:]
        hb, wb = bd.shape[-2:]
        w = F.unfold(bd, k, padding=k // 2).transpose(1, 2).reshape(-1, c, k, k)
        w = w / w.flatten(1).norm(dim=1).clamp_min(1e-4).view(-1, 1, 1, 1)
        fnorm = F.conv2d(fd.square(), torch.ones(1, c, k, k), padding=k // 2).sqrt()
        y = F.conv2d(fd, w, padding=k // 2) / fnorm.clamp_min(1e-4)  # (1, Lb, hf, wf)
        # Fuse: eye-kernel conv on each (background col, foreground col) plane, then on
        # each (background row, foreground row) plane.
        y = y.view(hb, wb, hf, wf).permute(0, 2, 1, 3).reshape(hb * hf, 1, wb, wf)
        y = F.conv2d(y, eye, padding=fuse_k // 2).view(hb, hf, wb, wf)
        y = y.permute(2, 3, 0, 1).reshape(wb * wf, 1, hb, hf)
        y = F.conv2d(y, eye, padding=fuse_k // 2).view(wb, wf, hb, hf)
        y = y.permute(2, 0, 3, 1).reshape(1, hb * wb, hf, wf)  # (1, Lb, hf, wf)
        low = F.max_pool2d(mi, rate)
        valid = F.max_pool2d(low, k, 1, padding=k // 2).flatten() == 0
        valid &= F.max_pool2d(F.pad(mi, (1, 1, 1, 1)), 2 * rate, rate).flatten() == 0
        y = y * scale
        y[:, ~valid] = -torch.inf
        y = y.softmax(dim=1)
        outs.append(F.conv_transpose2d(y, raw, stride=rate, padding=1) / 4.0)
    return torch.cat(outs)


def test_matches_per_sample_convolution_reference() -> None:
    gen = torch.Generator().manual_seed(2)
    f = torch.randn(3, 5, 16, 20, generator=gen)
    b = torch.randn(3, 5, 16, 20, generator=gen)
    mask = torch.zeros(3, 1, 16, 20)
    mask[0, :, 4:9, 6:12] = 1
    mask[1, :, 0:6, 0:5] = 1
    mask[2, :, 10:16, 13:20] = 1
    out, _ = ContextualAttention()(f, b, mask)
    torch.testing.assert_close(out, _reference(f, b, mask), rtol=1e-4, atol=1e-5)


def test_batch_elements_are_independent() -> None:
    foreground, background, mask = _copy_scene(batch=3)
    mask[1] = 0.0
    mask[2, :, :, :16] = 1.0
    layer = ContextualAttention()
    out, flow = layer(foreground, background, mask)
    for i in range(3):
        oi, fi = layer(foreground[i : i + 1], background[i : i + 1], mask[i : i + 1])
        torch.testing.assert_close(out[i : i + 1], oi)
        assert torch.equal(flow[i : i + 1], fi)


def test_without_hole_every_position_copies_itself() -> None:
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 16, 24, 24, generator=gen)
    out, flow = ContextualAttention()(x, x, None)
    assert (flow == 0).all()
    # Interior: the 4 pasted patches are (almost) the pixel's own neighbourhood.
    inner = (slice(None), slice(None), slice(4, 20), slice(4, 20))
    assert (F.cosine_similarity(out[inner].flatten(1), x[inner].flatten(1)) > 0.95).all()


def test_all_hole_gives_zeros_without_nan() -> None:
    x = torch.randn(2, 4, 16, 16, requires_grad=True)
    out, flow = ContextualAttention()(x, x, torch.ones(2, 1, 16, 16))
    assert torch.equal(out, torch.zeros_like(out)) and (flow == 0).all()
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_no_fuse_and_single_mask_for_the_batch() -> None:
    foreground, background, mask = _copy_scene()
    out, flow = ContextualAttention(fuse=False)(foreground, background, mask[:1])
    assert (flow[:, 0, 14:18, 14:18] == -10).all()
    assert torch.isfinite(out).all()


def test_gradients_flow_to_both_inputs() -> None:
    foreground, background, mask = _copy_scene()
    foreground.requires_grad_(True)
    background.requires_grad_(True)
    out, _ = ContextualAttention()(foreground, background, mask)
    out.square().mean().backward()
    for t in (foreground, background):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    # The background's hole cannot influence the output, so it gets no gradient.
    assert (background.grad[:, :, 12:20, 12:20] == 0).all()


def test_fuse_and_layer_gradients_are_exact() -> None:
    gen = torch.Generator().manual_seed(4)
    scores = torch.randn(2, 3, 4, 5, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: _Fuse.apply(t, 3), (scores,))
    f = torch.randn(1, 2, 8, 8, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(1, 2, 8, 8, dtype=torch.float64, generator=gen, requires_grad=True)
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    mask[..., 2:4, 3:6] = 1
    layer = ContextualAttention(softmax_scale=1.0)  # keep the logits in the smooth range
    assert torch.autograd.gradcheck(lambda x, y: layer(x, y, mask)[0], (f, b))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_export_paths_equal_the_fast_paths(k: int) -> None:
    """The functional fuse / fold used while tracing compute the same as the in-place fuse
    and ``F.fold`` used in training."""
    gen = torch.Generator().manual_seed(5)
    scores = torch.randn(2, 4, 5, 6, 3, generator=gen)
    torch.testing.assert_close(_fuse_functional(scores, k), _fuse_scores(scores, k))
    for rate in (1, 2, 3):
        cols = torch.randn(2, 3 * (2 * rate) ** 2, 4 * 5, generator=gen)
        expected = F.fold(cols, (5 * rate, 6 * rate), 2 * rate, stride=rate)
        torch.testing.assert_close(_fold_functional(cols, rate, 4, 5), expected)


def test_sizes_not_divisible_by_rate_raise() -> None:
    x = torch.randn(1, 4, 15, 16)
    with pytest.raises(ValueError, match="divisible"):
        ContextualAttention()(x, x, None)
    with pytest.raises(ValueError, match="mask"):
        ContextualAttention()(torch.randn(1, 4, 16, 16), torch.randn(1, 4, 16, 16),
                              torch.zeros(1, 1, 8, 8))


def test_flow_to_image_range_and_white_for_zero_flow() -> None:
    flow = torch.zeros(2, 2, 8, 8)
    flow[0, 1, :, 4:] = 3.0  # rightwards
    flow[0, 0, :4, :] = -2.0  # upwards
    img = flow_to_image(flow)
    assert img.shape == (2, 3, 8, 8)
    assert img.min() >= -1 and img.max() <= 1
    assert torch.equal(img[1], torch.ones(3, 8, 8))  # no motion: white
    assert torch.equal(img[0, :, 4:, :4], torch.ones(3, 4, 4))
    # Different directions get different colours.
    assert not torch.allclose(img[0, :, 0, 0], img[0, :, 6, 6])
