"""The training logger's progress line: losses, speed and the share of time spent waiting for data."""

import pytest

from inpaintkit.training import logger as logger_module
from inpaintkit.training.config import load_config
from inpaintkit.training.logger import TrainLogger


def test_data_wait_is_the_share_of_wall_time_blocked_on_the_loader(tmp_path, capsys, monkeypatch):
    clock = iter([100.0, 102.0, 104.0, 106.0, 110.0, 112.0])  # monotonic() per call
    monkeypatch.setattr(logger_module.time, "monotonic", lambda: next(clock))
    cfg = load_config(None, [f"out_dir={tmp_path}", "log_every=2", "steps=100"])
    log = TrainLogger(cfg, start_step=0)
    log.tb = None  # the line only
    log.step(1, {"l1": 0.5}, lr=1e-4, data_wait=0.5)   # t=102: not a log step
    log.step(2, {"l1": 0.25}, lr=1e-4, data_wait=0.5)  # t=104: 1.0 s of 4.0 s waiting
    log.step(3, {"l1": 0.2}, lr=1e-4, data_wait=0.0)   # t=106
    log.step(4, {"l1": 0.1}, lr=1e-4, data_wait=3.0)   # t=110: 3.0 s of 6.0 s
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("step")]
    assert len(lines) == 2
    assert "l1=0.2500" in lines[0] and "data_wait=25.0%" in lines[0]
    assert "l1=0.1000" in lines[1] and "data_wait=50.0%" in lines[1]
    assert float(lines[1].split()[2]) == pytest.approx(4 / 10)  # it/s over the whole run
