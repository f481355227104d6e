"""Margins between arms on every target, from the per-item predictions the target stages write.

A comparison ``(treatment, control)`` names two arms; each arm's runs (``<arm>`` and its extra seeds
``<arm>.s<k>``) form its seed group. A positive margin always means the treatment did better (lower
xsim error, higher SIB accuracy). Predictions are validated before anything is averaged: a missing
run, a language one run lacks, or an item one language lacks is an error naming it, never a silently
smaller average. Languages are the targets of transfer: the pivot (eng_Latn: the retrieval pivot and
the SIB probe's training language) is left out by default.

Roles, from :data:`benchmark.analysis.declaration.DECLARATION`: the *primary* comparison (unadjusted),
and every other declared role, each a family Holm-adjusted within itself (:func:`holm_families`), get the
designated run-level test when each arm has at least ``min_seeds`` runs, or, against an untrained
control (the baseline: one deterministic run, a constant), when the treatment has; every other
comparison x target over all and over covered languages is
*descriptive* (estimate and intervals, no p-value), and the breakdowns by language group (uncovered,
CC-100 in/out, each script) are *exploratory* locations of an effect, also without p-values. Every row
carries the bootstrap interval over items with the languages fixed and with them resampled. What the
item bootstrap draws is the target's (:mod:`benchmark.targets.registry`): FLORES articles jointly in
every language where items are parallel (FLORES, SIB), each language's own items where they are not
(Tatoeba: :func:`~benchmark.analysis.stats.paired_stratified_bootstrap`).

Declared rows also carry the declared sensitivity analyses on the same run scores, appended after
``p_holm`` (:data:`SENSITIVITY_COLUMNS`): each arm's run-to-run SD, Welch's t (p, TOST p, df), the exact
permutation of run labels (p, TOST p, the smallest p it can attain), Welch's and the permutation's p
Holm-adjusted within the same families as ``p_holm``, each analysis's verdict and the conservative
verdict over them (:mod:`benchmark.analysis.verdict`), whether they agreed and a note naming the one
that did not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from benchmark import arms
from benchmark.analysis.declaration import DECLARATION, Comparison, Declaration
from benchmark.analysis.stats import (
    PermutationTest,
    holm,
    language_counts,
    paired_cluster_bootstrap,
    paired_stratified_bootstrap,
    permutation_test,
    run_level_test,
    run_scores,
    welch_test,
)
from benchmark.analysis.verdict import NOT_TESTED, Analysis, combine, single_verdict
from benchmark.data.flores import PIVOT, load_metadata
from benchmark.io import BenchmarkError
from benchmark.models.coverage import language_groups
from benchmark.targets.registry import SCORES, TARGETS
from benchmark.targets.spec import Score

PREDICTIONS_DIR = Path("artifacts") / "predictions"


PRIMARY_COMPARISON = DECLARATION.primary.pair
UNADJUSTED_ROLES = ("primary", "sensitivity")  # one hypothesis each: no Holm


def holm_families(declaration: Declaration) -> tuple[str, ...]:
    """The declaration's roles that are Holm families: every role but the primary (and the positive
    control, where the declaration has one), each adjusted within itself."""
    return tuple(dict.fromkeys(role for role, _ in declaration.roles if role not in UNADJUSTED_ROLES))


HOLM_FAMILIES = holm_families(DECLARATION)

# Appended after p_holm, so readers of the older columns keep working. The SDs are on every row; the
# sensitivity analyses' p's on declared rows with a test; the verdicts on declared rows (empty elsewhere).
SENSITIVITY_COLUMNS = ("treatment_sd", "control_sd", "welch_p", "welch_tost_p", "welch_df", "perm_p", "perm_tost_p",
                       "perm_min_p", "welch_p_holm", "perm_p_holm", "verdict_student", "verdict_welch",
                       "verdict_permutation", "verdict", "verdicts_agree", "verdict_note")


class MarginTables(NamedTuple):
    summary: pd.DataFrame  # one row per comparison x target x language subset
    per_language: pd.DataFrame  # one row per comparison x target x language


# --- runs and predictions ------------------------------------------------------------------------


def parse_run(run: str) -> tuple[str, int]:
    """``"coco-contrastive.s1"`` -> ``("coco-contrastive", 1)``; a bare arm name is seed run 0."""
    try:
        spec, k = arms.parse_run(run)
    except ValueError as err:
        raise BenchmarkError(str(err)) from None
    return spec.name, k


def seed_groups(runs: Iterable[str]) -> dict[str, list[str]]:
    """Runs grouped by arm, each group in seed order: ``{"vqa": ["vqa", "vqa.s1", "vqa.s2"], ...}``."""
    groups: dict[str, dict[int, str]] = {}
    for run in runs:
        arm, k = parse_run(run)
        if k in groups.setdefault(arm, {}):
            raise BenchmarkError(f"run {run!r} is listed twice")
        groups[arm][k] = run
    return {arm: [seeds[k] for k in sorted(seeds)] for arm, seeds in groups.items()}


def load_predictions(target: str, runs: Sequence[str], root: Path = PREDICTIONS_DIR) -> dict[str, pd.DataFrame]:
    """``<root>/<run>/<target>.parquet`` for every run; every missing file is named in one error."""
    spec = TARGETS[target]
    root = Path(root)
    missing = [run for run in runs if not (root / run / f"{target}.parquet").is_file()]
    if missing:
        raise BenchmarkError(f"{root}: no {target} predictions for run(s) {', '.join(missing)}")
    out = {}
    for run in runs:
        path = root / run / f"{target}.parquet"
        df = pd.read_parquet(path)
        lacking = [c for c in spec.predictions if c not in df.columns]
        if lacking:
            raise BenchmarkError(f"{path}: missing column(s) {', '.join(lacking)}")
        out[run] = df
    return out


def _item_table(run: str, df: pd.DataFrame, target: str, score: Score) -> pd.DataFrame:
    """language x index_id table of one score's per-item values (1 = correct, or 1 = error)."""
    for column, value in score.where.items():
        df = df[df[column] == value]
    if score.item == "label_match":
        values = (df["label"].astype(str) == df["predicted"].astype(str)).to_numpy(dtype=np.float64)
    elif score.item == "value":
        values = df["value"].to_numpy(dtype=np.float64)
    else:
        values = df["correct"].astype(bool).to_numpy(dtype=np.float64)
        values = 1.0 - values if score.item == "error" else values
    what = "".join(f", {k} {v}" for k, v in score.where.items())
    if df.empty:
        raise BenchmarkError(f"{score.name}: run {run!r} has no {target} predictions{what}")
    dup = df.duplicated(["language", "index_id"])
    if dup.any():
        first = df[dup].iloc[0]
        raise BenchmarkError(f"{score.name}: run {run!r} has {int(dup.sum())} duplicate predictions "
                             f"(first: {first['language']} index_id {first['index_id']})")
    items = pd.DataFrame({"language": df["language"].to_numpy(), "index_id": df["index_id"].to_numpy(),
                          "score": values})
    return items.pivot(index="language", columns="index_id", values="score")


def _holes(languages: list[str], ids: np.ndarray, holes: np.ndarray, shown: int = 5) -> str:
    """'fra_Latn lacks index_id 3, 17; ...' for the first ``shown`` languages with holes."""
    rows = np.flatnonzero(holes.any(axis=1))
    parts = []
    for li in rows[:shown]:
        missing = [str(i) for i in ids[holes[li]]]
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        parts.append(f"{languages[li]} lacks index_id {', '.join(missing[:10])}{more}")
    if len(rows) > shown:
        parts.append(f"and {len(rows) - shown} more language(s)")
    return "; ".join(parts)


def item_scores(preds: dict[str, pd.DataFrame], score: str) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
    """(languages, index_ids, {run: scores [n_languages, n_items]}), checked to be one grid in every run.

    Every run must cover the same languages, and every (run, language) the same items. With parallel
    items (FLORES) that is the union of all of them, so an item only one run has is reported as
    missing from the others; where each language has its own items (Tatoeba), a language's items are
    those of the first run, the cells it lacks are NaN, and every other run must match them.
    """
    spec, sc = SCORES[score]
    tables = {run: _item_table(run, df, spec.name, sc) for run, df in preds.items()}
    languages = sorted(set().union(*(t.index for t in tables.values())))
    ids = np.array(sorted(set().union(*(t.columns for t in tables.values()))))
    gaps = [f"run {run!r} lacks {', '.join(sorted(set(languages) - set(t.index)))}"
            for run, t in tables.items() if len(t.index) < len(languages)]
    if gaps:
        raise BenchmarkError(f"{score}: languages differ between runs: {'; '.join(gaps)}")
    out: dict[str, np.ndarray] = {}
    expected: np.ndarray | None = None
    for run, t in tables.items():
        grid = t.reindex(index=languages, columns=ids).to_numpy(dtype=np.float64)
        holes = np.isnan(grid)
        if spec.items == "per_language":
            expected = holes if expected is None else expected
            holes = holes != expected
        if holes.any():
            raise BenchmarkError(f"{score}: run {run!r} does not cover the {len(ids)} items of the other "
                                 f"runs and languages: {_holes(languages, ids, holes)}")
        out[run] = grid
    return languages, ids, out


def item_clusters(index_ids: Sequence[int], metadata: pd.DataFrame | None = None) -> np.ndarray:
    """The FLORES article (source URL) of each item: the bootstrap's resampling unit."""
    meta = load_metadata() if metadata is None else metadata
    ids = pd.Index(index_ids)
    unknown = ids.difference(meta.index)
    if len(unknown):
        raise BenchmarkError(f"FLORES metadata has no article URL for index_id {', '.join(map(str, unknown[:10]))}")
    return meta.loc[ids, "url"].to_numpy()


# --- margins -------------------------------------------------------------------------------------


def subsets(groups: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(grouping, group, mask over ``groups``' rows) for every non-empty language subset reported."""
    everyone = np.ones(len(groups), bool)
    covered = groups["covered"].to_numpy(bool)
    cc100 = groups["in_cc100"].to_numpy(bool)
    scripts = groups["script"].to_numpy()
    out = [("overall", "all", everyone), ("overall", "covered", covered), ("coverage", "uncovered", ~covered),
           ("cc100", "in", cc100), ("cc100", "out", ~cc100)]
    out += [("script", s, scripts == s) for s in sorted(set(scripts))]
    return [(grouping, group, mask) for grouping, group, mask in out if mask.any()]


def _resolve(comparisons: Sequence[tuple[str, str]], runs: Sequence[str]) -> dict[str, list[str]]:
    by_arm = seed_groups(runs)
    unknown = sorted({arm for pair in comparisons for arm in pair} - set(by_arm))
    if unknown:
        raise BenchmarkError(f"no runs for arm(s) {', '.join(unknown)} among runs: {', '.join(runs)}")
    for treatment, control in comparisons:
        if treatment == control:
            raise BenchmarkError(f"comparison of {treatment!r} with itself")
    return by_arm


def _sd(runs: np.ndarray, constant: bool) -> float:
    """An arm's run-to-run SD (ddof=1) of run scores: 0.0 for an untrained single-run arm, NaN under 2 runs."""
    if constant:
        return 0.0
    return float(np.std(runs, ddof=1)) if len(runs) >= 2 else float("nan")


def _run_test(t_runs: np.ndarray, c_runs: np.ndarray, target: Score,
              declared: tuple[str, Comparison] | None, d: Declaration,
              control_constant: bool = False) -> dict[str, object]:
    """The run-level columns of one row: seed CI for every row with enough seeds; the designated test,
    TOST and MDE, and the sensitivity analyses (Welch, exact permutation), for declared rows only.
    ``control_constant``: the control is untrained (one deterministic run), so the designated test is
    the one-sample t of the treatment's runs against it, which Welch's coincides with; the permutation
    test does not apply."""
    sesoi = declared[1].sesoi if declared else None
    common = {"higher_is_better": target.higher_is_better, "sesoi": sesoi, "control_constant": control_constant}
    try:
        res = run_level_test(t_runs, c_runs, alpha=d.alpha, power=d.power, confidence=d.confidence, **common)
    except ValueError as err:  # e.g. runs that do not vary at all
        return {"test": f"none: {err}"} if declared else {}
    out: dict[str, object] = {"seed_ci_low": res.ci_low, "seed_ci_high": res.ci_high, "se": res.se, "df": res.df}
    if declared:
        name = (f"run-level one-sample t against the untrained control (df={res.df})" if control_constant
                else f"run-level t (df={res.df})")
        welch = welch_test(t_runs, c_runs, alpha=d.alpha, power=d.power, confidence=d.confidence, **common)
        try:
            perm = permutation_test(t_runs, c_runs, **common)
        except ValueError as err:  # too many relabellings to enumerate: not applicable, and the note says so
            nan = float("nan")
            perm = PermutationTest(margin=res.margin, p=nan, sesoi=sesoi, tost_p=nan, min_p=nan, min_tost_p=nan,
                                   n_relabellings=0, n_treatment=len(t_runs), n_control=len(c_runs),
                                   reason=f"not applicable: {err}")
        out |= {"test": name, "p": res.p, "sesoi": res.sesoi, "tost_p": res.tost_p, "mde": res.mde,
                "welch_p": welch.p, "welch_tost_p": welch.tost_p, "welch_df": welch.df,
                "perm_p": perm.p, "perm_tost_p": perm.tost_p, "perm_min_p": perm.min_p,
                "_perm": perm, "_designated": "one-sample t" if control_constant else "Student t"}
    return out


def _verdicts(row: pd.Series, alpha: float) -> dict[str, object]:
    """The verdict columns of a declared row: each analysis's own verdict (with its Holm-adjusted p where
    the row is in a Holm family) and the conservative one over all of them."""
    if row["p"] != row["p"]:
        return {"verdict_student": NOT_TESTED, "verdict_welch": NOT_TESTED, "verdict_permutation": NOT_TESTED,
                "verdict": NOT_TESTED, "verdicts_agree": True, "verdict_note": ""}
    perm = row["_perm"]
    analyses = [
        Analysis(name=row["_designated"], p=row["p_holm"], p_raw=row["p"], tost_p=row["tost_p"]),
        Analysis(name="Welch t", p=row["welch_p_holm"], p_raw=row["welch_p"], tost_p=row["welch_tost_p"]),
        Analysis(name="exact permutation", p=row["perm_p_holm"], p_raw=row["perm_p"], tost_p=row["perm_tost_p"],
                 min_p=perm.min_p, min_tost_p=perm.min_tost_p, runs=(perm.n_treatment, perm.n_control),
                 reason=perm.reason),
    ]
    res = combine(analyses, row["margin"], row["sesoi"], alpha=alpha)
    student, welch, permutation = (single_verdict(a, row["margin"], row["sesoi"], alpha=alpha) for a in analyses)
    return {"verdict_student": student, "verdict_welch": welch, "verdict_permutation": permutation,
            "verdict": res.verdict, "verdicts_agree": res.agree, "verdict_note": res.note}


def _compare(name: str, treatment: str, control: str, t: np.ndarray, c: np.ndarray, valid: np.ndarray,
             clusters: np.ndarray | None, langs: list[str], g: pd.DataFrame, d: Declaration
             ) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """One (score, comparison): the joint bootstrap once, then a summary row per language subset and
    the per-language table. ``t``/``c``: [runs, languages, items] item scores; ``valid``: [languages,
    items], the items each language has."""
    target = SCORES[name][1]
    common = {"higher_is_better": target.higher_is_better, "n_boot": d.n_boot, "seed": d.bootstrap_seed,
              "confidence": d.confidence}
    if clusters is not None:
        boot = paired_cluster_bootstrap(t, c, clusters, **common)
    else:
        boot = paired_stratified_bootstrap([t[:, li, v] for li, v in enumerate(valid)],
                                           [c[:, li, v] for li, v in enumerate(valid)], **common)
    t_score, c_score = np.nanmean(t, axis=2).mean(axis=0), np.nanmean(c, axis=2).mean(axis=0)
    low, high = boot.language_ci()
    head = {"comparison": f"{treatment} vs {control}", "treatment": treatment, "control": control, "target": name}
    per_language = pd.DataFrame({
        **head, "language": langs, "script": g["script"].to_numpy(), "covered": g["covered"].to_numpy(),
        "in_cc100": g["in_cc100"].to_numpy(), "treatment_score": t_score, "control_score": c_score,
        "margin": boot.margins, "ci_low": low, "ci_high": high,
    })
    seeded = min(len(t), len(c)) >= d.min_seeds
    # An untrained control (the baseline) is one deterministic run: a constant the treatment's runs
    # are tested against (one-sample t), when the treatment has enough seeds. Declared rows only:
    # undeclared rows show a seed interval only where both arms have seeds.
    constant = not arms.ARMS[control].trained
    against_constant = constant and len(t) >= d.min_seeds
    rows = []
    for grouping, group, mask in subsets(g):
        estimate, lo, hi = boot.macro(mask)
        _, lang_lo, lang_hi = boot.macro(mask, resample_languages=True)
        improved, hurt, tied = language_counts(boot.margins[mask])
        declared = d.find((treatment, control), name, group) if grouping == "overall" else None
        role = declared[0] if declared else "descriptive" if grouping == "overall" else "exploratory"
        row = {
            **head, "higher_is_better": target.higher_is_better,
            "treatment_runs": len(t), "control_runs": len(c),
            "grouping": grouping, "group": group, "n_languages": int(mask.sum()),
            "treatment_score": float(t_score[mask].mean()), "control_score": float(c_score[mask].mean()),
            "margin": estimate, "ci_low": lo, "ci_high": hi, "ci_low_languages": lang_lo,
            "ci_high_languages": lang_hi, "improved": improved, "hurt": hurt, "tied": tied, "role": role,
            "test": "", "seed_ci_low": np.nan, "seed_ci_high": np.nan, "se": np.nan, "df": np.nan,
            "p": np.nan, "sesoi": np.nan, "tost_p": np.nan, "mde": np.nan,
            "n_boot": d.n_boot, "bootstrap_seed": d.bootstrap_seed,
        }
        t_runs, c_runs = run_scores(t, mask), run_scores(c, mask)
        row |= {"treatment_sd": _sd(t_runs, not arms.ARMS[treatment].trained),
                "control_sd": _sd(c_runs, constant)}
        if seeded and not constant:  # the runs' own spread: the interval that carries seed variance
            row |= _run_test(t_runs, c_runs, target, declared, d)
        elif declared and against_constant:
            row |= _run_test(t_runs, c_runs, target, declared, d, control_constant=True)
        elif declared and constant:
            row["test"] = (f"none: {len(t)} seeds against the untrained {control}, fewer than "
                           f"{d.min_seeds} (descriptive)")
        elif declared:
            row["test"] = f"none: {len(t)} and {len(c)} seeds, fewer than {d.min_seeds} (descriptive)"
        rows.append(row)
    return rows, per_language


def _judged(rows: list[dict[str, Any]], d: Declaration) -> pd.DataFrame:
    """The summary table: Holm within each declared family (Student, Welch, permutation), then each
    declared row's verdicts; the sensitivity columns last."""
    extra = ["_perm", "_designated", *SENSITIVITY_COLUMNS]
    summary = pd.DataFrame([{k: v for k, v in r.items() if k not in extra} for r in rows])
    side = pd.DataFrame([{k: r.get(k, np.nan) for k in extra} for r in rows], index=summary.index)
    families = holm_families(d)
    for column, source in (("p_holm", summary["p"]), ("welch_p_holm", side["welch_p"]),
                           ("perm_p_holm", side["perm_p"])):
        adjusted = source.to_numpy(dtype=np.float64).copy()  # the primary is one hypothesis: unadjusted
        for family in families:
            members = (summary["role"] == family).to_numpy()
            adjusted[members] = holm(adjusted[members])
        (summary if column == "p_holm" else side)[column] = adjusted
    declared_rows = summary["role"].isin([role for role, _ in d.roles]).to_numpy()
    verdicts = pd.DataFrame(
        [_verdicts(pd.concat([summary.iloc[i], side.iloc[i]]), d.alpha) if declared_rows[i] else {}
         for i in range(len(summary))], index=summary.index,
        columns=["verdict_student", "verdict_welch", "verdict_permutation", "verdict", "verdicts_agree",
                 "verdict_note"])
    side[verdicts.columns] = verdicts.astype(object)
    summary = pd.concat([summary, side[list(SENSITIVITY_COLUMNS)]], axis=1)
    return summary


def compute_margins(
    comparisons: Sequence[tuple[str, str]],
    runs: Sequence[str],
    *,
    root: Path = PREDICTIONS_DIR,
    targets: Sequence[str] = tuple(SCORES),
    groups: pd.DataFrame | Callable[[str, list[str]], pd.DataFrame] | None = None,
    metadata: pd.DataFrame | None = None,
    exclude_languages: Sequence[str] = (PIVOT,),
    declaration: Declaration = DECLARATION,
) -> MarginTables:
    """Margins with cluster-bootstrap CIs, and the declared comparisons' run-level tests.

    ``comparisons``: (treatment, control) arm names; ``runs``: the runs whose predictions exist (seed
    runs ``<arm>.s<k>`` join their arm's group). ``groups``: :func:`language_groups`'s table, computed
    from the tokenizer when None. Every (comparison, target) is bootstrapped once with the
    declaration's seed; all subsets of languages are macro-averages of that one joint resampling.
    """
    unknown = [t for t in targets if t not in SCORES]
    if unknown:
        raise BenchmarkError(f"unknown target(s) {', '.join(unknown)}; expected some of {', '.join(SCORES)}")
    by_arm = _resolve(comparisons, runs)
    needed = list(dict.fromkeys(run for pair in comparisons for arm in pair for run in by_arm[arm]))
    sources = list(dict.fromkeys(SCORES[t][0].name for t in targets))
    preds = {name: load_predictions(name, needed, root) for name in sources}
    grids = {t: item_scores(preds[SCORES[t][0].name], t) for t in targets}
    meta = None
    if any(SCORES[t][0].items == "parallel" for t in targets):
        meta = load_metadata() if metadata is None else metadata
    excluded = set(exclude_languages)

    def groups_of(target: str) -> pd.DataFrame:
        langs = sorted(set(grids[target][0]) - excluded)
        spec = SCORES[target][0]
        table = groups(spec.name, langs) if callable(groups) else groups
        if table is None:
            if spec.items != "parallel":
                raise BenchmarkError(f"{target}: no language groups given for target {spec.name!r}")
            table = language_groups(langs)
        lacking = sorted(set(langs) - set(table.index))
        if lacking:
            raise BenchmarkError(f"language groups of {spec.name} lack {', '.join(lacking)}")
        return table

    tables = {t: groups_of(t) for t in targets}

    rows, lang_rows = [], []
    for name in targets:
        spec = SCORES[name][0]
        languages, ids, scores = grids[name]
        keep = np.array([lang not in excluded for lang in languages])
        langs = [lang for lang, k in zip(languages, keep) if k]
        if not langs:
            raise BenchmarkError(f"{name}: no languages left after excluding {', '.join(exclude_languages)}")
        clusters = item_clusters(ids, meta) if spec.items == "parallel" else None
        valid = ~np.isnan(scores[next(iter(scores))][keep])  # [n_languages, n_items]: the items each language has
        for treatment, control in comparisons:
            t = np.stack([scores[run][keep] for run in by_arm[treatment]])
            c = np.stack([scores[run][keep] for run in by_arm[control]])
            summary_rows, per_language = _compare(name, treatment, control, t, c, valid, clusters, langs,
                                                  tables[name].loc[langs], declaration)
            rows += summary_rows
            lang_rows.append(per_language)
    summary = _judged(rows, declaration)
    return MarginTables(summary=summary, per_language=pd.concat(lang_rows, ignore_index=True))
