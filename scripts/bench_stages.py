#!/usr/bin/env python
"""Per-stage cost of a pipeline run, read back from MLflow (what `dvc repro` logged).

For one pipeline (parent) run - by default the latest that ran the ``frozen`` stage, i.e. a cold
or near-cold run, not a report-only rerun - prints each stage's wall time (from its
MLflow run's start to end: the stage's own work, not the ~5-10 s of Python imports and DVC
bookkeeping around it), its throughput figures, and totals per stage kind (train, embed, ...).

    python scripts/bench_stages.py [--parent RUN_ID] [--uri sqlite:///mlruns/mlflow.db]
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

THROUGHPUT = ("sentences_per_s", "s_per_step", "examples_per_s", "images_per_s", "train_s", "embed_s", "seconds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parent", help="parent (pipeline) run id; default: the latest one")
    parser.add_argument("--uri", default="sqlite:///mlruns/mlflow.db")
    parser.add_argument("--experiment", default="flores-transfer")
    args = parser.parse_args()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=args.uri)
    exp = client.get_experiment_by_name(args.experiment)
    if exp is None:
        raise SystemExit(f"no experiment {args.experiment!r} at {args.uri}")
    runs = client.search_runs([exp.experiment_id], max_results=5000, order_by=["attributes.start_time DESC"])
    parents = [r for r in runs if r.data.tags.get("pipeline.role") == "parent"]
    if not parents:
        raise SystemExit("no pipeline runs logged yet")
    def children_of(parent_id: str) -> list:
        return sorted((r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent_id),
                      key=lambda r: r.info.start_time)

    if args.parent:
        parent = next((r for r in parents if r.info.run_id == args.parent), None)
        if parent is None:
            raise SystemExit(f"no pipeline run {args.parent}")
    else:
        cold = [p for p in parents if any(c.info.run_name == "frozen" for c in children_of(p.info.run_id))]
        parent = (cold or parents)[0]
    children = children_of(parent.info.run_id)
    print(f"pipeline run {parent.info.run_id} ({parent.info.run_name}), {len(children)} stages\n")
    print(f"{'stage':40s} {'seconds':>8s}  throughput")
    totals: dict[str, float] = defaultdict(float)
    for r in children:
        seconds = ((r.info.end_time or r.info.start_time) - r.info.start_time) / 1000
        totals[r.info.run_name.split("/")[0]] += seconds
        figures = ", ".join(f"{k}={r.data.metrics[k]:.3g}" for k in THROUGHPUT if k in r.data.metrics)
        print(f"{r.info.run_name:40s} {seconds:8.1f}  {figures}")
    print("\ntotals by stage kind (seconds):")
    for kind, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:12s} {seconds:8.1f}")
    print(f"  {'all':12s} {sum(totals.values()):8.1f}")


if __name__ == "__main__":
    main()
