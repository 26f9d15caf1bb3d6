"""PIC-Net: Pluralistic Image Completion.

Zheng, Cham, Cai, "Pluralistic Image Completion", CVPR 2019 (arXiv:1903.04227); layout and
widths follow the official code, lyndonzheng/Pluralistic-Inpainting (model/network.py,
model/base_function.py, model/pluralistic_model.py).

M (B,1,H,W), 1 = hole. One encoder E (shared weights) and one generator G serve two paths:

* reconstructive: I_c = I * M (the hole content) -> E -> posterior head
  -> p = N(mu_p, sigma_p) over a spatial latent z (B, z_nc, H/2^L, W/2^L); z_c ~ p;
  G(z_c, f_m, f_e) rebuilds the image (training only: it needs the ground truth);
* generative: I_m = I * (1 - M) (hole zeroed) -> E -> ``infer_blocks`` residual blocks
  -> prior head -> q = N(mu_q, sigma_q); z_g ~ q; G(z_g, f_m, f_e) is one completion.

sigma = softplus(raw). The blocks are in :mod:`inpaintkit.layers.pic_blocks`. E: an
optimised first block and L-1 residual down blocks (average pooling; widths
ngf * min(2^i, img_f/ngf)), no normalisation, LeakyReLU(0.1), spectral norm everywhere.
G: a residual block lifts z to the width of f_m (the last encoder feature of I_m) and adds
f_m; L residual up blocks (transposed convs, instance norm) follow; the short
+long term attention (:mod:`inpaintkit.layers.short_long_attention`) sits after the second
one, with the I_m encoder feature f_e of the same resolution and M; each of the last
``output_scale`` blocks emits a tanh image (reflection pad + 3x3 conv) that is concatenated
to the features entering the next block. Outputs are coarse to fine (H/8 ... H for the
default 4 scales). Both paths run in one batch through E and G in ``forward``.

The training objective (``training/objectives/pic.py``, as the current official code):
KL_rec = KL(N(0, s(M)^2) || p) with s = :func:`reconstructive_prior_sigma`; KL_g =
KL(stopgrad(p) || q) (the older symmetric form is an option there), both x 20 x
output_scale; multi-scale L1 against :func:`scale_pyramid` (rec: whole image, gen: visible
part only) x 20; GAN terms with one discriminator per path
(:mod:`inpaintkit.models.pic_discriminator`).

Inference: ``inpaint`` / ``sample`` run the generative path only and never read the pixels
inside the hole. They run the network in eval mode (restoring the previous mode after) so
the spectral-norm power iteration does not update and a seed always gives the same result.

Compatibility settings (defaults keep our own behaviour; weights imported from the
official release, :mod:`inpaintkit.official.pic`, turn all of them on):

* ``spectral_norm_style="official"``: the official ``SpectralNorm`` wrapper's arithmetic
  (:class:`~inpaintkit.layers.pic_blocks.OfficialSpectralNorm`: W flattened along dim 0,
  v then u, one power-iteration step per forward from the stored vectors).
* ``sampling="official"``: the official test loop. For each of the k samples in turn
  z_i = mu + sigma * eps_i with eps_i ~ N(0, I) drawn as one (B, z_nc, h, w) tensor
  (``Normal(mu, sigma).sample()`` draws ``normal_`` into that shape, then * sigma + mu), and
  one generator pass per sample. The official wrapper advances (u, v) on every forward,
  in eval mode too, so after loading the encoder runs with 1 step and the generator's
  i-th pass (i = 1..k) with i steps; sample i here uses exactly that. Our default draws one
  (B, k, ...) tensor and runs the k samples as one batch. With the same seed on the same
  device (``torch.manual_seed(s)`` before the official loop, ``generator`` seeded with s
  here) the k samples are the official ones.
* ``mask_convention="known"``: the official code computes with the known-part mask
  K = 1 - M: the inputs are I_m = K * I and I_c = (1 - K) * I (a product, so a negative pixel
  in the hole becomes -0.0, which changes the conv rounding by ~1e-7 against zeroing it) and
  the attention resizes K (:class:`~inpaintkit.layers.short_long_attention.ShortLongAttention`).
  Non-finite input pixels are mapped to finite ones first, so the hole still never reaches
  the output; the input is made NCHW-contiguous, as the official ToTensor gives it.
  Default "hole": zero the hole (``masked_input``), resize M.
* ``down_pool="each"``: the encoder's down blocks pool each branch before adding them
  (official ``pool(model(x)) + pool(shortcut(x))``); "sum" pools the sum (equal up to ~1e-7).

The official test feeds I_m = K * (2 x - 1) (K = 1 - M, x in [0, 1]) and takes the last,
full-size output; ``inpaint`` takes (B,3,H,W) in [-1,1] and the hole mask and does the
same. H and W must be multiples of 2^layers (32).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.conventions import masked_input
from inpaintkit.layers.pic_blocks import FirstBlock, ResBlock, UpBlock, pic_widths, power_iterations, to_rgb
from inpaintkit.layers.short_long_attention import ShortLongAttention
from inpaintkit.models.base import InpaintModel

_ATTN_BLOCK = 1  # the attention follows decoder block 1 (official)


class Gaussian(NamedTuple):
    """A diagonal Gaussian over the spatial latent: mu, sigma (B, z_nc, h, w), sigma > 0."""

    mu: torch.Tensor
    sigma: torch.Tensor


class PICNetOutput(NamedTuple):
    """What :meth:`PICNet.forward` returns (both paths, everything the objective needs).

    rec, gen: multi-scale images (coarse to fine, last = full size), each (B,3,h,w) in [-1,1].
    posterior: p from the hole content; prior: q from the visible part.
    z_rec, z_gen: the samples that produced rec and gen. attention: the generative path's
    attention map (B,N,N) or None.
    """

    rec: tuple[torch.Tensor, ...]
    gen: tuple[torch.Tensor, ...]
    posterior: Gaussian
    prior: Gaussian
    z_rec: torch.Tensor
    z_gen: torch.Tensor
    attention: torch.Tensor | None


@dataclass(frozen=True)
class PICNetConfig:
    ngf: int = 32  # base width (official 32)
    img_f: int = 128  # widest feature map (official 128)
    z_nc: int = 128  # latent channels (official 128)
    layers: int = 5  # down/up-sampling steps: latent at H/2^layers (official 5)
    infer_blocks: int = 6  # residual blocks before the prior head (official E: L=6)
    transform_blocks: int = 0  # residual blocks after lifting z in G (official G: L=0)
    output_scale: int = 4  # number of output resolutions (official 4)
    use_attention: bool = True
    attention_reduction: int = 4  # query/key width C/4 (official)
    decoder_norm: str = "instance"  # "instance" | "none"
    spectral_norm: bool = True
    negative_slope: float = 0.1  # LeakyReLU slope (official 'LeakyReLU' = 0.1)
    # Compatibility with the official code (imported weights; module docstring):
    spectral_norm_style: str = "torch"  # "torch" | "official"
    sampling: str = "joint"  # "joint" | "official": one draw and one generator pass per sample
    mask_convention: str = "hole"  # "hole" | "known": mask arithmetic of the inputs and attention
    down_pool: str = "sum"  # "sum" | "each": pool a down block's sum, or each branch (official)

    def __post_init__(self) -> None:
        problems = []
        if self.ngf < 1 or self.img_f < self.ngf or self.z_nc < 1:
            problems.append(f"need 1 <= ngf <= img_f and z_nc >= 1 (ngf={self.ngf}, "
                            f"img_f={self.img_f}, z_nc={self.z_nc})")
        min_layers = _ATTN_BLOCK + 2 if self.use_attention else 1
        if self.layers < min_layers:
            problems.append(f"layers must be >= {min_layers}, got {self.layers}")
        if not 1 <= self.output_scale <= self.layers:
            problems.append(f"output_scale must be in [1, layers], got {self.output_scale}")
        if self.infer_blocks < 0 or self.transform_blocks < 0:
            problems.append("infer_blocks and transform_blocks must be >= 0")
        if self.decoder_norm not in ("instance", "none"):
            problems.append(f"decoder_norm must be 'instance' or 'none', got {self.decoder_norm!r}")
        choices = {"spectral_norm_style": ("torch", "official"), "sampling": ("joint", "official"),
                   "mask_convention": ("hole", "known"), "down_pool": ("sum", "each")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if problems:
            raise ValueError("PICNetConfig: " + "; ".join(problems))

    @property
    def sn(self) -> bool | str:
        """The spectral-norm argument of the blocks: False, True or "official"."""
        return "official" if self.spectral_norm and self.spectral_norm_style == "official" else self.spectral_norm


# --- encoder and generator (blocks: :mod:`inpaintkit.layers.pic_blocks`) -------------

class _Encoder(nn.Module):
    def __init__(self, cfg: PICNetConfig) -> None:
        super().__init__()
        s, sn = cfg.negative_slope, cfg.sn
        w = pic_widths(cfg.ngf, cfg.img_f, cfg.layers)
        self.widths = w
        blocks: list[nn.Module] = [FirstBlock(3, w[0], s, sn)]
        blocks += [ResBlock(w[i - 1], w[i], w[i - 1], s, sn, down=True, pool_each=cfg.down_pool == "each")
                   for i in range(1, cfg.layers)]
        self.blocks = nn.ModuleList(blocks)
        top = w[-1]
        self.infer = nn.Sequential(*[ResBlock(top, top, top, s, sn)
                                     for _ in range(cfg.infer_blocks)])
        self.prior_head = ResBlock(top, 2 * cfg.z_nc, top, s, sn)
        self.posterior_head = ResBlock(top, 2 * cfg.z_nc, top, s, sn)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """f[i] at H/2^(i+1), i < layers."""
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats

    @staticmethod
    def _gaussian(raw: torch.Tensor) -> Gaussian:
        mu, sigma = raw.chunk(2, dim=1)
        return Gaussian(mu, F.softplus(sigma))

    def prior(self, top: torch.Tensor) -> Gaussian:
        return self._gaussian(self.prior_head(self.infer(top)))

    def posterior(self, top: torch.Tensor) -> Gaussian:
        return self._gaussian(self.posterior_head(top))


class _Generator(nn.Module):
    def __init__(self, cfg: PICNetConfig, encoder_widths: list[int]) -> None:
        super().__init__()
        s, sn, n = cfg.negative_slope, cfg.sn, cfg.layers
        start = encoder_widths[-1]
        self.lift = ResBlock(cfg.z_nc, start, start, s, sn)
        self.transform = nn.Sequential(*[ResBlock(start, start, start, s, sn)
                                         for _ in range(cfg.transform_blocks)])
        out_w = pic_widths(cfg.ngf, cfg.img_f, n)[::-1]  # decoder block i -> H/2^(n-1-i)
        self.first_out = n - cfg.output_scale
        norm = cfg.decoder_norm == "instance"
        blocks, heads, prev = [], {}, start
        for i in range(n):
            extra = 3 if i > self.first_out else 0
            blocks.append(UpBlock(prev + extra, out_w[i], s, sn, norm))
            if i >= self.first_out:
                heads[str(i)] = to_rgb(out_w[i], s, sn)
            prev = out_w[i]
        self.blocks = nn.ModuleList(blocks)
        self.heads = nn.ModuleDict(heads)
        # Encoder feature with the resolution of decoder block _ATTN_BLOCK's output.
        self.encoder_index = n - 2 - _ATTN_BLOCK
        self.attention = (
            ShortLongAttention(out_w[_ATTN_BLOCK], encoder_widths[self.encoder_index],
                               reduction=cfg.attention_reduction, spectral_norm=sn,
                               known_mask=cfg.mask_convention == "known")
            if cfg.use_attention else None
        )

    def forward(self, z: torch.Tensor, f_m: torch.Tensor, f_e: torch.Tensor,
                hole: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
        out = self.transform(self.lift(z)) + f_m
        images, attn = [], None
        for i, block in enumerate(self.blocks):
            out = block(out)
            if i == _ATTN_BLOCK and self.attention is not None:
                out, attn = self.attention(out, f_e, hole)
            if str(i) in self.heads:
                image = self.heads[str(i)](out)
                images.append(image)
                out = torch.cat([out, image], dim=1)
        return tuple(images), attn


# --- the model ---------------------------------------------------------------------

def _randn(shape: tuple[int, ...], generator: torch.Generator | None,
           like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise drawn on the generator's device, then moved to ``like``'s."""
    device = generator.device if generator is not None else like.device
    eps = torch.randn(shape, generator=generator, device=device, dtype=like.dtype)
    return eps.to(like.device)


@contextlib.contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class PICNet(InpaintModel):
    """PIC-Net generator (encoder + generator, both paths); see the module docstring."""

    config_class = PICNetConfig
    tiny = {"ngf": 8, "img_f": 32, "z_nc": 16, "infer_blocks": 1}
    pluralistic = True

    def __init__(self, config: PICNetConfig | None = None) -> None:
        super().__init__(PICNetConfig() if config is None else config)
        self.encoder = _Encoder(self.config)
        self.generator = _Generator(self.config, self.encoder.widths)

    @property
    def multiple(self) -> int:
        return 2**self.config.layers

    def _check(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Validate shapes; return the hole mask as a {0,1} float tensor."""
        if image.ndim != 4 or image.shape[1] != 3 or mask.ndim != 4 or mask.shape[1] != 1:
            raise ValueError(f"PICNet: expected image (B,3,H,W) and mask (B,1,H,W), got "
                             f"{tuple(image.shape)} and {tuple(mask.shape)}")
        if mask.shape[0] != image.shape[0] or mask.shape[-2:] != image.shape[-2:]:
            raise ValueError(f"PICNet: mask {tuple(mask.shape)} does not match image "
                             f"{tuple(image.shape)}")
        h, w = image.shape[-2:]
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"PICNet: H and W must be multiples of {self.multiple}, got {h}x{w}")
        return (mask > 0.5).to(image.dtype)

    def _inputs(self, image: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(I_m, I_c): the visible part (hole zeroed) and the hole content."""
        if self.config.mask_convention == "known":
            # nan_to_num: the identity on finite pixels. contiguous: the official ToTensor
            # input is NCHW-contiguous; a channels-last one (image_to_tensor of an HWC array)
            # takes another conv kernel that rounds ~1e-7 differently.
            finite = torch.nan_to_num(image).contiguous()
            return (1.0 - hole) * finite, hole * finite
        return masked_input(image, hole), torch.where(hole > 0.5, image, torch.zeros_like(image))

    def forward(self, image: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator | None = None) -> PICNetOutput:
        """Both paths in one batch: (B,3,H,W), (B,1,H,W) -> :class:`PICNetOutput`."""
        hole = self._check(image, mask)
        b = image.shape[0]
        visible, missing = self._inputs(image, hole)
        feats = self.encoder.features(torch.cat([visible, missing]))
        f_m = feats[-1][:b]
        f_e = feats[self.generator.encoder_index][:b]
        posterior = self.encoder.posterior(feats[-1][b:])
        prior = self.encoder.prior(f_m)
        eps = _randn((2 * b, *prior.mu.shape[1:]), generator, prior.mu)
        z_rec = posterior.mu + posterior.sigma * eps[:b]  # reparameterised
        z_gen = prior.mu + prior.sigma * eps[b:]
        images, attn = self.generator(
            torch.cat([z_rec, z_gen]), f_m.repeat(2, 1, 1, 1), f_e.repeat(2, 1, 1, 1),
            hole.repeat(2, 1, 1, 1),
        )
        return PICNetOutput(
            rec=tuple(x[:b] for x in images), gen=tuple(x[b:] for x in images),
            posterior=posterior, prior=prior, z_rec=z_rec, z_gen=z_gen,
            attention=None if attn is None else attn[b:],
        )

    def sample(self, image: torch.Tensor, mask: torch.Tensor, k: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """k completions per image from the generative path: (B,k,3,H,W) in [-1,1].

        Noise is drawn as one (B,k,...) tensor, so ``sample(..., 1, g)`` equals
        ``inpaint(..., g)`` for the same seed.
        """
        if k < 1:
            raise ValueError(f"PICNet.sample: k must be >= 1, got {k}")
        hole = self._check(image, mask)
        b = image.shape[0]
        with _eval_mode(self):
            feats = self.encoder.features(self._inputs(image, hole)[0])
            prior = self.encoder.prior(feats[-1])
            if self.config.sampling == "official":
                return self._official_samples(prior, feats, hole, k, generator)
            eps = _randn((b, k, *prior.mu.shape[1:]), generator, prior.mu)
            z = (prior.mu.unsqueeze(1) + prior.sigma.unsqueeze(1) * eps).flatten(0, 1)

            def rep(t: torch.Tensor) -> torch.Tensor:
                return t.repeat_interleave(k, dim=0)

            images, _ = self.generator(z, rep(feats[-1]),
                                       rep(feats[self.generator.encoder_index]), rep(hole))
        return images[-1].unflatten(0, (b, k))

    def _official_samples(self, prior: Gaussian, feats: list[torch.Tensor], hole: torch.Tensor,
                          k: int, generator: torch.Generator | None) -> torch.Tensor:
        """The official test loop: per sample one (B, z_nc, h, w) draw and one generator pass,
        the i-th pass with i spectral-norm steps (module docstring)."""
        outs = []
        for i in range(k):
            eps = _randn(tuple(prior.mu.shape), generator, prior.mu)
            z = eps * prior.sigma + prior.mu  # torch.normal(mu, sigma): normal_ then mul_ and add_
            with power_iterations(self.generator, i + 1):
                images, _ = self.generator(z, feats[-1], feats[self.generator.encoder_index], hole)
            outs.append(images[-1])
        return torch.stack(outs, dim=1)

    def inpaint(self, image: torch.Tensor, mask: torch.Tensor,
                generator: torch.Generator | None = None, *,
                coarse: torch.Tensor | None = None, sketch: torch.Tensor | None = None) -> torch.Tensor:
        """One generative-path sample at full resolution, (B,3,H,W) in [-1,1]."""
        self.check_extra_inputs(image, coarse, sketch)
        return self.sample(image, mask, 1, generator)[:, 0]


# --- training helpers ----------------------------------------------------------------

def reconstructive_prior_sigma(mask: torch.Tensor) -> torch.Tensor:
    """Std of the reconstructive path's prior N(0, s^2), which narrows as the hole shrinks.

    s = 1 / (1 + exp(8 (v - 0.8))), v = visible fraction (official ``get_distribution``;
    the paper's sigma(n)). mask (B,1,H,W), 1 = hole -> (B,1,1,1).
    """
    visible = 1.0 - (mask > 0.5).flatten(1).float().mean(dim=1) - 1e-5
    return torch.sigmoid(-8.0 * (visible - 0.8)).view(-1, 1, 1, 1)


def scale_pyramid(x: torch.Tensor, num_scales: int) -> list[torch.Tensor]:
    """Targets matching PICNet's outputs: sizes H/2^(n-1) ... H, bilinear (align_corners,
    as the official code); the last entry is ``x`` itself."""
    h, w = x.shape[-2:]
    out = [x]
    for i in range(1, num_scales):
        size = (h // 2**i, w // 2**i)
        out.append(F.interpolate(x, size=size, mode="bilinear", align_corners=True))
    return out[::-1]


__all__ = [
    "Gaussian", "PICNet", "PICNetConfig", "PICNetOutput", "reconstructive_prior_sigma", "scale_pyramid",
]
