"""Stage ``runs``: each run's arm spec and training seed, one small file per run.

``train@<run>`` depends on its own file instead of on ``benchmark/arms.py``, which holds every
arm: editing one arm's spec rewrites only that arm's files (this stage always rewrites them all,
with the same bytes for the others), so DVC retrains only that arm's runs.
"""

from __future__ import annotations

import json

from benchmark import paths
from benchmark.arms import parse_run
from benchmark.config import Params
from benchmark.io import atomic_dir, write_json
from benchmark.tracking import stage_run


def describe(params: Params, run: str) -> dict:
    """What ``train@<run>`` reads back with :func:`benchmark.armspec.load_run`."""
    spec, k = parse_run(run)
    return {"run": run, "arm": spec.model_dump(mode="json"), "seed": params.seed + k}


def run(params: Params) -> None:
    with stage_run("runs", params, "cpu") as run_:
        with atomic_dir(paths.runs()) as tmp:
            for name in params.arms:
                (tmp / f"{name}.json").write_text(json.dumps(describe(params, name), indent=2, sort_keys=True) + "\n",
                                                  encoding="utf-8")
        run_.log_metrics({"runs": len(params.arms)})
        write_json(paths.METRICS / "runs.json", {"runs": params.arms, "mlflow_run_id": run_.run_id})
