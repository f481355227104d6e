"""Run a profile's stages in a fresh folder through the same stage functions `dvc repro` calls (what the
smoke-scale module fixtures share): bundle, run specs, image features, frozen and task states, each
run's training and evaluation, the analysis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmark import paths
from benchmark.config import resolve
from benchmark.data.spec import materialize
from benchmark.pipeline import analysis, evaluate, frozen, images, runs, task_states, train


def run_stages(root: Path, overrides: dict[str, Any], *, with_images: bool = True) -> Path:
    """Every stage for ``overrides`` (``profile``, ``arms``, ...) inside ``root``, with its own MLflow
    store and embedding cache; returns ``root``."""
    mp = pytest.MonkeyPatch()
    mp.chdir(root)
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    mp.setenv("BENCHMARK_CACHE_DIR", str(root / "cache"))
    try:
        params = resolve(overrides)
        materialize(root / paths.BUNDLE)
        runs.run(params)
        if with_images:
            images.run(params)
        frozen.run(params)
        task_states.run(params)
        for run in params.arms:
            train.run(params, run)
            evaluate.run(params, run, use_cache=False)
        analysis.run(params)
    finally:
        mp.undo()
    return root
