"""Fixtures of the web tests (helpers live in web_helpers.py)."""

from __future__ import annotations

import numpy as np
import pytest
from web_helpers import box_mask, noise_image


@pytest.fixture()
def image_and_mask() -> tuple[np.ndarray, np.ndarray]:
    return noise_image(), box_mask()
