"""benchmark.analysis: the paired cluster bootstrap, the run-level test, Holm, language groups and the
validated margin tables. Hand-checkable cases with exact expected values; seconds in all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.analysis import groups as grp
from benchmark.analysis import margins as mg
from benchmark.analysis.declaration import DECLARATION
from benchmark.analysis.stats import holm, language_counts, paired_cluster_bootstrap, run_level_test
from benchmark.targets.registry import SCORES
from benchmark.data.flores import load_metadata
from benchmark.io import BenchmarkError

# --- the bootstrap -------------------------------------------------------------------------------


def test_identical_arms_give_zero_margin_and_degenerate_ci() -> None:
    rng = np.random.default_rng(1)
    scores = (rng.random((1, 5, 40)) < 0.3).astype(float)
    clusters = np.repeat(np.arange(10), 4)
    res = paired_cluster_bootstrap(scores, scores, clusters, higher_is_better=False, n_boot=300)
    assert res.estimate == 0.0 and res.ci_low == 0.0 and res.ci_high == 0.0
    assert np.all(res.replicates == 0.0) and np.all(res.margins == 0.0)
    assert res.n_boot == 300 and res.seed == 0 and res.replicates.shape == (300, 5)
    # Identical seed groups: seeds are averaged, not resampled, so the margin is 0 in every replicate.
    seeds = (rng.random((2, 5, 40)) < 0.3).astype(float)
    res = paired_cluster_bootstrap(seeds, seeds, clusters, higher_is_better=False, n_boot=300)
    assert res.estimate == 0.0 and np.all(res.replicates == 0.0)


def test_better_on_every_item_gives_positive_margin_excluding_zero() -> None:
    rng = np.random.default_rng(2)
    control_err = (rng.random((3, 100)) < 0.3).astype(float)  # text arm: wrong on ~30% of items
    treatment_err = np.zeros_like(control_err)  # multimodal arm: never wrong
    clusters = np.repeat(np.arange(25), 4)
    res = paired_cluster_bootstrap(treatment_err, control_err, clusters, higher_is_better=False)
    assert res.estimate == pytest.approx(control_err.mean(), abs=1e-12)
    np.testing.assert_allclose(res.margins, control_err.mean(axis=1), atol=1e-12)
    assert 0.0 < res.ci_low < res.estimate < res.ci_high
    low, high = res.language_ci()
    assert np.all(low > 0.0) and np.all(high >= low)
    # Accuracy instead of error: same data read as correctness, sign flips with higher_is_better.
    acc = paired_cluster_bootstrap(1 - treatment_err, 1 - control_err, clusters, higher_is_better=True)
    np.testing.assert_allclose(acc.replicates, res.replicates, atol=1e-12)
    flipped = paired_cluster_bootstrap(treatment_err, control_err, clusters, higher_is_better=True)
    assert flipped.estimate == pytest.approx(-res.estimate)


def test_ratio_estimator_on_two_clusters_by_hand() -> None:
    # Cluster a holds items 0 and 1 (margin 1 each), cluster b item 2 (margin 0). A replicate draws
    # two clusters: aa -> 1, ab or ba -> 2/3 (three items, two of them won), bb -> 0.
    control = np.array([[1.0, 1.0, 0.0]])
    treatment = np.zeros((1, 3))
    res = paired_cluster_bootstrap(treatment, control, ["a", "a", "b"], higher_is_better=False, n_boot=4000, seed=3)
    assert res.estimate == pytest.approx(2 / 3)
    values, counts = np.unique(np.round(res.replicates[:, 0], 12), return_counts=True)
    np.testing.assert_allclose(values, [0.0, round(2 / 3, 12), 1.0])
    np.testing.assert_allclose(counts / 4000, [0.25, 0.5, 0.25], atol=0.03)
    assert (res.ci_low, res.ci_high) == (0.0, 1.0)


def test_seed_runs_are_averaged_not_resampled() -> None:
    # Treatment seed 0 wins everything, seed 1 nothing: every item's seed-averaged margin is 1/2, so
    # every replicate is 1/2 whatever the clusters drawn (a seed bootstrap would spread 0, 1/2, 1: the
    # seeds' variance belongs to the run-level test, not to a resampling of 2 or 3 of them).
    treatment = np.stack([np.zeros((1, 6)), np.ones((1, 6))])
    control = np.ones((1, 1, 6))
    res = paired_cluster_bootstrap(treatment, control, np.arange(6), higher_is_better=False, n_boot=4000)
    assert res.estimate == 0.5 and np.all(res.replicates == 0.5)


def test_languages_resampled_by_hand() -> None:
    # Two languages, margins exactly 1 and 0 on every item: with the languages fixed every replicate is
    # 1/2; resampling the two languages gives 1, 1/2, 0 with probabilities 1/4, 1/2, 1/4.
    control = np.array([[1.0] * 6, [0.0] * 6])
    res = paired_cluster_bootstrap(np.zeros((2, 6)), control, np.arange(6), higher_is_better=False, n_boot=4000)
    assert res.macro() == (0.5, 0.5, 0.5)
    estimate, low, high = res.macro(resample_languages=True)
    assert (estimate, low, high) == (0.5, 0.0, 1.0)
    draws = np.random.default_rng([0, 1]).integers(0, 2, size=(4000, 2))
    np.testing.assert_allclose(np.bincount((draws == 0).sum(axis=1)) / 4000, [0.25, 0.5, 0.25], atol=0.03)
    # A subset of one language has nothing to resample: the same as fixed.
    assert res.macro([True, False], resample_languages=True) == (1.0, 1.0, 1.0)


def test_cluster_bootstrap_widens_by_sqrt_cluster_size_when_clusters_are_copies() -> None:
    # 200 clusters of 4 identical items: the effective sample is 200, not 800. The cluster bootstrap
    # sees that (CI width ~ 2 x the item-level one, sqrt(4)) and matches the analytic cluster SE.
    rng = np.random.default_rng(4)
    per_cluster = (rng.random(200) < 0.4).astype(float)
    control = np.repeat(per_cluster, 4)[None]
    treatment = np.zeros_like(control)
    clustered = paired_cluster_bootstrap(treatment, control, np.repeat(np.arange(200), 4), higher_is_better=False)
    naive = paired_cluster_bootstrap(treatment, control, np.arange(800), higher_is_better=False)
    width_c = clustered.ci_high - clustered.ci_low
    width_n = naive.ci_high - naive.ci_low
    assert 1.7 < width_c / width_n < 2.3
    analytic = 2 * 1.959964 * per_cluster.std() / np.sqrt(200)
    assert width_c == pytest.approx(analytic, rel=0.1)


def test_bootstrap_is_bit_reproducible_and_fast() -> None:
    rng = np.random.default_rng(5)
    clusters = rng.integers(0, 393, 1004)  # ~393 articles over 1004 items, as in FLORES
    t = (rng.random((3, 205, 1004)) < 0.2).astype(float)
    c = (rng.random((3, 205, 1004)) < 0.25).astype(float)
    a = paired_cluster_bootstrap(t, c, clusters, higher_is_better=False)
    b = paired_cluster_bootstrap(t, c, clusters, higher_is_better=False)
    other = paired_cluster_bootstrap(t, c, clusters, higher_is_better=False, seed=1)
    assert np.array_equal(a.replicates, b.replicates) and a.replicates.shape == (2000, 205)
    assert not np.array_equal(a.replicates, other.replicates)
    assert a.ci_low < a.estimate < a.ci_high


def test_macro_over_a_subset_and_bad_inputs() -> None:
    t = np.zeros((1, 2, 4))
    c = np.array([[[1.0, 1, 1, 1], [0, 0, 0, 0]]])
    res = paired_cluster_bootstrap(t, c, [0, 0, 1, 1], higher_is_better=False, n_boot=50)
    assert res.macro([True, False]) == (1.0, 1.0, 1.0)
    assert res.macro() == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="mask"):
        res.macro([False, False])
    with pytest.raises(ValueError, match="share"):
        paired_cluster_bootstrap(t, c[:, :1], [0, 0, 1, 1], higher_is_better=False)
    with pytest.raises(ValueError, match="one id per item"):
        paired_cluster_bootstrap(t, c, [0, 1], higher_is_better=False)
    with pytest.raises(TypeError):
        paired_cluster_bootstrap(t, c, [0, 0, 1, 1], higher_is_better=1)  # type: ignore[arg-type]


# --- tests across languages and Holm ------------------------------------------------------------


def test_holm_by_hand() -> None:
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06.
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([np.nan, 0.5, 0.2]), [np.nan, 0.5, 0.4])  # NaN is not counted in m
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])
    assert holm([]).shape == (0,)
    with pytest.raises(ValueError):
        holm([1.5])


def test_holm_differs_from_bonferroni_and_hochberg() -> None:
    # Step-down: the second smallest is multiplied by m - 1, not m (Bonferroni: 0.04 -> 0.08); and the
    # running max over the sorted p-values (Hochberg's step-up would take a running min: 0.03 -> 0.03).
    p = [0.01, 0.02, 0.03]
    np.testing.assert_allclose(holm(p), [0.03, 0.04, 0.04])
    assert not np.allclose(holm(p), np.minimum(1, np.array(p) * 3))


def test_language_counts() -> None:
    assert language_counts([0.1, -0.2, 0.0, 1e-15, 0.3]) == (2, 1, 2)
    with pytest.raises(ValueError, match="finite"):
        language_counts([np.nan])


# --- the run-level test ---------------------------------------------------------------------------


def test_run_level_test_is_students_t_not_welchs() -> None:
    # Unequal sizes and variances: Student's pooled t and Welch's t give different p; ours is Student's.
    t, c = [0.10, 0.11, 0.13, 0.12, 0.10], [0.20, 0.14, 0.26]
    res = run_level_test(t, c, higher_is_better=False, sesoi=0.05)
    student = stats.ttest_ind(c, t, equal_var=True)
    welch = stats.ttest_ind(c, t, equal_var=False)
    assert res.p == pytest.approx(student.pvalue, rel=1e-12) and res.df == 6
    assert abs(student.pvalue - welch.pvalue) > 0.01
    assert res.margin == pytest.approx(np.mean(c) - np.mean(t))  # error: control - treatment
    ci = student.confidence_interval(0.95)
    assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    # MDE: (t_.975 + t_.80) x SE with df = 6.
    assert res.mde == pytest.approx((stats.t(6).ppf(0.975) + stats.t(6).ppf(0.8)) * res.se)


def test_tost_by_hand() -> None:
    # margin 0.01, SE from 3 vs 3 runs; TOST p = max(P(T > (m + d)/se), P(T < (m - d)/se)).
    t, c = [0.20, 0.21, 0.19], [0.21, 0.22, 0.20]
    res = run_level_test(t, c, higher_is_better=False, sesoi=0.05)
    se = np.sqrt(0.0001 * (2 / 3))
    assert res.se == pytest.approx(se) and res.margin == pytest.approx(0.01)
    assert res.tost_p == pytest.approx(stats.t(4).cdf((0.01 - 0.05) / se))
    assert res.tost_p < 0.05  # the 90% CI (0.01 +- 2.13 x 0.0082) lies inside +-0.05
    narrow = run_level_test(t, c, higher_is_better=False, sesoi=0.015)
    assert narrow.tost_p > 0.05  # ... but not inside +-0.015
    assert np.isnan(run_level_test(t, c, higher_is_better=False).tost_p)  # no SESOI, no TOST


def test_run_level_test_refuses_what_it_cannot_test() -> None:
    with pytest.raises(ValueError, match=">= 2 runs"):
        run_level_test([0.1], [0.2, 0.3], higher_is_better=True)
    with pytest.raises(ValueError, match="do not vary"):
        run_level_test([0.1, 0.1], [0.2, 0.2], higher_is_better=True)


# --- language groups -----------------------------------------------------------------------------


def test_script_extraction() -> None:
    assert grp.script("fra_Latn") == "Latn"
    assert grp.script("zho_Hant") == "Hant"
    assert grp.script("sat_Olck") == "Olck"
    with pytest.raises(BenchmarkError, match="not a FLORES-200 language code"):
        grp.script("french")


def test_cc100_mapping() -> None:
    assert len(grp.CC100_XLMR) == 100
    assert len(grp.CC100_FLORES) == 91  # 100 minus br, fy, la, five romanized, my_zaw
    for inside in ("eng_Latn", "arb_Arab", "nob_Latn", "zho_Hans", "zho_Hant", "swh_Latn", "kmr_Latn", "mya_Mymr"):
        assert inside in grp.CC100_FLORES
    for outside in ("arz_Arab", "nno_Latn", "yue_Hant", "ckb_Arab", "prs_Arab", "dzo_Tibt", "sat_Olck", "wol_Latn"):
        assert outside not in grp.CC100_FLORES


def test_language_groups_on_bundled_data() -> None:
    table = grp.language_groups(["eng_Latn", "dzo_Tibt", "sat_Olck", "yue_Hant", "ace_Arab"])
    assert list(table.columns) == ["script", "unk_rate", "covered", "in_cc100"]
    assert table.loc["eng_Latn"].tolist() == ["Latn", 0.0, True, True]
    for lang in ("dzo_Tibt", "sat_Olck"):  # scripts missing from XLM-R's vocabulary
        assert not table.loc[lang, "covered"] and not table.loc[lang, "in_cc100"]
        assert table.loc[lang, "unk_rate"] > 0.4
    assert table.loc["yue_Hant", "covered"] and not table.loc["yue_Hant", "in_cc100"]
    assert 0.05 < table.loc["ace_Arab", "unk_rate"] < 0.2 and not table.loc["ace_Arab", "covered"]
    with pytest.raises(BenchmarkError, match="unknown FLORES-200 language"):
        grp.unk_rates(["xxx_Latn"])


# --- loading, validating, margins ----------------------------------------------------------------

LANGS = ["deu_Latn", "dzo_Tibt", "fra_Latn", "rus_Cyrl"]
GROUPS = pd.DataFrame({"script": ["Latn", "Tibt", "Latn", "Cyrl"], "unk_rate": [0.0, 0.5, 0.0, 0.0],
                       "covered": [True, False, True, True], "in_cc100": [True, False, True, True]},
                      index=pd.Index(LANGS, name="language"))


@pytest.fixture(scope="module")
def ids() -> np.ndarray:
    return load_metadata().index.to_numpy()[:120]


FLORES_SCORES = [name for name, (target, _) in SCORES.items() if target.name in ("retrieval", "sib")]


def write_retrieval(root: Path, run: str, ids: np.ndarray, error_rate: float, seed: int,
                    langs: list[str] = LANGS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = [pd.DataFrame({"language": lang, "direction": d, "scoring": s, "index_id": ids, "retrieved_id": ids,
                            "correct": rng.random(len(ids)) >= error_rate})
              for lang in langs for d in ("x2eng", "eng2x") for s in ("cosine", "margin")]
    df = pd.concat(frames, ignore_index=True)
    (root / run).mkdir(parents=True, exist_ok=True)
    df.to_parquet(root / run / "retrieval.parquet", index=False)
    return df


def write_sib(root: Path, run: str, ids: np.ndarray, langs: list[str], seed: int) -> None:
    rng = np.random.default_rng(seed)
    cats = np.array(["science", "travel", "health"])
    gold = cats[np.arange(len(ids)) % 3]
    frames = [pd.DataFrame({"language": lang, "index_id": ids, "label": gold,
                            "predicted": np.where(rng.random(len(ids)) < 0.7, gold, cats[0])}) for lang in langs]
    (root / run).mkdir(parents=True, exist_ok=True)
    pd.concat(frames, ignore_index=True).to_parquet(root / run / "sib.parquet", index=False)


def test_run_names_and_seed_groups() -> None:
    assert mg.parse_run("coco-contrastive.s2") == ("coco-contrastive", 2)
    assert mg.parse_run("vqa-shuffled") == ("vqa-shuffled", 0)
    groups = mg.seed_groups(["vqa.s2", "baseline", "vqa", "vqa.s1"])
    assert groups == {"vqa": ["vqa", "vqa.s1", "vqa.s2"], "baseline": ["baseline"]}
    with pytest.raises(BenchmarkError, match="listed twice"):
        mg.seed_groups(["vqa", "vqa"])


def test_missing_run_file_is_named(tmp_path: Path, ids: np.ndarray) -> None:
    write_retrieval(tmp_path, "vqa", ids, 0.2, 0)
    with pytest.raises(BenchmarkError, match=r"no retrieval predictions for run\(s\) vqa.s1, vqa-shuffled"):
        mg.load_predictions("retrieval", ["vqa", "vqa.s1", "vqa-shuffled"], tmp_path)
    with pytest.raises(BenchmarkError, match="no runs for arm.s. caption-mlm"):
        mg.compute_margins([("vqa", "caption-mlm")], ["vqa"], root=tmp_path, groups=GROUPS)


def test_missing_language_is_named(tmp_path: Path, ids: np.ndarray) -> None:
    write_retrieval(tmp_path, "vqa", ids, 0.2, 0)
    write_retrieval(tmp_path, "vqa-shuffled", ids, 0.2, 1, langs=["deu_Latn", "fra_Latn"])
    with pytest.raises(BenchmarkError, match="xsim_margin_x2eng: languages differ between runs: "
                                             "run 'vqa-shuffled' lacks dzo_Tibt, rus_Cyrl"):
        mg.compute_margins([("vqa", "vqa-shuffled")], ["vqa", "vqa-shuffled"], root=tmp_path,
                           targets=["xsim_margin_x2eng"], groups=GROUPS)


def test_missing_items_are_named(tmp_path: Path, ids: np.ndarray) -> None:
    write_retrieval(tmp_path, "vqa", ids, 0.2, 0)
    df = write_retrieval(tmp_path, "vqa-shuffled", ids, 0.2, 1)
    drop = (df["language"] == "fra_Latn") & df["index_id"].isin(ids[[3, 7]])
    df[~drop].to_parquet(tmp_path / "vqa-shuffled" / "retrieval.parquet", index=False)
    with pytest.raises(BenchmarkError, match=f"run 'vqa-shuffled' .* fra_Latn lacks index_id {ids[3]}, {ids[7]}"):
        mg.compute_margins([("vqa", "vqa-shuffled")], ["vqa", "vqa-shuffled"], root=tmp_path,
                           targets=["xsim_cosine_eng2x"], groups=GROUPS)
    df[~drop].iloc[:0].to_parquet(tmp_path / "vqa-shuffled" / "retrieval.parquet", index=False)
    with pytest.raises(BenchmarkError, match="xsim_margin_x2eng: run 'vqa-shuffled' has no retrieval predictions, "
                                             "direction x2eng, scoring margin"):
        mg.compute_margins([("vqa", "vqa-shuffled")], ["vqa", "vqa-shuffled"], root=tmp_path,
                           targets=["xsim_margin_x2eng"], groups=GROUPS)
    pd.concat([df, df.iloc[:1]]).to_parquet(tmp_path / "vqa-shuffled" / "retrieval.parquet", index=False)
    with pytest.raises(BenchmarkError, match="1 duplicate predictions .first: deu_Latn index_id 0"):
        mg.compute_margins([("vqa", "vqa-shuffled")], ["vqa", "vqa-shuffled"], root=tmp_path,
                           targets=["xsim_cosine_x2eng"], groups=GROUPS)


def test_compute_margins_tables(tmp_path: Path, ids: np.ndarray) -> None:
    primary_runs = ["coco-contrastive", "coco-contrastive.s1", "coco-contrastive.s2",
                    "caption-contrastive", "caption-contrastive.s1", "caption-contrastive.s2"]
    runs = [*primary_runs, "vqa", "vqa-shuffled"]
    written = {}
    for k, run in enumerate(runs):
        written[run] = write_retrieval(tmp_path, run, ids, 0.1 if run.startswith("coco") else 0.3, k)
        write_sib(tmp_path, run, ids, ["eng_Latn", *LANGS], k)
    write_retrieval(tmp_path, "vqa-shuffled", ids, 0.3, 0)
    write_retrieval(tmp_path, "vqa", ids, 0.3, 0)  # identical predictions: margin exactly 0
    plan = DECLARATION.model_copy(update={"n_boot": 200})
    summary, per_lang = mg.compute_margins(
        [mg.PRIMARY_COMPARISON, ("vqa", "vqa-shuffled")], runs, root=tmp_path, groups=GROUPS, declaration=plan,
        targets=FLORES_SCORES)

    assert set(summary["target"]) == set(FLORES_SCORES)
    primary = summary[summary["role"] == "primary"]
    assert len(primary) == 1
    row = primary.iloc[0]
    assert (row["comparison"], row["target"], row["grouping"], row["group"]) == (
        "coco-contrastive vs caption-contrastive", "xsim_margin_x2eng", "overall", "covered")
    assert (row["treatment_runs"], row["control_runs"], row["n_languages"]) == (3, 3, 3)
    # The margin from the written predictions, by plain pandas: covered languages, X->eng, margin scoring.
    errors = {run: 1 - df[(df["direction"] == "x2eng") & (df["scoring"] == "margin")
                          & df["language"].isin(["deu_Latn", "fra_Latn", "rus_Cyrl"])]
              .groupby("language")["correct"].mean() for run, df in written.items()}
    coco = np.mean([errors[r] for r in primary_runs[:3]], axis=0)
    caption = np.mean([errors[r] for r in primary_runs[3:]], axis=0)
    assert row["margin"] == pytest.approx(float(np.mean(caption - coco)), abs=1e-12)
    assert 0.1 < row["margin"] < 0.3 and row["ci_low"] > 0 and row["seed_ci_low"] > 0
    assert row["test"] == "run-level t (df=4)" and row["p"] < 0.001 and row["p_holm"] == row["p"]
    assert row["sesoi"] == DECLARATION.primary.sesoi and row["tost_p"] > 0.5  # a 0.2 effect is not within 0.005
    assert 0 < row["mde"] < row["margin"]

    # The secondary family present here: the primary pair on eng->X retrieval and on SIB (the shuffled
    # control has no runs). Holm over exactly those two p-values, by hand.
    secondary = summary[summary["role"] == "secondary"].sort_values("target")
    assert list(secondary["target"]) == ["sib_accuracy", "xsim_margin_eng2x"]
    assert (secondary["group"] == "covered").all() and secondary["p"].notna().all()
    p1, p2 = sorted(secondary["p"])
    expected = {p1: min(1, 2 * p1), p2: min(1, max(2 * p1, p2))}
    for p, adjusted in zip(secondary["p"], secondary["p_holm"]):
        assert adjusted == pytest.approx(expected[p])

    # No p-value anywhere else: single-seed pairs, undeclared targets and subsets, language groups.
    others = summary[~summary["role"].isin(["primary", "secondary"])]
    assert others["p"].isna().all() and others["p_holm"].isna().all() and others["tost_p"].isna().all()
    assert set(others["role"]) == {"descriptive", "exploratory"}
    multi = others[others["comparison"] == "coco-contrastive vs caption-contrastive"]
    assert multi["seed_ci_low"].notna().all()  # 3 vs 3 seeds: the seed interval is shown, untested
    single = summary[summary["comparison"] == "vqa vs vqa-shuffled"]
    assert single["seed_ci_low"].isna().all() and single["p"].isna().all()

    same = single[single["target"].str.startswith("xsim")]
    assert (same[["margin", "ci_low", "ci_high", "ci_low_languages", "ci_high_languages"]].to_numpy() == 0).all()
    assert (same["tied"] == same["n_languages"]).all()

    # eng_Latn (the SIB probe's training language) is not a transfer target: excluded by default.
    assert "eng_Latn" not in set(per_lang["language"])
    sib_all = summary[(summary["target"] == "sib_accuracy") & (summary["group"] == "all")]
    assert (sib_all["n_languages"] == 4).all()
    assert set(summary["grouping"] + ":" + summary["group"]) == {
        "overall:all", "overall:covered", "coverage:uncovered", "cc100:in", "cc100:out",
        "script:Cyrl", "script:Latn", "script:Tibt"}
    lang = per_lang[(per_lang["target"] == "xsim_margin_x2eng") & (per_lang["comparison"] == "vqa vs vqa-shuffled")]
    assert len(lang) == 4 and (lang["margin"] == 0).all()
    first = per_lang.iloc[0]
    assert first["ci_low"] <= first["margin"] <= first["ci_high"]


@pytest.mark.parametrize(("p", "tost_p", "margin", "verdict"), [
    (float("nan"), float("nan"), 0.001, "not tested (descriptive)"),
    (0.01, 0.30, 0.008, "difference (treatment better)"),
    (0.01, 0.001, 0.0004, "a difference (treatment better) smaller than ±0.005"),  # mini's eng→X row
    (0.30, 0.001, -0.0008, "equivalent within ±0.005"),
    (0.30, 0.30, -0.003, "inconclusive"),
])
def test_report_verdict_reads_both_tests(p: float, tost_p: float, margin: float, verdict: str) -> None:
    """A difference the t-test detects but TOST places inside ±SESOI is not called an effect of interest."""
    from benchmark.report.answer import _verdict

    assert _verdict(pd.Series({"p": p, "tost_p": tost_p, "margin": margin, "sesoi": 0.005})) == verdict


def test_question_family_roles_and_holm_within(tmp_path: Path, ids: np.ndarray) -> None:
    """Multimodal vs textual: the headline pair and the rest of the family are tested (>= 3 seeds each)
    and Holm-adjusted within their own family; a single-seed textual arm stays descriptive."""
    seeded = {arm: [arm, f"{arm}.s1", f"{arm}.s2"] for arm in ("coco-contrastive", "hellaswag", "multitask-bundled")}
    runs = [r for group in seeded.values() for r in group] + ["cosmosqa"]
    rates = {"coco-contrastive": 0.1, "hellaswag": 0.3, "multitask-bundled": 0.35, "cosmosqa": 0.3}
    for k, run in enumerate(runs):
        write_retrieval(tmp_path, run, ids, rates[run.split(".")[0]], k)
    pairs = [("coco-contrastive", "hellaswag"), ("coco-contrastive", "multitask-bundled"),
             ("coco-contrastive", "cosmosqa")]
    plan = DECLARATION.model_copy(update={"n_boot": 200})
    summary, _ = mg.compute_margins(pairs, runs, root=tmp_path, groups=GROUPS, declaration=plan,
                                    targets=["xsim_margin_x2eng"])
    declared = summary[summary["role"].isin(["headline", "question"])].set_index("comparison")
    assert declared.loc["coco-contrastive vs hellaswag", "role"] == "headline"
    assert declared.loc["coco-contrastive vs multitask-bundled", "role"] == "question"
    assert declared.loc["coco-contrastive vs cosmosqa", "role"] == "question"
    assert (declared["group"] == "covered").all()
    # One tested row per family: Holm leaves it unchanged; the single-seed arm has no p-value.
    for name in ("coco-contrastive vs hellaswag", "coco-contrastive vs multitask-bundled"):
        assert declared.loc[name, "p"] < 0.05 and declared.loc[name, "p_holm"] == declared.loc[name, "p"]
    cosmos = declared.loc["coco-contrastive vs cosmosqa"]
    assert cosmos["p"] != cosmos["p"] and cosmos["test"].startswith("none: 3 and 1 seeds")
    assert DECLARATION.find(("coco-contrastive", "mnli"), "xsim_margin_x2eng", "covered")[0] == "headline"
    assert DECLARATION.find(("vqa", "squad"), "xsim_margin_x2eng", "covered")[0] == "question"
    assert DECLARATION.find(("vqa", "squad"), "sib_accuracy", "covered") is None
