"""Fixtures of the research tests: the ground truth in ../shared (or ENS2_SHARED)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.common import GROUND_TRUTH


@pytest.fixture(scope="session")
def ground_truth() -> Path:
    if not GROUND_TRUTH.is_dir():
        pytest.skip(f"{GROUND_TRUTH} is not here (set ENS2_SHARED to the folder holding ground_truth/)")
    return GROUND_TRUTH
