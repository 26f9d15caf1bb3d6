"""The RN, PConv and PIC-Net objectives: finite terms, gradients that reach the generator,
VGG terms only with a VGG file, and each method's specific loss details."""

import copy
import itertools
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch.distributions import Normal, kl_divergence

from inpaintkit.conventions import composite
from inpaintkit.errors import InpaintError
from inpaintkit.losses.perceptual import vgg_layout
from inpaintkit.losses.reconstruction import region_l1, total_variation
from inpaintkit.models.pic_net import reconstructive_prior_sigma
from inpaintkit.training.config import load_config
from inpaintkit.training.objectives import OBJECTIVES
from inpaintkit.training.objectives.pic import PICDiscriminators

CONFIGS = Path(__file__).parents[2] / "configs"
METHODS = {"rn": "rn", "rn_instance": "rn", "pconv": "pconv", "pic_net": "pic"}


def make_objective(name, *overrides):
    cfg = load_config(CONFIGS / f"{name}.yaml", ["tiny=true", "size=64", "batch_size=2", *overrides])
    assert cfg.method == METHODS[name]
    return OBJECTIVES[cfg.method](cfg)


def batch(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, 64, 64, generator=g) * 2 - 1
    mask = torch.zeros(b, 1, 64, 64)
    mask[0, :, 16:40, 20:44] = 1
    mask[1:, :, 8:56, 4:30] = 1
    return image, mask


def vgg_file(tmp_path, arch):
    """A tiny random VGG with torchvision's key layout."""
    g = torch.Generator().manual_seed(1)
    state, cin = {}, 3
    for name, index in vgg_layout(arch):
        if name.startswith("conv"):
            cout = 4 if name.startswith(("conv1", "conv2")) else 6
            state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * 0.4
            state[f"features.{index}.bias"] = torch.randn(cout, generator=g) * 0.1
            cin = cout
    path = tmp_path / f"{arch}.safetensors"
    save_file(state, str(path))
    return str(path)


def build(obj, seed=0):
    torch.manual_seed(seed)
    return obj.build_generator(), obj.build_discriminator()


def _detached_scalar(v) -> bool:
    # logs stay on the device (no host sync per step): 0-d tensors without autograd history
    return torch.is_tensor(v) and v.ndim == 0 and not v.requires_grad


def losses(obj, G, D, image, mask):
    out = obj.generate(G, image, mask)
    d = obj.discriminator_loss(D, image, mask, out) if D is not None else None
    g = obj.generator_loss(D, image, mask, out)
    return out, d, g


@pytest.mark.filterwarnings("ignore:.*no VGG weights")
@pytest.mark.parametrize("name", list(METHODS))
def test_terms_finite_and_gradients_reach_generator(name):
    obj = make_objective(name)
    G, D = build(obj)
    image, mask = batch()
    out, d, (g_loss, logs) = losses(obj, G, D, image, mask)
    assert obj.prediction(out).shape == image.shape
    assert torch.isfinite(g_loss) and logs and all(_detached_scalar(v) for v in logs.values())
    assert logs["g_loss"] == pytest.approx(float(g_loss.detach()), rel=1e-5)
    if d is not None:
        d_loss, d_logs = d
        assert torch.isfinite(d_loss) and all(_detached_scalar(v) for v in d_logs.values())
    g_loss.backward()
    params = [(n, p) for n, p in G.named_parameters() if p.requires_grad]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for _, p in params), \
        [n for n, p in params if p.grad is None]
    nonzero = sum(bool(p.grad.abs().sum() > 0) for _, p in params)
    assert nonzero / len(params) > 0.9, f"{nonzero}/{len(params)} generator tensors got gradient"


@pytest.mark.parametrize(("name", "arch", "content_only"), [
    ("rn", "vgg19", {"l1_weight": 0.0, "gan_weight": 0.0}),
    ("pconv", "vgg16", {"valid_weight": 0.0, "hole_weight": 0.0, "tv_weight": 0.0}),
])
def test_vgg_terms_only_with_weights(name, arch, content_only, tmp_path):
    image, mask = batch()
    with pytest.warns(UserWarning, match="perceptual and style loss terms are disabled"):
        obj = make_objective(name)
    G, D = build(obj)
    _, _, (_, logs) = losses(obj, G, D, image, mask)
    assert "perceptual" not in logs and "style" not in logs

    path = vgg_file(tmp_path, arch)
    obj = make_objective(name, f"objective_args.vgg_weights={path}")
    assert obj.vgg is not None and obj.vgg.arch == arch
    G, D = build(obj)
    _, _, (loss, logs) = losses(obj, G, D, image, mask)
    assert logs["perceptual"] > 0 and logs["style"] > 0
    assert torch.isfinite(loss)
    # the VGG terms alone still train the generator; the VGG itself stays frozen
    sets = [f"objective_args.{k}={v}" for k, v in content_only.items()] + ["discriminator=null"]
    obj = make_objective(name, f"objective_args.vgg_weights={path}", *sets)
    G, D = build(obj)
    out, _, (loss, logs) = losses(obj, G, D, image, mask)
    assert set(logs) - {"g_loss"} <= {"perceptual", "style", "l1", "valid", "hole", "tv"}
    loss.backward()
    assert sum(p.grad.abs().sum() for p in G.parameters() if p.grad is not None) > 0
    assert all(p.grad is None for p in obj.vgg.parameters())


def test_bad_vgg_file_is_a_user_error(tmp_path):
    bad = tmp_path / "vgg.pth"
    bad.write_bytes(b"not a checkpoint")
    for name in ("rn", "pconv"):
        with pytest.raises(InpaintError, match="vgg.pth"):
            make_objective(name, f"objective_args.vgg_weights={bad}")


# --- RN -----------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:.*no VGG weights")
def test_rn_losses_match_the_official_formulas():
    obj = make_objective("rn")
    G, D = build(obj)
    assert D.config.use_sigmoid is False  # logits, for BCE-with-logits
    image, mask = batch()
    out = obj.generate(G, image, mask)
    # D is in train mode: each forward runs one spectral-norm power iteration, which moves its
    # logits by ~1e-4. Replay the formulas from the state the objective saw, so both sides are
    # the same convolutions and the default float32 tolerance compares formulas, not D's drift.
    state = copy.deepcopy(D.state_dict())
    d_loss, _ = obj.discriminator_loss(D, image, mask, out)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    D.load_state_dict(state)
    real, fake = D(image), D(out.detach())
    expected = 0.5 * (bce(real, torch.ones_like(real)) + bce(fake, torch.zeros_like(fake)))
    torch.testing.assert_close(d_loss, expected)

    out = out.detach().requires_grad_()
    state = copy.deepcopy(D.state_dict())
    g_loss, logs = obj.generator_loss(D, image, mask, out)
    comp = torch.where(mask > 0.5, out, image)
    l1 = (comp - image).abs().mean() / mask.mean()
    D.load_state_dict(state)
    fake = D(out)
    torch.testing.assert_close(torch.tensor(logs["l1"]), l1.detach())
    torch.testing.assert_close(g_loss, l1 + 0.1 * bce(fake, torch.ones_like(fake)))
    # the L1 term sees the composite: no L1 gradient on known pixels
    (grad,) = torch.autograd.grad(obj.generator_loss(None, image, mask, out)[0], out)
    assert grad[(mask > 0.5).expand_as(grad)].abs().min() > 0
    assert grad[(mask < 0.5).expand_as(grad)].abs().max() == 0


def test_rn_refuses_a_sigmoid_discriminator():
    obj = make_objective("rn", "disc_args.use_sigmoid=true", "objective_args.perceptual_weight=0",
                         "objective_args.style_weight=0")
    with pytest.raises(InpaintError, match="use_sigmoid"):
        obj.build_discriminator()


# --- PConv --------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:.*no VGG weights")
def test_pconv_pixel_terms_and_no_discriminator():
    obj = make_objective("pconv")
    G, D = build(obj)
    assert D is None
    image, mask = batch()
    raw, comp = obj.generate(G, image, mask)
    torch.testing.assert_close(comp, composite(raw, image, mask))
    loss, logs = obj.generator_loss(None, image, mask, (raw, comp))
    hole, valid = region_l1(raw, image, mask)
    torch.testing.assert_close(loss, valid + 6 * hole + 0.1 * total_variation(comp, mask))
    assert set(logs) == {"valid", "hole", "tv", "g_loss"}


def test_pconv_freeze_encoder_bn(tmp_path):
    obj = make_objective("pconv", "objective_args.freeze_encoder_bn=true",
                         "objective_args.perceptual_weight=0", "objective_args.style_weight=0")
    G, _ = build(obj)
    G.train()
    enc_bn = [b.bn for b in G.encoder if b.bn is not None]
    dec_bn = [b.bn for b in G.decoder if b.bn is not None]
    assert enc_bn and not any(bn.training for bn in enc_bn) and all(bn.training for bn in dec_bn)
    before = [bn.running_mean.clone() for bn in enc_bn]
    image, mask = batch()
    obj.generate(G, image, mask)
    assert all(torch.equal(a, bn.running_mean) for a, bn in zip(before, enc_bn, strict=True))
    other = make_objective("pconv", "model=rn_inpaint", "objective_args.freeze_encoder_bn=true",
                           "objective_args.perceptual_weight=0", "objective_args.style_weight=0")
    with pytest.raises(InpaintError, match="freeze_encoder_bn"):
        other.build_generator()


# --- PIC-Net ------------------------------------------------------------------------------

def test_pic_two_discriminators_both_trained():
    obj = make_objective("pic_net")
    G, D = build(obj)
    assert isinstance(D, PICDiscriminators) and isinstance(D, torch.nn.ModuleDict)
    assert set(D) == {"gen", "rec"} and D["gen"] is not D["rec"]
    image, mask = batch()
    out = obj.generate(G, image, mask)
    d_loss, logs = obj.discriminator_loss(D, image, mask, out)
    assert {"d_gen", "d_rec", "d_loss"} <= set(logs)
    d_loss.backward()
    for path in ("gen", "rec"):
        assert all(p.grad is not None for p in D[path].parameters()), path
        assert sum(p.grad.abs().sum() for p in D[path].parameters()) > 0
    assert all(p.grad is None for p in G.parameters())  # outputs were detached


@pytest.mark.parametrize("symmetric", [False, True])
def test_pic_kl_terms_match_torch_distributions(symmetric):
    obj = make_objective("pic_net", f"objective_args.symmetric_kl={str(symmetric).lower()}")
    G, _ = build(obj)
    image, mask = batch()
    out = obj.generate(G, image, mask)
    kl_rec, kl_g = obj.kl_terms(out, mask)
    p = Normal(out.posterior.mu, out.posterior.sigma)
    q = Normal(out.prior.mu, out.prior.sigma)
    m = Normal(torch.zeros_like(out.posterior.mu),
               reconstructive_prior_sigma(mask).expand_as(out.posterior.mu))
    ref_rec, ref_g = kl_divergence(m, p), kl_divergence(p, q)
    if symmetric:
        ref_rec, ref_g = ref_rec + kl_divergence(p, m), ref_g + kl_divergence(q, p)
    torch.testing.assert_close(kl_rec, ref_rec.mean())
    torch.testing.assert_close(kl_g, ref_g.mean())
    # KL_g pulls the prior towards the posterior, never the posterior towards the prior
    kl_g.backward()
    post = G.encoder.posterior_head.shortcut.parametrizations.weight.original
    prior = G.encoder.prior_head.shortcut.parametrizations.weight.original
    assert post.grad is None or post.grad.abs().max() == 0
    assert prior.grad.abs().max() > 0


def test_pic_generative_appearance_ignores_the_hole():
    obj = make_objective("pic_net", "objective_args.lambda_kl=0", "discriminator=null")
    G, D = build(obj)
    assert D is None
    image, mask = batch()
    out = obj.generate(G, image, mask)
    gen_full = out.gen[-1].detach().requires_grad_()
    rec_full = out.rec[-1].detach().requires_grad_()
    out = out._replace(gen=out.gen[:-1] + (gen_full,), rec=out.rec[:-1] + (rec_full,))
    loss, logs = obj.generator_loss(None, image, mask, out)
    assert set(logs) == {"kl_rec", "kl_g", "app_rec", "app_g", "g_loss"}
    g_gen, g_rec = torch.autograd.grad(loss, [gen_full, rec_full])
    hole = (mask > 0.5).expand_as(g_gen)
    assert g_gen[hole].abs().max() == 0 and g_gen[~hole].abs().max() > 0
    assert g_rec[hole].abs().min() > 0 and g_rec[~hole].abs().min() > 0  # whole image


def test_pic_cvae_baseline_is_one_path_with_a_learned_prior():
    obj = make_objective("pic_net", "objective_args.paths=cvae")
    G, D = build(obj)
    image, mask = batch()
    out = obj.generate(G, image, mask)
    d_loss, d_logs = obj.discriminator_loss(D, image, mask, out)
    assert set(d_logs) == {"d_rec", "d_loss"}  # only the reconstructive path is judged
    loss, logs = obj.generator_loss(D, image, mask, out)
    assert set(logs) == {"kl_cvae", "app_rec", "ad_rec", "g_loss"}
    p = Normal(out.posterior.mu, out.posterior.sigma)
    q = Normal(out.prior.mu, out.prior.sigma)
    scales = len(out.rec)
    torch.testing.assert_close(logs["kl_cvae"], 20.0 * scales * kl_divergence(p, q).mean())
    # targets: the image bilinearly resized (align_corners, as the official code) per scale
    l1 = sum((r - (image if r.shape == image.shape else torch.nn.functional.interpolate(
        image, size=r.shape[-2:], mode="bilinear", align_corners=True))).abs().mean() for r in out.rec)
    torch.testing.assert_close(logs["app_rec"], 20.0 * l1, rtol=1e-4, atol=1e-5)
    # KL(p || q) trains both the posterior and the prior (no stop-gradient), and the
    # generative path's outputs get no gradient at all.
    loss.backward()
    post = G.encoder.posterior_head.shortcut.parametrizations.weight.original
    prior = G.encoder.prior_head.shortcut.parametrizations.weight.original
    assert post.grad.abs().max() > 0 and prior.grad.abs().max() > 0
    with pytest.raises(InpaintError, match="paths must be"):
        make_objective("pic_net", "objective_args.paths=three")


def _hole_diversity(samples, mask):
    """Mean pairwise |a - b| inside the hole, over the k samples of one input ([-1,1] units)."""
    hole = (mask[0] > 0.5).expand_as(samples[0, 0])
    k = samples.shape[1]
    pairs = [(samples[0, i] - samples[0, j]).abs()[hole].mean().item()
             for i, j in itertools.combinations(range(k), 2)]
    return sum(pairs) / len(pairs), min(pairs)


@pytest.mark.slow
def test_pic_samples_still_differ_after_smoke_training(image_dir, tmp_path):
    from inpaintkit.inference.weights import load_model
    from inpaintkit.models import create_model
    from inpaintkit.training.loop import train

    overrides = [f"data={image_dir}", f"out_dir={tmp_path}", "tiny=true", "size=64", "steps=20",
                 "batch_size=2", "num_workers=0", "threads=1", "ckpt_every=10", "image_every=0",
                 "log_every=5", "ema=0.9"]
    cfg = load_config(CONFIGS / "pic_net.yaml", overrides)
    torch.manual_seed(cfg.seed)
    initial = create_model(cfg.model, tiny=True, **cfg.model_args).eval()
    last = train(cfg)
    assert json.loads((last / "state.json").read_text())["step"] == 20
    trained = load_model(str(last)).eval()
    image, mask = batch(1, seed=3)
    k = 6
    result = {}
    for label, model in (("init", initial), ("after 20 steps", trained)):
        samples = model.sample(image, mask, k, generator=torch.Generator().manual_seed(0))
        result[label] = _hole_diversity(samples, mask)
    print("PIC-Net tiny, 64 px, k=6, mean/min pairwise hole L1 ([-1,1] units):",
          {key: (round(m, 4), round(lo, 4)) for key, (m, lo) in result.items()})
    mean_after, min_after = result["after 20 steps"]
    assert min_after > 5e-3 and mean_after > 1e-2


# --- DeepFill (the default-candidate config) -----------------------------------------------

def test_deepfill_l2_term_matches_its_formula():
    # The default candidate's hole-only weights, plus the optional squared-error term.
    cfg = load_config(CONFIGS / "default_candidate_lowfreq.yaml", ["tiny=true", "size=64", "batch_size=2",
                                                 "objective_args.l1_refined=1", "objective_args.l2_refined=0.5"])
    obj = OBJECTIVES[cfg.method](cfg)
    G, D = build(obj)
    assert D is None
    image, mask = batch()
    from inpaintkit.models.classical import coarse_from_tensors

    given = coarse_from_tensors(image, mask, G.coarse_input)  # the data workers' job in training
    coarse, refined = obj.generate(G, image, mask, coarse=given)
    refined = refined + 0.1 * torch.randn_like(refined)  # the untrained residual is exactly 0
    loss, logs = obj.generator_loss(None, image, mask, (coarse, refined))
    diff = (refined - image) * mask
    torch.testing.assert_close(loss, diff.abs().mean() + 0.5 * diff.square().mean())
    assert float(logs["l2_refined"]) == pytest.approx(float(0.5 * diff.detach().square().mean()))
    assert set(logs) == {"l1_refined", "l2_refined", "g_loss"}


def test_lowfreq_objective_is_mean_log_mse_plus_the_priced_fine_band_change():
    import numpy as np

    from inpaintkit.metrics.realism import laplacian_levels
    from inpaintkit.models.classical import coarse_from_tensors

    cfg = load_config(CONFIGS / "default_lfnet.yaml", ["tiny=true", "size=64", "batch_size=2",
                                                      "objective_args.band_weight=3"])
    obj = OBJECTIVES[cfg.method](cfg)
    G, D = build(obj)
    assert D is None and G.coarse_input == "patchmatch+smooth+telea"
    image, mask = batch()
    given = coarse_from_tensors(image, mask, G.coarse_input)  # the data workers' job in training
    result, base = obj.generate(G, image, mask, coarse=given)
    assert torch.equal(result, base)  # untrained: exactly the PatchMatch fill
    assert torch.equal(base, composite(given[:, :3], image, mask))
    loss0, logs0 = obj.generator_loss(None, image, mask, (result, base))
    mse = [float((base[b] - image[b]).square().mean()) + 1e-6 for b in range(2)]
    assert float(loss0) == pytest.approx(np.mean(np.log(mse)), rel=1e-5)
    assert float(logs0["band"]) == 0.0

    moved = (result + 0.05 * torch.randn_like(result) * mask).detach()  # a change with fine bands
    loss, logs = obj.generator_loss(None, image, mask, (moved, base))
    want = 0.0
    for b in range(2):
        m = float((moved[b] - image[b]).square().mean()) + 1e-6
        bands = laplacian_levels((moved[b] - base[b]).permute(1, 2, 0).numpy(), 2)  # OpenCV's
        want += (np.log(m) + 3 * sum(float(np.mean(x**2)) for x in bands) / m) / 2
    assert float(loss) == pytest.approx(want, rel=0.02)
    assert float(logs["band"]) > 0 and set(logs) == {"log_mse", "band", "g_loss"}

    G.zero_grad()
    obj.generator_loss(None, image, mask, obj.generate(G, image, mask, coarse=given))[0].backward()
    assert float(G.out.weight.grad.abs().sum()) > 0  # the zero-initialised output learns first
