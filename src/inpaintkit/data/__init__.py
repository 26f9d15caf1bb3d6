"""Datasets for training and validation."""

from inpaintkit.data.image_folder import ImageFolderDataset, MaskSource

__all__ = ["ImageFolderDataset", "MaskSource"]
