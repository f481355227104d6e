#!/usr/bin/env python
"""Per-stage cost of a pipeline run, read back from MLflow (what `dvc repro` logged).

For one pipeline (parent) run - by default the latest that ran the ``frozen`` stage, i.e. a cold
or near-cold run, not a report-only rerun - prints each stage's work (its MLflow run, start to
end), the gap before it (since the previous stage's run ended: the process start, imports and
model loading before the run opens, and DVC's bookkeeping between stages), its throughput
figures, and totals per stage kind (train, embed, ...).

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
    print(f"{'stage':40s} {'work s':>8s} {'gap s':>7s}  throughput")
    work: dict[str, float] = defaultdict(float)
    gaps: dict[str, float] = defaultdict(float)
    previous_end = None
    for r in children:
        seconds = ((r.info.end_time or r.info.start_time) - r.info.start_time) / 1000
        gap = (r.info.start_time - previous_end) / 1000 if previous_end is not None else float("nan")
        previous_end = r.info.end_time or r.info.start_time
        kind = r.info.run_name.split("/")[0]
        work[kind] += seconds
        gaps[kind] += gap if gap == gap else 0.0
        figures = ", ".join(f"{k}={r.data.metrics[k]:.3g}" for k in THROUGHPUT if k in r.data.metrics)
        print(f"{r.info.run_name:40s} {seconds:8.1f} {gap:7.1f}  {figures}")
    print(f"\ntotals by stage kind (seconds):\n  {'kind':12s} {'work':>8s} {'gaps':>8s} {'both':>8s}")
    for kind in sorted(work, key=lambda k: -(work[k] + gaps[k])):
        print(f"  {kind:12s} {work[kind]:8.1f} {gaps[kind]:8.1f} {work[kind] + gaps[kind]:8.1f}")
    span = (previous_end - children[0].info.start_time) / 1000
    print(f"  {'all':12s} {sum(work.values()):8.1f} {sum(gaps.values()):8.1f} {span:8.1f}  "
          "(first stage's run start to last stage's run end)")

if __name__ == "__main__":
    main()
