"""Stage ``analysis``: the answer - margins between arms with cluster-bootstrap CIs, tests, groups.

Which comparisons: the declared ones (:mod:`benchmark.analysis.declaration`: the positive control, the
primary pair, the secondary family, the question's families), every control against the multimodal arm it
controls (from the arm specs), and every trained arm against the baseline - each only if both arms have
runs in ``params.arms``. Statistics live in :mod:`benchmark.analysis`; this stage feeds them the saved
per-item predictions and each run's held-out evidence (``metrics/train/<run>.json``: the evidence gates),
qualifies the declared verdicts by the positive control's sensitivity and the gates
(:mod:`benchmark.analysis.qualify`), and writes ``results/margins.csv`` (one row per comparison x target x
language subset), ``results/margins_per_language.csv``, ``results/language_groups.csv`` and
``metrics/analysis.json`` (the primary row and the sensitivity).
"""

from __future__ import annotations

import json

import pandas as pd

from benchmark import paths
from benchmark.analysis.comparisons import comparisons
from benchmark.analysis.declaration import DECLARATION
from benchmark.analysis.gates import arm_gates
from benchmark.analysis.margins import compute_margins
from benchmark.analysis.qualify import qualify
from benchmark.config import Params
from benchmark.io import BenchmarkError, atomic_path, write_json
from benchmark.targets import registry
from benchmark.targets.corpus import article_metadata
from benchmark.tracking import stage_run


def run(params: Params) -> None:
    pairs = comparisons(params.arms)
    if not pairs:
        raise BenchmarkError(f"params arms {params.arms}: no two arms to compare")  # validate refuses it first
    pivot = params.pivot
    specs = registry.active(params.profile)
    groups: dict[str, pd.DataFrame] = {}

    def groups_of(target: str, languages: list[str]) -> pd.DataFrame:  # each target's own languages and data
        # A target's scores may cover different languages (XTREME: PAWS-X has ja and ko, XNLI not): the
        # table grows by the languages a later score adds.
        have = groups.get(target)
        missing = [lang for lang in languages if have is None or lang not in have.index]
        if missing:
            new = registry.TARGETS[target].language_groups(params, missing, paths.DATA)
            groups[target] = new if have is None else pd.concat([have, new])
        return groups[target]

    tables = compute_margins(pairs, params.arms, root=paths.ARTIFACTS / "predictions", groups=groups_of,
                             targets=[s.name for spec in specs for s in spec.scores_in(params)], exclude_languages=(pivot,),
                             metadata=article_metadata(params.context(paths.DATA)))
    evidence = {}
    for run in params.arms:
        path = paths.stage_metrics("train", run)
        if not path.exists():
            raise BenchmarkError(f"{path}: missing training metrics for run {run!r}; run its train stage first")
        evidence[run] = json.loads(path.read_text(encoding="utf-8")).get("evidence", {})
    gates = arm_gates(evidence)
    summary, per_language, sens = qualify(tables.summary, tables.per_language, gates, DECLARATION)
    primary = summary[summary["role"] == "primary"]
    with stage_run("analysis", params, "cpu") as run_:
        paths.RESULTS.mkdir(exist_ok=True)
        for name, table in (("margins.csv", summary), ("margins_per_language.csv", per_language),
                            ("language_groups.csv", pd.concat(groups, names=["target"]).reset_index())):
            with atomic_path(paths.RESULTS / name) as tmp:
                table.to_csv(tmp, index=False, float_format="%.6f")
            run_.log_artifact(paths.RESULTS / name, "analysis")
        overall = summary[summary["grouping"] == "overall"]
        run_.log_metrics({f"{r.comparison}.{r.target}.{r.group}.{k}": float(getattr(r, k))
                          for r in overall.itertuples()
                          for k in ("margin", "ci_low", "ci_high", "ci_low_languages", "ci_high_languages",
                                    "seed_ci_low", "seed_ci_high", "p", "p_holm", "tost_p", "mde")
                          if getattr(r, k) == getattr(r, k)})  # NaN (no test for this row) is not logged
        headline = primary.iloc[0].to_dict() if len(primary) else {}
        write_json(paths.METRICS / "analysis.json", {
            "primary": {k: ((None if v != v else float(v)) if isinstance(v, float) else v)  # NaN: not JSON
                        for k, v in headline.items()},
            "sensitivity": {"margin": sens.margin, "in_sesoi": sens.in_sesoi, "threshold": sens.threshold,
                            "verdict": sens.verdict, "sufficient": sens.sufficient},
            "gates": {arm: {"learned": g.learned, "detail": g.detail} for arm, g in gates.items()},
            "comparisons": len(pairs), "mlflow_run_id": run_.run_id})
