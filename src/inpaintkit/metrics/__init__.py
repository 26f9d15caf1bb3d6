"""Image-quality metrics and the evaluation protocol.

* :mod:`.image_metrics`: PSNR, SSIM, L1 (per image, batched, as scikit-image computes them)
* :mod:`.fid`: FID with the FID Inception-v3 from a local weights file
* :mod:`.lpips`: LPIPS v0.1 (AlexNet / VGG16 trunk) from local weight files
* :mod:`.diversity`: pairwise sample diversity of pluralistic models
* :mod:`.evaluate`: the six-bucket irregular-mask protocol of the papers
"""

from inpaintkit.metrics.diversity import sample_diversity
from inpaintkit.metrics.evaluate import (
    EvalResults,
    evaluate,
    results_table,
    write_csv,
    write_json,
)
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

__all__ = [
    "LPIPS",
    "EvalResults",
    "compute_metrics",
    "FIDInceptionV3",
    "evaluate",
    "feature_statistics",
    "fid",
    "frechet_distance",
    "inception_features",
    "l1",
    "load_fid_inception",
    "load_lpips",
    "lpips_distance",
    "psnr",
    "results_table",
    "sample_diversity",
    "ssim",
    "to_pixels",
    "write_csv",
    "write_json",
]
