"""Shared fixtures: paths to the ground truth and the reference outputs in ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ENS2_SHARED", REPO.parent / "shared"))
GROUND_TRUTH = SHARED / "ground_truth"
REFERENCE = SHARED / "reference"


def pytest_report_header(config) -> str:
    found = "found" if GROUND_TRUTH.is_dir() else "NOT FOUND: the tests that need it are skipped"
    return f"ens2rt shared data (ENS2_SHARED): {SHARED} ({found})"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not here (set ENS2_SHARED to the folder holding ground_truth/ and reference/)")
    return path


@pytest.fixture(scope="session")
def ground_truth() -> Path:
    return _require(GROUND_TRUTH)


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    with np.load(_require(REFERENCE / "ens2_published_exc_pipeline.npz")) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture(scope="session")
def published_exc_weights_path() -> Path:
    return _require(REFERENCE / "ens2_published_exc_weights.npz")
