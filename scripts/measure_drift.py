"""Measure how far one profile's numbers move between two runs of the same commit and params on two
instruction sets (this machine's own and an emulated one: scripts/isa.sh), per reference metric, in
items of that metric; write ``tests/reference/tolerances.csv``, from which `benchmark check-reference
--write` sets each metric's tolerance (the measured drift plus one item).

    python scripts/measure_drift.py RUN_A RUN_B [--items 102] [--out tests/reference/tolerances.csv]

RUN_A and RUN_B are two working trees after `dvc repro` (each with results/summary.json and
metrics/train/). Prints, per metric, its items, the runs compared, how many moved and by how many items.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.io import atomic_path  # noqa: E402
from benchmark.report.reference import drift_items, items_of, run_values  # noqa: E402


def measure(a: Path, b: Path, items: int) -> pd.DataFrame:
    va = run_values(a / "results" / "summary.json", a / "metrics")
    vb = run_values(b / "results" / "summary.json", b / "metrics")
    missing = sorted(set(va) ^ set(vb))
    if missing:
        raise SystemExit(f"measure_drift: the runs hold different values, e.g. {missing[0]}")
    rows = []
    for (run, metric), value in va.items():
        n = items_of(run, metric, items, a / "results", a / "metrics")
        rows.append({"metric": metric, "run": run, "items": n, "moved": drift_items(value, vb[run, metric], n),
                     "abs": abs(value - vb[run, metric])})
    per = pd.DataFrame(rows)
    return (per.groupby("metric", sort=True)
               .agg(items=("items", "min"), drift_items=("moved", "max"), runs=("run", "size"),
                    runs_moved=("moved", lambda m: int((m > 0).sum())), max_abs=("abs", "max"))
               .reset_index())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--items", type=int, default=102, help="items per language where no table says")
    parser.add_argument("--out", type=Path, default=Path("tests/reference/tolerances.csv"))
    args = parser.parse_args()
    table = measure(args.run_a, args.run_b, args.items)
    print(table.to_string(index=False))
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
