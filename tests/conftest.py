"""Fixtures shared by several test folders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def metric_weight_files(tmp_path_factory) -> tuple[Path, Path]:
    """(FID Inception, LPIPS) weight files of tiny random networks, saved as users' files
    are: the Inception's batch norm calibrated so its features are not all zero, the LPIPS
    (AlexNet trunk) heads made non-negative."""
    from safetensors.torch import save_file

    from inpaintkit.metrics import LPIPS, FIDInceptionV3

    folder = tmp_path_factory.mktemp("metric_weights")
    torch.manual_seed(0)
    inception = FIDInceptionV3(width=1 / 16)
    for m in inception.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    inception.train()
    with torch.no_grad():
        inception(torch.rand(8, 3, 64, 64) * 2 - 1)
    fid_path = folder / "inception_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in inception.state_dict().items()}, str(fid_path))
    lpips = LPIPS("alex", (8, 12, 16, 8, 8))
    with torch.no_grad():
        for k in range(5):
            head = getattr(lpips, f"lin{k}").model[1].weight
            head.copy_(head.abs())
    lpips_path = folder / "lpips_tiny.pth"
    torch.save(lpips.state_dict(), lpips_path)
    return fid_path, lpips_path
