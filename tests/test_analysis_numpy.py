"""An independent recomputation of the primary margin, its bootstrap CIs and its run-level test, in
plain numpy with loops.

Nothing from benchmark.analysis.stats is used here: predictions are read back from the parquet files,
replicates are built by literally concatenating the items of the drawn articles, and the t-test is
written out from its textbook formulas. Only the RNG protocol is shared (it has to be, for the numbers
to agree), as documented in benchmark/analysis/stats.py:

    1. np.random.default_rng(seed).integers(0, n_clusters, size=(n_boot, n_clusters))
       # clusters = sorted unique article URLs; every arm's scores averaged over its seed runs
    2. np.random.default_rng([seed, 1]).integers(0, m, size=(n_boot, m))
       # languages resampled: positions within the subset's m languages, in their sorted order
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.analysis.declaration import DECLARATION
from benchmark.analysis.margins import PRIMARY_COMPARISON, compute_margins
from benchmark.data.flores import load_metadata

LANGS = ["deu_Latn", "dzo_Tibt", "fra_Latn", "sat_Olck", "swh_Latn", "zho_Hans"]
COVERED = ["deu_Latn", "fra_Latn", "swh_Latn", "zho_Hans"]  # dzo_Tibt, sat_Olck: ~50% <unk>
TREATMENT = ["coco-contrastive", "coco-contrastive.s1", "coco-contrastive.s2"]
CONTROL = ["caption-contrastive", "caption-contrastive.s1", "caption-contrastive.s2"]
SEED, N_BOOT = 11, 2000


def write_predictions(root: Path) -> None:
    ids = load_metadata().index.to_numpy()
    rng = np.random.default_rng(0)
    for r, run in enumerate(TREATMENT + CONTROL):
        base = 0.10 if run.startswith("coco") else 0.16
        frames = []
        for j, lang in enumerate(LANGS):
            for direction in ("x2eng", "eng2x"):
                for scoring in ("cosine", "margin"):
                    correct = rng.random(len(ids)) >= base + 0.05 * j + 0.01 * r
                    frames.append(pd.DataFrame({
                        "language": lang, "direction": direction, "scoring": scoring, "index_id": ids,
                        "retrieved_id": np.where(correct, ids, -1), "correct": correct}))
        # Shuffled rows: the loaders must align by (language, index_id), not by position.
        df = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=r)
        (root / run).mkdir(parents=True)
        df.to_parquet(root / run / "retrieval.parquet", index=False)


def plain_bootstrap(root: Path, langs: list[str]) -> tuple[float, float, float, dict[str, float], tuple[float, float],
                                                          dict[str, list[float]]]:
    """(macro margin, ci_low, ci_high, per-language margins, (ci_low, ci_high) with languages
    resampled, each arm's run-level scores), text error - multimodal error."""
    urls = load_metadata()["url"]
    errors: dict[str, dict[str, np.ndarray]] = {}
    for run in TREATMENT + CONTROL:
        df = pd.read_parquet(root / run / "retrieval.parquet")
        df = df[(df["direction"] == "x2eng") & (df["scoring"] == "margin")]
        errors[run] = {}
        for lang in langs:
            one = df[df["language"] == lang].set_index("index_id").sort_index()
            assert list(one.index) == sorted(urls.index)
            errors[run][lang] = np.array([0.0 if ok else 1.0 for ok in one["correct"]])
    item_ids = sorted(urls.index)
    articles = sorted(set(urls))
    members = {a: [] for a in articles}
    for pos, index_id in enumerate(item_ids):
        members[urls[index_id]].append(pos)
    cluster_items = [np.array(members[a]) for a in articles]

    per_lang = {}
    for lang in langs:
        t = np.mean([errors[run][lang].mean() for run in TREATMENT])
        c = np.mean([errors[run][lang].mean() for run in CONTROL])
        per_lang[lang] = c - t
    point = float(np.mean([per_lang[lang] for lang in langs]))

    cluster_draws = np.random.default_rng(SEED).integers(0, len(articles), size=(N_BOOT, len(articles)))
    language_draws = np.random.default_rng([SEED, 1]).integers(0, len(langs), size=(N_BOOT, len(langs)))
    replicates, replicates_langs = [], []
    for r in range(N_BOOT):
        items = np.concatenate([cluster_items[c] for c in cluster_draws[r]])
        margins = []
        for lang in langs:
            t = np.mean([errors[run][lang][items].mean() for run in TREATMENT])
            c = np.mean([errors[run][lang][items].mean() for run in CONTROL])
            margins.append(c - t)
        replicates.append(np.mean(margins))
        replicates_langs.append(np.mean([margins[j] for j in language_draws[r]]))
    low, high = np.percentile(replicates, [2.5, 97.5])
    lang_low, lang_high = np.percentile(replicates_langs, [2.5, 97.5])
    runs = {arm: [float(np.mean([errors[run][lang].mean() for lang in langs])) for run in members_]
            for arm, members_ in (("treatment", TREATMENT), ("control", CONTROL))}
    return point, float(low), float(high), per_lang, (float(lang_low), float(lang_high)), runs


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    root = tmp_path_factory.mktemp("predictions")
    write_predictions(root)
    plan = DECLARATION.model_copy(update={"n_boot": N_BOOT, "bootstrap_seed": SEED})
    summary, per_lang = compute_margins([PRIMARY_COMPARISON], TREATMENT + CONTROL, root=root,
                                        targets=["xsim_margin_x2eng"], declaration=plan)
    return root, summary, per_lang


def test_primary_margin_and_ci_match_plain_numpy(tables: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    root, summary, per_lang = tables
    # The package measured coverage with the real tokenizer; the plain path takes the known answer.
    assert sorted(per_lang.loc[per_lang["covered"], "language"]) == COVERED
    row = summary[summary["role"] == "primary"].iloc[0]
    assert (row["grouping"], row["group"], row["n_languages"]) == ("overall", "covered", 4)
    assert (row["treatment_runs"], row["control_runs"]) == (3, 3)
    point, low, high, by_lang, (lang_low, lang_high), runs = plain_bootstrap(root, COVERED)
    assert row["margin"] == pytest.approx(point, abs=1e-6)
    assert row["ci_low"] == pytest.approx(low, abs=1e-6)
    assert row["ci_high"] == pytest.approx(high, abs=1e-6)
    assert (row["ci_low_languages"], row["ci_high_languages"]) == pytest.approx((lang_low, lang_high), abs=1e-6)
    assert lang_low < low  # four languages of different difficulty: resampling them widens the interval
    assert low < point < high and point > 0.03  # the coco runs err ~6 points less, by construction
    for lang, margin in by_lang.items():
        assert per_lang.set_index("language").loc[lang, "margin"] == pytest.approx(margin, abs=1e-12)
    # The run-level t-test from its formulas: pooled variance, df = 3 + 3 - 2, two-sided p.
    t, c = np.array(runs["treatment"]), np.array(runs["control"])
    se = np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2 * (1 / 3 + 1 / 3))
    assert row["se"] == pytest.approx(se, rel=1e-9) and row["df"] == 4
    assert row["p"] == pytest.approx(2 * stats.t(4).sf(abs(c.mean() - t.mean()) / se), rel=1e-9)
    assert row["seed_ci_high"] - row["margin"] == pytest.approx(stats.t(4).ppf(0.975) * se, rel=1e-9)


def test_all_languages_macro_matches_plain_numpy(tables: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    root, summary, _ = tables
    row = summary[summary["group"] == "all"].iloc[0]
    point, low, high, *_ = plain_bootstrap(root, LANGS)
    assert (row["margin"], row["ci_low"], row["ci_high"]) == pytest.approx((point, low, high), abs=1e-6)


def plain_run_scores(root: Path, langs: list[str]) -> dict[str, list[float]]:
    """Each run's X->eng margin-scoring error, averaged over its items per language, then over ``langs``."""
    out: dict[str, list[float]] = {"treatment": [], "control": []}
    for arm, members in (("treatment", TREATMENT), ("control", CONTROL)):
        for run in members:
            df = pd.read_parquet(root / run / "retrieval.parquet")
            df = df[(df["direction"] == "x2eng") & (df["scoring"] == "margin")]
            out[arm].append(float(np.mean([1.0 - df.loc[df["language"] == lang, "correct"].mean() for lang in langs])))
    return out


def test_sensitivity_analyses_match_plain_numpy(tables: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    """Welch's t from its textbook formulas, and the exact permutation test by enumerating the 20 ways to
    label 3 of the 6 runs "treatment" in a plain loop."""
    import itertools

    root, summary, _ = tables
    row = summary[summary["role"] == "primary"].iloc[0]
    runs = plain_run_scores(root, COVERED)
    t, c = np.array(runs["treatment"]), np.array(runs["control"])
    sesoi = DECLARATION.primary.sesoi
    assert (row["treatment_sd"], row["control_sd"]) == pytest.approx((t.std(ddof=1), c.std(ddof=1)), rel=1e-9)

    vt, vc = t.var(ddof=1) / 3, c.var(ddof=1) / 3
    se = np.sqrt(vt + vc)
    df = (vt + vc) ** 2 / (vt**2 / 2 + vc**2 / 2)
    margin = c.mean() - t.mean()  # an error: control - treatment, > 0 = the treatment errs less
    assert row["welch_df"] == pytest.approx(df, rel=1e-9)
    assert row["welch_p"] == pytest.approx(2 * stats.t(df).sf(abs(margin) / se), rel=1e-9)
    tost = max(stats.t(df).sf((margin + sesoi) / se), stats.t(df).cdf((margin - sesoi) / se))
    assert row["welch_tost_p"] == pytest.approx(tost, rel=1e-9)

    pooled = list(-t) + list(-c)  # signed so that larger = better (an error's negative)
    labellings = list(itertools.combinations(range(6), 3))
    assert len(labellings) == 20 and labellings[0] == (0, 1, 2)  # the first is the observed one

    def diff(values: list[float], chosen: tuple[int, ...]) -> float:
        return (sum(values[i] for i in chosen) / 3) - (sum(values[i] for i in range(6) if i not in chosen) / 3)

    observed = diff(pooled, (0, 1, 2))
    assert observed == pytest.approx(margin)
    hits = sum(1 for s in labellings if abs(diff(pooled, s)) >= abs(observed) - 1e-12)
    assert row["perm_p"] == pytest.approx(hits / 20) and row["perm_min_p"] == pytest.approx(0.1)
    up = [v + sesoi if i < 3 else v for i, v in enumerate(pooled)]  # H0: margin = -sesoi
    down = [v - sesoi if i < 3 else v for i, v in enumerate(pooled)]  # H0: margin = +sesoi
    p_up = sum(1 for s in labellings if diff(up, s) >= diff(up, (0, 1, 2)) - 1e-12) / 20
    p_down = sum(1 for s in labellings if diff(down, s) <= diff(down, (0, 1, 2)) + 1e-12) / 20
    assert row["perm_tost_p"] == pytest.approx(max(p_up, p_down))
    # The coco runs err ~6 points less than every caption run: the permutation's p is its floor, 0.1,
    # which cannot reach 0.05, so the conservative verdict cannot be a difference.
    assert hits == 2 and row["verdict_permutation"] == "inconclusive" and row["verdict"] == "inconclusive"
    assert row["verdict_student"] == "difference (treatment better)" and not row["verdicts_agree"]
