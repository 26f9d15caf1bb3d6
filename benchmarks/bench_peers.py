"""Speed of inpaintkit's seed models against their official implementations, side by side.

Three peers, each at the official architecture on both sides (the parameter counts are
printed and compared; a row whose counts differ is marked "architecture differs"):

* DeepFill v2 (Yu et al., ICCV 2019), official PyTorch port nipponjo/deepfillv2-pytorch,
  ``model/networks.py``: ``Generator(cnum_in=5, cnum=48)`` + ``Discriminator(4, 64)``;
  ours ``deepfill_v2`` with ``refine_sees_mask=False`` (the official channel plan) +
  ``sn_patchgan``.
* RN (Yu et al., AAAI 2020), geekyutao/RN, ``networks.py``: ``G_Net(3, 8, threshold=0.8)``
  (RN-B in the encoder, RN-L after it) + ``D_Net(3, use_sigmoid=True)``; ours ``rn_inpaint``
  with ``mask_input=False`` (the default also feeds the mask as a 4th input channel:
  3,136 more weights) + ``edge_patchgan``.
* PIC-Net (Zheng et al., CVPR 2019), lyndonzheng/Pluralistic-Inpainting,
  ``model/network.py``: ``define_e``/``define_g``/``define_d`` with the widths of
  ``model/pluralistic_model.py`` (E, G, two ResDiscriminators); ours ``pic_net`` (default)
  + two ``pic_patchgan``.

The official code is imported at run time from local checkouts (``--deepfill``, ``--rn``,
``--pic``: the repository roots); nothing of it is copied here. A peer without a path, or
whose modules fail to import (e.g. a package they import is missing), is skipped with a
one-line reason; nothing is stubbed. Official modules are built on CPU (``gpu_ids=[]``).

Columns: forward latency (batch 1, ``torch.no_grad``, eval mode) at each ``--sizes``; one
training step (batch 4, 256 px): generator forward, discriminator loss + backward + Adam
step, generator loss + backward + Adam step; GFLOP/s of the forward at the first size for
both sides, from one FLOP count (ours, :func:`inpaintkit.models.summary.summarize`: the
architectures are the same) divided by each side's time; and a 2048x2048 fp32 matmul's
GFLOP/s from the same run, as the machine's reference. Ratio = official / ours (> 1: ours is
faster). Timing: one warm-up call per side, then ``--repeats`` rounds, each timing the
official call and then ours (same machine state for both); the fastest round counts.

Forward, what each side runs: ours ``model.inpaint(image, mask)``; official, its own test
path with plain torch ops around the modules: DeepFill v2 ``Generator.infer`` without the
image conversion ([masked image, ones, ones * mask] -> stage 2 -> composite); RN
``G_Net(x, mask)`` -> composite; PIC ``Pluralistic.test`` for one sample (E on the visible
part, z from the prior, G, composite; its discriminator score of the sample is not run,
as ours does not score a single sample).

Training losses, identical terms on both sides (ours: the project's objective classes in
``inpaintkit.training.objectives``, stepped as ``training/loop.py`` does, without AMP,
clipping or EMA; official: rebuilt here with plain torch ops from the official training
scripts, which are not imported since they need TensorBoard / torchvision / data loaders):

* DeepFill v2 (``train.py``): G: L1(coarse) + L1(refined) over the whole image + hinge GAN
  on [completed image, mask]; D: hinge loss on real and completed images (official: the two
  halves in one concatenated D call and a 0.5 factor on each hinge term; ours: two calls,
  no factor). Adam(0.5, 0.999), lr 1e-4 for both.
* RN (``main.py``): G: L1(composite) / mean(mask) + 0.1 * non-saturating GAN on the raw
  output; D: (BCE(D(x), 1) + BCE(D(y), 0)) / 2 (official: sigmoid + ``nn.BCELoss``; ours:
  BCE-with-logits, the same function). Adam(0, 0.9), lr 1e-4 (G) and 1e-5 (D). Neither side
  has EdgeConnect's perceptual / style terms (ours: no ``vgg_weights``).
* PIC-Net (``pluralistic_model.py``, ``train_paths="two"``, ``output_scale=4``): G:
  20 * 4 * (mean KL_rec + mean KL_g) + 20 * (multi-scale L1 of the rec path + of the gen
  path on the visible part) + LSGAN(D_g(gen)) + mean (D_r(rec) - D_r(x))^2; D: LSGAN for
  both discriminators. Adam(0, 0.999), lr 1e-4. Both sides freeze the discriminators
  (``requires_grad=False``) for the generator's backward (ours as ``training/loop.py``
  does), so neither computes D weight gradients that the next D step would discard.
  The official bilinear pyramid (``util/task.py``, which imports torchvision and cv2) is
  rewritten here as the same ``F.interpolate(..., align_corners=True)`` call.

``--onnx``: our forward once more through ONNX Runtime, the CPU inference path a user gets
with ``inpaintkit export`` and ``--model file.onnx`` (the same architecture and weights,
exported once per size before timing; the export verifies it against PyTorch, max abs diff
printed; PIC-Net's noise is ONNX Runtime's own there). It adds one column per size, ratio
official (PyTorch) / ours (ONNX Runtime).

Usage (``--quick``: 128 px, batch 1, one repeat, a smoke test; 128 as the official PIC
discriminator's unpadded last 3x3 conv needs at least 4x4 features, i.e. 128 px input)::

    python benchmarks/bench_peers.py --deepfill /tmp/peers/deepfill --rn /tmp/peers/rn \
        --pic /tmp/peers/pic [--threads 2] [--repeats 3] [--sizes 256 512] [--only rn]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from inpaintkit.errors import InpaintError
from inpaintkit.models.summary import probe_inputs, summarize
from inpaintkit.training.config import TrainConfig
from inpaintkit.training.objectives import OBJECTIVES

Step = Callable[[torch.Tensor, torch.Tensor], Any]


@dataclass
class Side:
    """One implementation: its networks (for the counts) and the two timed calls."""

    generator: nn.Module  # all generator modules (PIC: E and G)
    discriminator: nn.Module
    forward: Step  # (image, hole mask) -> completion; called under no_grad
    train_step: Step
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer]  # (G, D), for the counts
    model: nn.Module | None = None  # ours: the InpaintModel, for the FLOP count


@contextlib.contextmanager
def official_import(root: Path) -> Iterator[None]:
    """Import from ``root`` without leaking its top-level modules (two checkouts both have
    a ``model`` package) and without their print-outs."""
    root = root.resolve()
    before = set(sys.modules)
    sys.path.insert(0, str(root))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.path.remove(str(root))
        for name in set(sys.modules) - before:
            # only the checkout's own modules: numpy & co. stay loaded
            if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(root)):
                del sys.modules[name]


def _ours(method: str, model: str, discriminator: str, model_args: dict | None = None,
          disc_args: dict | None = None, lr_d: float = 1e-4,
          betas: tuple[float, float] = (0.5, 0.999)) -> Side:
    cfg = TrainConfig(method=method, model=model, model_args=model_args or {},
                      discriminator=discriminator, disc_args=disc_args or {}, lr_d=lr_d,
                      betas_g=betas, betas_d=betas)
    objective = OBJECTIVES[method](cfg)
    g, d = objective.build_generator(), objective.build_discriminator()
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=lr_d, betas=betas)

    def step(image: torch.Tensor, mask: torch.Tensor) -> None:
        out = objective.generate(g, image, mask)
        d_loss, _ = objective.discriminator_loss(d, image, mask, out)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        frozen = [p for p in d.parameters() if p.requires_grad]
        for p in frozen:  # as training/loop.py: no weight gradients for the stepped D
            p.requires_grad_(False)
        g_loss, _ = objective.generator_loss(d, image, mask, out)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        for p in frozen:
            p.requires_grad_(True)
        opt_g.step()

    return Side(g, d, lambda image, mask: g.inpaint(image, mask), step, (opt_g, opt_d), model=g)


def ours_deepfill() -> Side:
    return _ours("deepfill", "deepfill_v2", "sn_patchgan", {"refine_sees_mask": False})


def ours_rn() -> Side:
    # The official G sees the 3-channel image with the hole set to 1, no mask channel.
    return _ours("rn", "rn_inpaint", "edge_patchgan", {"mask_input": False}, lr_d=1e-5,
                 betas=(0.0, 0.9))


def ours_pic() -> Side:
    return _ours("pic", "pic_net", "pic_patchgan", betas=(0.0, 0.999))


# our side of each comparison, by short name (also used by profile_step.py and bench_amp.py)
OURS: dict[str, Callable[[], Side]] = {"deepfill": ours_deepfill, "rn": ours_rn, "pic": ours_pic}


def official_deepfill(root: Path) -> Side:
    with official_import(root):
        networks = importlib.import_module("model.networks")
        g = networks.Generator(cnum_in=5, cnum_out=3, cnum=48, return_flow=False)
        d = networks.Discriminator(cnum_in=4, cnum=64)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4, betas=(0.5, 0.999))

    def inputs(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        incomplete = image * (1.0 - mask)
        ones = torch.ones_like(mask)
        return incomplete, torch.cat([incomplete, ones, ones * mask], dim=1)

    def forward(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        incomplete, x = inputs(image, mask)
        return g(x, mask)[1] * mask + incomplete

    def step(image: torch.Tensor, mask: torch.Tensor) -> None:
        incomplete, x = inputs(image, mask)
        x1, x2 = g(x, mask)
        complete = x2 * mask + incomplete * (1.0 - mask)
        both = torch.cat([torch.cat([image, mask], 1), torch.cat([complete.detach(), mask], 1)])
        d_real, d_fake = torch.split(d(both), image.shape[0])
        d_loss = 0.5 * torch.relu(1 - d_real).mean() + 0.5 * torch.relu(1 + d_fake).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        ae = (image - x1).abs().mean() + (image - x2).abs().mean()
        g_loss = -d(torch.cat([complete, mask], 1)).mean() + ae
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    return Side(g, d, forward, step, (opt_g, opt_d))


@contextlib.contextmanager
def _unused_torchvision() -> Iterator[None]:
    """The official RN's ``networks.py`` starts with ``from torchvision.transforms import *``
    and uses none of it; torchvision does not import with this machine's torch wheel. With
    ``--rn-without-torchvision`` an empty ``torchvision.transforms`` stands in for that one
    import (only when torchvision itself is absent) and is removed right after; any use of
    it would fail loudly."""
    if importlib.util.find_spec("torchvision") is not None:
        yield
        return
    import types

    pkg, sub = types.ModuleType("torchvision"), types.ModuleType("torchvision.transforms")
    sub.__all__ = []
    pkg.transforms = sub
    sys.modules.update({"torchvision": pkg, "torchvision.transforms": sub})
    try:
        yield
    finally:
        del sys.modules["torchvision"], sys.modules["torchvision.transforms"]


RN_WITHOUT_TORCHVISION = False  # set by --rn-without-torchvision


def official_rn(root: Path) -> Side:
    stand_in = _unused_torchvision() if RN_WITHOUT_TORCHVISION else contextlib.nullcontext()
    with official_import(root), stand_in:
        networks = importlib.import_module("networks")
        g = networks.G_Net(input_channels=3, residual_blocks=8, threshold=0.8)
        d = networks.D_Net(in_channels=3, use_sigmoid=True)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-5, betas=(0.0, 0.9))
    bce = nn.BCELoss()

    def forward(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        gt = (image + 1) / 2  # the official works in [0, 1]
        return g(gt, mask) * mask + gt * (1 - mask)

    def step(image: torch.Tensor, mask: torch.Tensor) -> None:
        gt = (image + 1) / 2
        prediction = g(gt, mask)
        merged = prediction * mask + gt * (1 - mask)
        d_real, _ = d(gt)
        d_fake, _ = d(prediction.detach())
        d_loss = (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))) / 2
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_fake, _ = d(prediction)
        g_loss = 0.1 * bce(g_fake, torch.ones_like(g_fake)) + F.l1_loss(merged, gt) / mask.mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    return Side(g, d, forward, step, (opt_g, opt_d))


def _pyramid(x: torch.Tensor, scales: int) -> list[torch.Tensor]:
    """The official ``task.scale_pyramid``: coarse to fine, bilinear, align_corners."""
    h, w = x.shape[-2:]
    out = [x] + [F.interpolate(x, size=[h // 2**i, w // 2**i], mode="bilinear", align_corners=True)
                 for i in range(1, scales)]
    return out[::-1]


def official_pic(root: Path) -> Side:
    with official_import(root):
        network = importlib.import_module("model.network")
        e = network.define_e(ngf=32, z_nc=128, img_f=128, layers=5, norm="none",
                             activation="LeakyReLU", init_type="orthogonal", gpu_ids=[])
        g = network.define_g(ngf=32, z_nc=128, img_f=128, L=0, layers=5, output_scale=4,
                             norm="instance", activation="LeakyReLU", init_type="orthogonal",
                             gpu_ids=[])
        d_g, d_rec = (network.define_d(ndf=32, img_f=128, layers=5, model_type="ResDis",
                                       init_type="orthogonal", gpu_ids=[]) for _ in range(2))
    gen, disc = nn.ModuleList([e, g]), nn.ModuleList([d_g, d_rec])
    # As the official: only what requires grad at construction, which leaves out the
    # spectral norm's power-iteration vectors (nn.Parameter, requires_grad=False).
    opt_g = torch.optim.Adam([p for p in gen.parameters() if p.requires_grad], lr=1e-4, betas=(0.0, 0.999))
    opt_d = torch.optim.Adam([p for p in disc.parameters() if p.requires_grad], lr=1e-4, betas=(0.0, 0.999))
    lam_rec, lam_kl, lam_g, scales = 20.0, 20.0, 1.0, 4

    def visible(mask: torch.Tensor) -> torch.Tensor:
        return (1 - mask).expand(-1, 3, -1, -1)  # official masks: 1 = visible, 3 channels

    def forward(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = visible(mask)
        img_m = m * image
        distribution, f = e(img_m)
        q = Normal(distribution[-1][0], distribution[-1][1])
        scale_mask = F.interpolate(m, size=list(f[2].shape[2:]), mode="bilinear", align_corners=True)
        img_g, _ = g(q.sample(), f_m=f[-1], f_e=f[2], mask=scale_mask.chunk(3, dim=1)[0])
        return (1 - m) * img_g[-1] + m * img_m

    def set_d_grad(flag: bool) -> None:
        for p in disc.parameters():
            p.requires_grad_(flag)

    def step(image: torch.Tensor, mask: torch.Tensor) -> None:
        m = visible(mask)
        img_m, img_c = m * image, (1 - m) * image
        scale_img, scale_mask = _pyramid(image, scales), _pyramid(m, scales)
        distributions, f = e(img_m, img_c)
        # get_distribution
        valid = (m.reshape(m.shape[0], -1).mean(1) - 1e-5).view(-1, 1, 1, 1)
        m_sigma = 1 / (1 + ((valid - 0.8) * 8).exp())
        kl_rec = kl_g = 0
        for p_mu, p_sigma, q_mu, q_sigma in distributions:
            prior = Normal(torch.zeros_like(p_mu), m_sigma * torch.ones_like(p_sigma))
            post, post_fix = Normal(p_mu, p_sigma), Normal(p_mu.detach(), p_sigma.detach())
            cond = Normal(q_mu, q_sigma)
            kl_rec = kl_rec + kl_divergence(prior, post)
            kl_g = kl_g + kl_divergence(post_fix, cond)
        # get_G_inputs
        f_m = torch.cat([f[-1].chunk(2)[0]] * 2)
        f_e = torch.cat([f[2].chunk(2)[0]] * 2)
        small = F.interpolate(m, size=list(f_e.shape[2:]), mode="bilinear", align_corners=True)
        z = torch.cat([post.rsample(), cond.rsample()])
        results, _ = g(z, f_m, f_e, torch.cat([small.chunk(3, dim=1)[0]] * 2))
        img_rec = [r.chunk(2)[0] for r in results]
        img_g = [r.chunk(2)[1] for r in results]
        # backward_D: each discriminator's loss backpropagated on its own
        set_d_grad(True)
        opt_d.zero_grad()
        for net, fake in ((d_g, img_g[-1]), (d_rec, img_rec[-1])):
            real_s, fake_s = net(image), net(fake.detach())
            d_loss = 0.5 * (F.mse_loss(real_s, torch.ones_like(real_s))
                            + F.mse_loss(fake_s, torch.zeros_like(fake_s)))
            d_loss.backward()
        opt_d.step()
        # backward_G, discriminators frozen
        set_d_grad(False)
        ad_fake = d_g(img_g[-1])
        ad_g = F.mse_loss(ad_fake, torch.ones_like(ad_fake)) * lam_g
        ad_rec = F.mse_loss(d_rec(img_rec[-1]), d_rec(image)) * lam_g
        app_rec = sum(F.l1_loss(r, t) for r, t in zip(img_rec, scale_img, strict=True))
        app_g = sum(F.l1_loss(x * v, t * v) for x, t, v in zip(img_g, scale_img, scale_mask, strict=True))
        total = (kl_rec.mean() * lam_kl * scales + kl_g.mean() * lam_kl * scales
                 + app_rec * lam_rec + app_g * lam_rec + ad_g + ad_rec)
        opt_g.zero_grad()
        total.backward()
        opt_g.step()
        set_d_grad(True)

    return Side(gen, disc, forward, step, (opt_g, opt_d))


PEERS: dict[str, tuple[str, Callable[[Path], Side], Callable[[], Side]]] = {
    "deepfill": ("DeepFill v2", official_deepfill, ours_deepfill),
    "rn": ("RN", official_rn, ours_rn),
    "pic": ("PIC-Net", official_pic, ours_pic),
}


def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def race(official: Callable[[], Any], ours: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Fastest of ``repeats`` alternating rounds, after one warm-up call each."""
    official(), ours()
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        best[0] = min(best[0], _seconds(official))
        best[1] = min(best[1], _seconds(ours))
    return best[0], best[1]


def matmul_gflops(repeats: int, n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    return 2 * n**3 / min(_seconds(lambda: a @ b) for _ in range(max(repeats, 3))) / 1e9


def _count(optimizer: torch.optim.Optimizer) -> int:
    """Trained parameters: those the optimiser steps that the training step gave a
    gradient. Not counted: the official PIC discriminator's attention weights that its
    forward never uses, and the official PIC spectral norm's power-iteration vectors
    (``nn.Parameter`` outside the optimisers; ours and torch's keep them as buffers)."""
    return sum(p.numel() for group in optimizer.param_groups for p in group["params"]
               if p.grad is not None)


def bench(key: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    title, build_official, build_ours = PEERS[key]
    torch.manual_seed(0)
    theirs, ours = build_official(root), build_ours()
    row: dict[str, Any] = {"title": title}
    theirs.generator.eval(), ours.generator.eval()
    for size in args.sizes:
        image, mask = probe_inputs(size, 8)
        with torch.no_grad():
            row[f"fwd{size}"] = race(lambda i=image, m=mask: theirs.forward(i, m),
                                     lambda i=image, m=mask: ours.forward(i, m), args.repeats)
        if args.onnx:
            try:
                ort, diff = _onnx_forward(ours.model, size, args.threads)
            except InpaintError as exc:  # the export's own check refused it: say why
                row[f"ort{size}"], diff = None, str(exc)
            else:
                row[f"ort{size}"] = race(lambda i=image, m=mask: theirs.forward(i, m),
                                         lambda i=image, m=mask, f=ort: f(i, m), args.repeats)
            row.setdefault("ort_diff", {})[size] = diff
    row["gflop"] = summarize(ours.model, args.sizes[0])["gflops"]
    theirs.generator.train(), ours.generator.train()
    theirs.discriminator.train(), ours.discriminator.train()
    image, mask = probe_inputs(args.train_size, 8, args.train_batch)
    row["train"] = race(lambda: theirs.train_step(image, mask),
                        lambda: ours.train_step(image, mask), args.repeats)
    row["params"] = [tuple(_count(opt) for opt in s.optimizers) for s in (theirs, ours)]
    return row


def _onnx_forward(model: torch.nn.Module, size: int, threads: int
                  ) -> tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], float | None]:
    """``model.inpaint`` exported to ONNX at ``size`` and run by ONNX Runtime with
    ``threads`` threads; also the export's verified max abs diff against PyTorch."""
    import tempfile

    from inpaintkit.inference.export import export_onnx
    from inpaintkit.inference.onnx_model import OnnxInpaintModel

    # The session holds the graph once built, so the exported file need not outlive it.
    with tempfile.TemporaryDirectory(prefix="bench_peers_onnx_") as folder:
        result = export_onnx(model, Path(folder) / f"model_{size}.onnx", size=size)
        runner = OnnxInpaintModel(result.path, threads=threads)
    return runner.inpaint, result.max_abs_diff


def _cell(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.3f} s / {pair[1]:.3f} s ({pair[0] / pair[1]:.2f}x)"


def table(rows: list[dict[str, Any]], args: argparse.Namespace, peak: float) -> str:
    s0 = args.sizes[0]
    head = (["model"] + [f"forward {s}" for s in args.sizes]
            + ([f"forward {s}, ours in ONNX Runtime" for s in args.sizes] if args.onnx else [])
            + [f"train step (batch {args.train_batch}, {args.train_size})", f"GFLOP/s at {s0}"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for r in rows:
        same = r["params"][0] == r["params"][1]
        name = r["title"] + ": official / inpaintkit" + ("" if same else " (architecture differs)")
        rates = [r["gflop"] / t for t in r[f"fwd{s0}"]]
        cells = [name] + [_cell(r[f"fwd{s}"]) for s in args.sizes]
        cells += [_cell(r[f"ort{s}"]) if r[f"ort{s}"] else "not exported (see below)"
                  for s in args.sizes] if args.onnx else []
        cells += [_cell(r["train"])]
        cells.append(f"{rates[0]:.0f} / {rates[1]:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
        (tg, td), (og, od) = r["params"]
        notes.append(f"{r['title']}: parameters official / inpaintkit: generator {tg:,} / {og:,}, "
                     f"discriminator(s) {td:,} / {od:,} (trained ones); "
                     f"forward at {s0}: {r['gflop']:.1f} GFLOP")
        if args.onnx:
            diffs = ", ".join(f"{k} px: " + ("sampled (not compared)" if v is None else
                                             v if isinstance(v, str) else f"{v:.1e}")
                              for k, v in r["ort_diff"].items())
            notes.append(f"{r['title']}: ONNX export max abs diff against PyTorch: {diffs}")
    lines.append("")
    lines.append(f"Ratio = official / inpaintkit (> 1: inpaintkit faster); fastest of {args.repeats} "
                 f"alternating rounds; {torch.get_num_threads()} threads; 2048x2048 fp32 matmul "
                 f"in the same run: {peak:.0f} GFLOP/s.")
    lines += notes
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for key in PEERS:
        p.add_argument(f"--{key}", type=Path, default=None, help=f"checkout root of the official {key}")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--only", choices=sorted(PEERS), default=None)
    p.add_argument("--quick", action="store_true", help="smoke test: 128 px, batch 1, one repeat")
    p.add_argument("--onnx", action="store_true", help="also time our forward in ONNX Runtime")
    p.add_argument("--rn-without-torchvision", action="store_true",
                   help="import the official RN with an empty stand-in for its unused torchvision import")
    args = p.parse_args(argv)
    global RN_WITHOUT_TORCHVISION
    RN_WITHOUT_TORCHVISION = args.rn_without_torchvision
    args.train_batch, args.train_size = 4, 256
    if args.quick:
        args.sizes, args.train_batch, args.train_size, args.repeats = [128], 1, 128, 1
    torch.set_num_threads(args.threads)

    rows = []
    for key in [args.only] if args.only else list(PEERS):
        root = getattr(args, key)
        if root is None or not root.is_dir():
            print(f"skip {key}: no checkout at {root}" if root else f"skip {key}: no --{key} PATH given")
            continue
        try:
            rows.append(bench(key, root, args))
        except ImportError as exc:  # an optional package the official code imports
            print(f"skip {key}: the official code does not import: {type(exc).__name__}: {exc}")
        print(f"  done {key}", file=sys.stderr)
    if not rows:
        print("nothing to compare")
        return 1
    print(table(rows, args, matmul_gflops(args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
