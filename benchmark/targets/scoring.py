"""Stage ``evaluate``'s scoring: each target's ``score``, from its ``scorer`` module (else its ``module``).

Imported by name here, not by the registry, so that the scorers are dependencies of ``evaluate``
alone (benchmark.imports reads this module's by-name imports from the registry's specs): the
frozen pass, the gate, the analysis and the report read targets' inputs and specs, never their
scoring, and an edit to what scoring alone runs reruns nothing else.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from benchmark.config import Params
from benchmark.targets.registry import TargetResult, TargetSpec


def score(spec: TargetSpec, params: Params, run: str, emb: dict[str, np.ndarray], data_dir: Path) -> TargetResult:
    """``spec``'s scores of ``run`` from its embeddings ``emb`` (its ``texts``' groups)."""
    return importlib.import_module(spec.scorer or spec.module).score(params, run, emb, data_dir)
