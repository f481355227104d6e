"""``benchmark compare``: runs side by side from MLflow, for any set of pipeline runs.

Each pipeline run (one ``dvc repro`` or one ``dvc exp run``) is a parent MLflow run whose nested
stage runs are named ``<stage>/<run>`` (e.g. ``retrieval/coco-contrastive``), so the MLflow UI's chart
view groups arms by name. This prints one row per arm run and one column per pipeline run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.io import BenchmarkError

METRICS = {"retrieval": ["mean_xsim_margin_x2eng", "mean_xsim_margin_eng2x"],
           "sib": ["mean_accuracy", "english_test_accuracy"]}


def compare(uri: str, experiment: str, parents: list[str] | None = None, last: int = 2) -> pd.DataFrame:
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        raise BenchmarkError(f"no MLflow experiment {experiment!r} at {uri}")
    runs: Any = mlflow.search_runs([exp.experiment_id], max_results=50000, order_by=["attributes.start_time DESC"])
    if runs.empty:
        raise BenchmarkError(f"experiment {experiment!r} has no runs")
    role = runs.get("tags.pipeline.role", pd.Series(index=runs.index, dtype=object))
    all_parents = runs.loc[role == "parent", "run_id"].tolist()
    chosen = parents or all_parents[:last]
    unknown = [p for p in chosen if p not in all_parents]
    if unknown:
        raise BenchmarkError(f"not a pipeline run: {unknown[0]}")
    rows = []
    for parent in chosen:
        children = runs[runs["tags.mlflow.parentRunId"] == parent]
        label = parent[:8]
        for _, child in children.iterrows():
            stage, _, arm = str(child["tags.mlflow.runName"]).partition("/")
            for metric in METRICS.get(stage, []):
                value = child.get(f"metrics.{metric}")
                if value is not None and value == value:
                    rows.append({"run": arm, "metric": f"{stage}.{metric}", "pipeline": label, "value": value})
    if not rows:
        raise BenchmarkError("the chosen pipeline runs logged no target metrics yet")
    table = pd.DataFrame(rows).pivot_table(index=["run", "metric"], columns="pipeline", values="value",
                                           aggfunc="last")
    return table[[p[:8] for p in chosen if p[:8] in table.columns]]
