"""``benchmark compare``: runs side by side from MLflow, for any set of pipeline runs.

Each pipeline run (one ``dvc repro`` or one ``dvc exp run``) is a parent MLflow run whose nested
stage runs are named ``<stage>/<run>`` (e.g. ``retrieval/coco-contrastive``), so the MLflow UI's chart
view groups arms by name. This prints one row per arm run and one column per pipeline run, headed by
its id's first 8 characters and, for a ``dvc exp run`` (queued ones included), its DVC experiment name.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.io import BenchmarkError
from benchmark.targets.registry import TARGETS

# Each target's nested runs (``<target>/<run>``) and the means of its scores, from the registry.
METRICS = {t.name: list(dict.fromkeys([f"mean_{s.column}" for s in t.scores] + list(t.summary_extra)))
           for t in TARGETS.values()}


def compare(uri: str, experiment: str, parents: list[str] | None = None, last: int = 2,
            include_unfinished: bool = False) -> pd.DataFrame:
    """The target metrics of ``parents`` (full or unique-prefix run ids, or DVC experiment names), else
    of the last ``last`` complete pipeline runs, or the last ``last`` of any status with
    ``include_unfinished``: a pipeline that failed, was killed, is partial (a targeted ``dvc repro``
    ran no report) or is still going counts only when asked for, its column marked."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        raise BenchmarkError(f"no MLflow experiment {experiment!r} at {uri}")
    runs: Any = mlflow.search_runs([exp.experiment_id], max_results=50000, order_by=["attributes.start_time DESC"])
    if runs.empty:
        raise BenchmarkError(f"experiment {experiment!r} has no runs")
    role = runs.get("tags.pipeline.role", pd.Series(index=runs.index, dtype=object))
    state = runs.get("tags.pipeline.state", pd.Series(index=runs.index, dtype=object))
    # A FINISHED parent whose last stage was not the report (a targeted `dvc repro`) is partial.
    status = {run_id: "PARTIAL" if (s == "FINISHED" and st == "partial") else s
              for run_id, s, st in zip(runs.loc[role == "parent", "run_id"], runs.loc[role == "parent", "status"],
                                       state[role == "parent"])}
    # A `dvc exp run`'s parent carries its DVC experiment name (what `dvc exp show` lists): a column
    # shows it, and it names the pipeline run as well as an id does.
    exp_name = runs.get("tags.dvc.exp_name", pd.Series(index=runs.index, dtype=object))
    names = {run_id: name for run_id, name in zip(runs.loc[role == "parent", "run_id"], exp_name[role == "parent"])
             if isinstance(name, str) and name}
    if parents:
        chosen = [_resolve(p, list(status), names) for p in parents]
    else:
        chosen = [p for p in status if include_unfinished or status[p] == "FINISHED"][:last]
        if not chosen:
            raise BenchmarkError(f"experiment {experiment!r} has no finished pipeline run yet "
                                 "(--all includes unfinished ones)")
    labels = {p: " ".join([p[:8], *([names[p]] if p in names else []),
                           *([] if status[p] == "FINISHED" else [f"({status[p]})"])]) for p in chosen}
    rows = []
    for parent in chosen:
        children = runs[runs["tags.mlflow.parentRunId"] == parent]
        for _, child in children.iterrows():
            stage, _, arm = str(child["tags.mlflow.runName"]).partition("/")
            for metric in METRICS.get(stage, []):
                value = child.get(f"metrics.{metric}")
                if value is not None and value == value:
                    rows.append({"run": arm, "metric": f"{stage}.{metric}", "pipeline": labels[parent],
                                 "value": value})
    if not rows:
        raise BenchmarkError("the chosen pipeline runs logged no target metrics yet")
    table = pd.DataFrame(rows).pivot_table(index=["run", "metric"], columns="pipeline", values="value",
                                           aggfunc="last")
    return table[[labels[p] for p in chosen if labels[p] in table.columns]]


def _resolve(given: str, parents: list[str], names: dict[str, str] | None = None) -> str:
    """A pipeline run id from its full form, its DVC experiment's name (``dvc exp run -n``, or the one
    DVC drew) or a unique prefix (the table's columns show 8 characters)."""
    if given in parents:
        return given
    named = [p for p in parents if (names or {}).get(p) == given]
    if len(named) == 1:
        return named[0]
    if named:
        raise BenchmarkError(f"DVC experiment {given!r} names {len(named)} pipeline runs: give one of their ids "
                             f"({', '.join(named)})")
    if len(given) >= 32:
        raise BenchmarkError(f"not a pipeline run: {given}")
    matches = [p for p in parents if given and p.startswith(given)]
    if len(matches) == 1:
        return matches[0]
    raise BenchmarkError(f"run id {given!r} is a prefix: give the full 32-character MLflow run id of a pipeline run "
                         f"(matches: {', '.join(matches) or 'none'})")
