"""Datasets for training and validation."""

from inpaintkit.data.image_folder import ImageFolderDataset, MaskSource
from inpaintkit.data.pool import FixedPool

__all__ = ["FixedPool", "ImageFolderDataset", "MaskSource"]
