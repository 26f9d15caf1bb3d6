"""Image-quality metrics: pure functions of images (the evaluation protocol that runs them
on models is :mod:`inpaintkit.evaluation`).

* :mod:`.image_metrics`: PSNR, SSIM, L1 (per image, batched, as scikit-image computes them)
* :mod:`.fid`: FID with the FID Inception-v3 from a local weights file
* :mod:`.lpips`: LPIPS v0.1 (AlexNet / VGG16 trunk) from local weight files
* :mod:`.diversity`: pairwise sample diversity of pluralistic models
* :mod:`.realism`: the hole patch sliced Wasserstein distance (realism without a network)
"""

from inpaintkit.metrics.diversity import sample_diversity
from inpaintkit.metrics.fid import (
    FIDInceptionV3,
    feature_statistics,
    fid,
    frechet_distance,
    inception_features,
    load_fid_inception,
)
from inpaintkit.metrics.image_metrics import compute_metrics, l1, psnr, ssim, to_pixels
from inpaintkit.metrics.lpips import LPIPS, load_lpips, lpips_distance
from inpaintkit.metrics.realism import PatchSWD, patch_swd

__all__ = [
    "LPIPS",
    "PatchSWD",
    "compute_metrics",
    "FIDInceptionV3",
    "feature_statistics",
    "fid",
    "frechet_distance",
    "inception_features",
    "l1",
    "load_fid_inception",
    "load_lpips",
    "lpips_distance",
    "patch_swd",
    "psnr",
    "sample_diversity",
    "ssim",
    "to_pixels",
]
