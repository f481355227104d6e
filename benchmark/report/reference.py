"""``benchmark check-reference``: a run's numbers against the reference tables in ``tests/reference/``.

Three tables, each with its declared tolerance:

* ``<profile>_reference.csv`` - the golden results of the default run of that profile: per run, every
  mean of ``results/summary.json`` and the training evidence of ``metrics/train/<run>.json`` (the
  trained model's held-out scores: a run whose training did nothing, or trained on another arm's
  data, fails there even where its transfer means barely move). Each row's ``atol`` is counted in
  items of its own metric (``items``: 1/items is one item flipped; SIB-200's English dev has 99, its
  test items per language 102 in ``mini``, a Tatoeba mean its smallest language's pairs, held-out
  evidence its own examples): the drift measured between two instruction sets on this machine, in
  whole items (``tolerances.csv``, scripts/measure_drift.py), plus one item.
* ``dataset_sizes.csv`` - published sizes (SIB-200 701/99/204; FLORES-200 997/1012, checked when
  the upstream snapshot ``data/full`` is present), against the data the run used.
* ``published.csv`` - X-STILTs vs XLM-R Large on XTREME (multilingual-t5 README), with a tolerance
  from seed variance; checked against ``results/targets/<benchmark>.json`` where the run wrote one (a
  target's ``published`` scores: XTREME's, in ``full``).

Prints one pass/fail table; exit status 1 if anything failed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from benchmark.data.flores import read_official
from benchmark.io import BenchmarkError, atomic_path

REFERENCE_DIR = Path("tests") / "reference"
METRICS_DIR = Path("metrics")
TOLERANCES = "tolerances.csv"  # metric, items, drift_items: what scripts/measure_drift.py measured
# The evidence values a reference keeps: the trained model's own held-out scores (not p-values, CIs,
# chance levels or the frozen-encoder comparison, which training does not change).
EVIDENCE_SUFFIXES = (".true", ".none", ".trained")


def _row(table: str, key: str, expected: float, actual: float | None, atol: float) -> dict[str, object]:
    ok = actual is not None and abs(actual - expected) <= atol + 1e-12
    status = "PASS" if ok else ("MISSING" if actual is None else "FAIL")
    return {"table": table, "key": key, "expected": expected, "actual": actual, "atol": atol, "status": status}


def _summary_metrics(summary: Path) -> dict[tuple[str, str], float]:
    if not summary.exists():
        raise BenchmarkError(f"{summary}: missing; run `dvc repro` (or pass --summary)")
    arms = json.loads(summary.read_text())["arms"]
    return {(run, metric): float(v) for run, metrics in arms.items() for metric, v in metrics.items()}


def _evidence(metrics_dir: Path, run: str) -> dict[str, float]:
    path = Path(metrics_dir) / "train" / f"{run}.json"
    return json.loads(path.read_text()).get("evidence", {}) if path.exists() else {}


def run_values(summary: Path, metrics_dir: Path = METRICS_DIR) -> dict[tuple[str, str], float]:
    """Every value a reference holds of a run: its summary means and its training evidence."""
    values = _summary_metrics(summary)
    for run in dict.fromkeys(r for r, _ in values):
        values |= {(run, f"evidence.{k}"): float(v) for k, v in _evidence(metrics_dir, run).items()
                   if k.endswith(EVIDENCE_SUFFIXES)}
    return values


def _items(metric: str, items: int, results_dir: Path) -> int:
    """Items per language behind ``<target>.<metric>``: the fewest pairs of any language where the
    target's per-language table counts them (Tatoeba: languages differ), else ``items``."""
    table = results_dir / "targets" / f"{metric.split('.')[0]}.csv"
    if table.exists():
        pairs = pd.read_csv(table, usecols=lambda c: c == "pairs")
        if "pairs" in pairs:
            return int(pairs["pairs"].min())
    return items


def items_of(run: str, metric: str, items: int, results_dir: Path, metrics_dir: Path = METRICS_DIR,
             reference_dir: Path = REFERENCE_DIR) -> int:
    """How many items one value is a rate over (one item moves it by 1/that): held-out evidence its
    examples (a task's, the parallel cells, the R@1 candidates); SIB-200's English dev its published
    size; every other mean its target's items per language (:func:`_items`)."""
    if metric.startswith("evidence."):
        key, evidence = metric.removeprefix("evidence."), _evidence(metrics_dir, run)
        task = key.split(".")[1]
        for count in (f"heldout.{task}.examples", "heldout.parallel.cells" if task == "parallel_r1" else ""):
            if count in evidence:
                return int(evidence[count])
        if "heldout.r1_chance" in evidence:
            return round(1 / evidence["heldout.r1_chance"])
        return items
    if metric == "sib.english_dev_accuracy":
        sizes = pd.read_csv(Path(reference_dir) / "dataset_sizes.csv").set_index(["dataset", "split"])["size"]
        return int(sizes["sib200", "dev"])
    return _items(metric, items, results_dir)


def tolerance(n: int, drift_items: int) -> float:
    """The measured drift in whole items, plus one item."""
    return (drift_items + 1) / n


def write_reference(profile: str, summary: Path, items: int, reference_dir: Path = REFERENCE_DIR,
                    metrics_dir: Path = METRICS_DIR) -> Path:
    """Freeze ``summary`` (and the runs' evidence) as the reference of ``profile`` (do it on purpose,
    and say why in the commit). Tolerance: :func:`tolerance` of the metric's items (:func:`items_of`)
    and its measured drift (``tolerances.csv``; none measured: one item)."""
    results_dir = Path(summary).parent
    measured = reference_dir / TOLERANCES
    drift = (pd.read_csv(measured).set_index("metric")["drift_items"].to_dict() if measured.exists() else {})
    rows = []
    for (run, metric), value in sorted(run_values(summary, metrics_dir).items()):
        n = items_of(run, metric, items, results_dir, metrics_dir, reference_dir)
        rows.append({"run": run, "metric": metric, "value": value, "items": n,
                     "atol": tolerance(n, int(drift.get(metric, 0)))})
    out = reference_dir / f"{profile}_reference.csv"
    with atomic_path(out) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6f")
    return out


def drift_items(a: float, b: float, n: int) -> int:
    """How many items apart two rates over ``n`` items are (rounded: they are multiples of 1/n, up to
    float noise; a mean over languages is not, and rounds up)."""
    return math.ceil(abs(a - b) * n - 1e-6)


def check(profile: str, summary: Path, data_dir: Path, results_dir: Path,
          reference_dir: Path = REFERENCE_DIR, metrics_dir: Path = METRICS_DIR) -> pd.DataFrame:
    rows = []
    ref_path = reference_dir / f"{profile}_reference.csv"
    if not ref_path.exists():
        raise BenchmarkError(f"{ref_path}: no reference table for profile {profile!r}")
    actual = run_values(summary, metrics_dir)
    for r in pd.read_csv(ref_path).itertuples():
        rows.append(_row(ref_path.name, f"{r.run} {r.metric}", float(r.value), actual.get((r.run, r.metric)),
                         float(r.atol)))

    sizes = pd.read_csv(reference_dir / "dataset_sizes.csv")
    labels = data_dir / "bundle" / "sib200_labels.parquet"
    counts = pd.read_parquet(labels)["split"].value_counts() if labels.exists() else pd.Series(dtype=int)
    for r in sizes[sizes["dataset"] == "sib200"].itertuples():
        rows.append(_row("dataset_sizes.csv", f"sib200 {r.split}", float(r.size),
                         float(counts[r.split]) if r.split in counts else None, 0.0))
    flores = data_dir / "full" / "flores200"
    if flores.is_dir():

        for r in sizes[sizes["dataset"] == "flores200"].itertuples():
            lines = read_official(flores, r.split, ["eng_Latn"])["eng_Latn"]
            rows.append(_row("dataset_sizes.csv", f"flores200 {r.split}", float(r.size), float(len(lines)), 0.0))

    published = pd.read_csv(reference_dir / "published.csv")
    for benchmark, rows_of in published.groupby("benchmark", sort=False):
        written = results_dir / "targets" / f"{benchmark}.json"  # a target's ``published`` (report stage)
        if not written.exists():
            continue
        scores = json.loads(written.read_text())
        for r in rows_of.itertuples():
            got = scores.get(r.model, {}).get(r.task)
            rows.append(_row("published.csv", f"{r.model} {r.task}", float(r.value),
                             None if got is None else float(got), float(r.atol)))
    return pd.DataFrame(rows)


def print_table(table: pd.DataFrame) -> None:
    width = max(len(k) for k in table["key"]) if len(table) else 10
    print(f"{'table':24s} {'key':{width}s} {'expected':>10s} {'actual':>10s} {'atol':>8s}  status")
    for r in table.itertuples():
        actual = "-" if r.actual is None or r.actual != r.actual else f"{r.actual:.4f}"
        print(f"{r.table:24s} {r.key:{width}s} {r.expected:10.4f} {actual:>10s} {r.atol:8.4f}  {r.status}")
    failed = int((table["status"] != "PASS").sum())
    print(f"\n{len(table) - failed} passed, {failed} failed")
