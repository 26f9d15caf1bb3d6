"""Fixtures shared by several test folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# One intra-op thread for the test process and the subprocesses it starts (unless the caller
# chose): the tests run tiny tensors, where a second OpenMP thread costs more in
# synchronisation than it computes. On a busy 2-core machine, 2 threads took 4-10x the CPU
# time and 2.5-6x the wall time of 1 thread for the same tests (measured on tests/models and
# the slowest inference/evaluation/training tests).
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _restore_denormals():
    """Training in the test process flushes denormals (a process-wide CPU flag); hypothesis
    refuses to run when subnormal floats cannot be represented, so every test ends with
    the default restored."""
    yield
    torch.set_flush_denormal(False)


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


@pytest.fixture()
def dead_pid() -> int:
    """The id of a process that has exited (for temp names left by a killed writer)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid
