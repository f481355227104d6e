"""Shared fixtures. Tests run offline; anything reading ../shared skips cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (fresh clone): nothing to compare against")
    return SHARED_DATA


@pytest.fixture
def original_datadir() -> Path:
    """Golden tables of pytest-regressions live in tests/reference/, not beside each test module."""
    return REPO / "tests" / "reference"
