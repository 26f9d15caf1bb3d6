"""Frechet Inception Distance (Heusel et al., "GANs trained by a two time-scale update rule
converge to a local Nash equilibrium", NeurIPS 2017).

FID between two image sets is the Frechet (2-Wasserstein) distance between Gaussians fitted
to their Inception-v3 pool features (2048-d, the global average pool before the classifier):

    FID = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})

The network is the "FID Inception" of TensorFlow's reference implementation, as ported by
pytorch-fid (mseitzer/pytorch-fid): torchvision's Inception-v3 layout with three
differences, all reproduced here -- the 3x3 average pools inside the A, C and E blocks do
not count padded zeros (``count_include_pad=False``), and the last E block (Mixed_7c) pools
its branch with a 3x3 *max* pool. Inputs are resized to 299x299 bilinearly
(``align_corners=False``, no antialias) and fed in [-1, 1], like pytorch-fid.

No weights are downloaded: :func:`load_fid_inception` reads a local state dict (safetensors
or a ``torch.load(weights_only=True)`` .pth) with torchvision's parameter names, e.g.
pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``; ``fc.*`` / ``AuxLogits.*`` entries
are ignored. The channel width is read from the file, so tests use tiny random networks of
the same topology (``FIDInceptionV3(width=1/16)``).

Shapes: images (B,3,H,W) float in [-1,1] (or uint8 0..255); features (N, D) float64 with
D = 2048 at full width.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from inpaintkit.errors import InpaintError
from inpaintkit.io import read_state_dict

INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    """conv (no bias) -> batch norm (eps 1e-3, as TensorFlow) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_tf(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's average pool divides by the number of real (unpadded) pixels.
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int, w) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, w(64), 1)
        self.branch5x5_1 = BasicConv2d(cin, w(48), 1)
        self.branch5x5_2 = BasicConv2d(w(48), w(64), 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, w(64), 1)
        self.branch3x3dbl_2 = BasicConv2d(w(64), w(96), 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(w(96), w(96), 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)
        self.out_channels = w(64) + w(64) + w(96) + pool_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, cin: int, w) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, w(384), 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, w(64), 1)
        self.branch3x3dbl_2 = BasicConv2d(w(64), w(96), 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(w(96), w(96), 3, stride=2)
        self.out_channels = w(384) + w(96) + cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, 3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    """Factorised 7x7 convolutions (1x7 then 7x1)."""

    def __init__(self, cin: int, c7: int, w) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.branch1x1 = BasicConv2d(cin, w(192), 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7_3 = BasicConv2d(c7, w(192), col[0], padding=col[1])
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, row[0], padding=row[1])
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, col[0], padding=col[1])
        self.branch7x7dbl_5 = BasicConv2d(c7, w(192), row[0], padding=row[1])
        self.branch_pool = BasicConv2d(cin, w(192), 1)
        self.out_channels = 4 * w(192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(_avg_pool_tf(x))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, cin: int, w) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, w(192), 1)
        self.branch3x3_2 = BasicConv2d(w(192), w(320), 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, w(192), 1)
        self.branch7x7x3_2 = BasicConv2d(w(192), w(192), (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(w(192), w(192), (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(w(192), w(192), 3, stride=2)
        self.out_channels = w(320) + w(192) + cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for layer in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3,
                      self.branch7x7x3_4):
            b7 = layer(b7)
        bp = F.max_pool2d(x, 3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """Expanded filter bank; ``max_pool=True`` is the FID variant of Mixed_7c."""

    def __init__(self, cin: int, w, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, w(320), 1)
        self.branch3x3_1 = BasicConv2d(cin, w(384), 1)
        self.branch3x3_2a = BasicConv2d(w(384), w(384), (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(w(384), w(384), (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, w(448), 1)
        self.branch3x3dbl_2 = BasicConv2d(w(448), w(384), 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(w(384), w(384), (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(w(384), w(384), (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, w(192), 1)
        self.out_channels = w(320) + 4 * w(384) + w(192)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        # The TF graph that FID is defined on uses a max pool in the last block (a quirk of
        # that graph, kept because FID values are only comparable with it).
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool_tf(x)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, bd, bp], 1)


class FIDInceptionV3(nn.Module):
    """Inception-v3 trunk up to the 2048-d average pool, parameter names as torchvision.

    ``width`` scales every channel count (1.0 = the real network); it exists so that tests
    can build small random networks with the same topology.
    """

    def __init__(self, width: float = 1.0, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        self.width = width
        self.input_size = input_size

        def w(c: int) -> int:
            return max(1, int(round(c * width)))

        self.Conv2d_1a_3x3 = BasicConv2d(3, w(32), 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(w(32), w(32), 3)
        self.Conv2d_2b_3x3 = BasicConv2d(w(32), w(64), 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(w(64), w(80), 1)
        self.Conv2d_4a_3x3 = BasicConv2d(w(80), w(192), 3)
        self.Mixed_5b = InceptionA(w(192), w(32), w)
        self.Mixed_5c = InceptionA(self.Mixed_5b.out_channels, w(64), w)
        self.Mixed_5d = InceptionA(self.Mixed_5c.out_channels, w(64), w)
        self.Mixed_6a = InceptionB(self.Mixed_5d.out_channels, w)
        c = self.Mixed_6a.out_channels
        self.Mixed_6b = InceptionC(c, w(128), w)
        self.Mixed_6c = InceptionC(self.Mixed_6b.out_channels, w(160), w)
        self.Mixed_6d = InceptionC(self.Mixed_6c.out_channels, w(160), w)
        self.Mixed_6e = InceptionC(self.Mixed_6d.out_channels, w(192), w)
        self.Mixed_7a = InceptionD(self.Mixed_6e.out_channels, w)
        self.Mixed_7b = InceptionE(self.Mixed_7a.out_channels, w, max_pool=False)
        self.Mixed_7c = InceptionE(self.Mixed_7b.out_channels, w, max_pool=True)
        self.feature_dim = self.Mixed_7c.out_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) in [-1,1] (or uint8 0..255) -> (B, feature_dim) pool features."""
        x = images
        if x.dtype == torch.uint8:
            x = x.float() / 127.5 - 1.0
        x = x.float()
        if x.shape[-2:] != (self.input_size, self.input_size):
            # Linear, so resizing the [-1,1] image equals pytorch-fid's resize-then-rescale.
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                              align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a,
                      self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e,
                      self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean(dim=(2, 3))




def load_fid_inception(path: str | Path, device: str | torch.device = "cpu") -> FIDInceptionV3:
    """Build the FID Inception from a local weights file (width inferred from the file)."""
    state = {k: v for k, v in read_state_dict(path).items()
             if not k.startswith(("fc.", "AuxLogits."))}
    first = state.get("Conv2d_1a_3x3.conv.weight")
    if first is None:
        raise InpaintError(f"{path} is not an Inception-v3 state dict (no Conv2d_1a_3x3.conv.weight)")
    model = FIDInceptionV3(width=first.shape[0] / 32)
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise InpaintError(
            f"{path} does not match the FID Inception: missing {missing[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}"
        )
    return model.to(device).eval()


@torch.no_grad()
def inception_features(
    model: FIDInceptionV3,
    images: torch.Tensor | Iterable[torch.Tensor],
    batch_size: int = 50,
) -> torch.Tensor:
    """Pool features (N, D) float64 of a (N,3,H,W) tensor or an iterable of batches."""
    device = next(model.parameters()).device
    batches = images.split(batch_size) if isinstance(images, torch.Tensor) else images
    feats = [model(batch.to(device)).double().cpu() for batch in batches]
    if not feats:
        raise ValueError("inception_features: no images")
    return torch.cat(feats)


def feature_statistics(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D,D) of features (N,D), N >= 2, float64."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors (N,D), got {tuple(features.shape)}")
    f = features.double()
    mu = f.mean(0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def frechet_distance(
    mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor
) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) in float64.

    Tr((S1 S2)^{1/2}) is the sum of square roots of the eigenvalues of S1 S2, which are
    those of the symmetric PSD matrix S1^{1/2} S2 S1^{1/2}; two symmetric eigen-
    decompositions are stabler than a general matrix square root and never complex.
    """
    mu1, mu2, s1, s2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.numel(), mu1.numel()):
        raise ValueError("frechet_distance: mean/covariance shapes do not match")
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    evals, evecs = torch.linalg.eigh(s1)
    root1 = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T
    middle = root1 @ s2 @ root1
    tr_covmean = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + torch.trace(s1) + torch.trace(s2) - 2.0 * tr_covmean)


def fid(
    model: FIDInceptionV3,
    real: torch.Tensor | Iterable[torch.Tensor],
    fake: torch.Tensor | Iterable[torch.Tensor],
    batch_size: int = 50,
) -> float:
    """FID between two image sets ((N,3,H,W) in [-1,1] or uint8, or iterables of batches)."""
    mu1, s1 = feature_statistics(inception_features(model, real, batch_size))
    mu2, s2 = feature_statistics(inception_features(model, fake, batch_size))
    return frechet_distance(mu1, s1, mu2, s2)
