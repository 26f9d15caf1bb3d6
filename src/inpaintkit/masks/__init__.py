"""Hole masks: generators for training, folders for evaluation, hole-ratio buckets.

All masks are ``(H, W)`` bool numpy arrays, True = hole; generators take a
``numpy.random.Generator`` and are deterministic given it.
"""

from inpaintkit.masks.boxes import box_mask, center_box_mask
from inpaintkit.masks.buckets import BUCKET_NAMES, BUCKETS, bucket_of, parse_bucket
from inpaintkit.masks.deepfill import deepfill_box_mask, deepfill_mask
from inpaintkit.masks.folder import MaskFolder, bucket_histogram, load_mask_file, scan_hole_ratios
from inpaintkit.masks.freeform import free_form_mask, free_form_mask_paper
from inpaintkit.masks.generator import MixedMaskGenerator, as_hw

__all__ = [
    "BUCKETS",
    "BUCKET_NAMES",
    "MaskFolder",
    "MixedMaskGenerator",
    "as_hw",
    "box_mask",
    "bucket_histogram",
    "bucket_of",
    "center_box_mask",
    "deepfill_box_mask",
    "deepfill_mask",
    "free_form_mask",
    "free_form_mask_paper",
    "load_mask_file",
    "parse_bucket",
    "scan_hole_ratios",
]
