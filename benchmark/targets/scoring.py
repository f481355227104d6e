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

from benchmark.targets.spec import Configured, TargetResult, TargetSpec


def score(spec: TargetSpec, params: Configured, run: str, emb: dict[str, np.ndarray], data_dir: Path) -> TargetResult:
    """``spec``'s scores of ``run`` from its embeddings ``emb`` (its ``texts``' groups): the scorer gets
    the target's own block and the shared context."""
    scorer = importlib.import_module(spec.scorer or spec.module)
    return scorer.score(params.block(spec.name), params.context(data_dir), run, emb)
