"""benchmark.analysis: the paired cluster bootstrap, the run-level test, Holm, language groups and the
validated margin tables. Hand-checkable cases with exact expected values; seconds in all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.analysis import margins as mg
from benchmark.analysis.declaration import DECLARATION, Comparison
from benchmark.analysis.stats import (
    holm,
    language_counts,
    paired_cluster_bootstrap,
    permutation_min_p,
    permutation_test,
    run_level_test,
    welch_test,
)
from benchmark.analysis.verdict import Analysis, combine, single_verdict, verdict
from benchmark.data import flores, languages
from benchmark.data.flores import load_metadata
from benchmark.io import BenchmarkError
from benchmark.models import coverage
from benchmark.targets.registry import SCORES

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


def test_welch_matches_scipy() -> None:
    # The same unequal sizes and variances: p, df, CI from scipy's Welch test; TOST as two one-sided
    # Welch tests on the control's runs shifted by -+sesoi (an error: margin = control - treatment).
    t, c = [0.10, 0.11, 0.13, 0.12, 0.10], [0.20, 0.14, 0.26]
    res = welch_test(t, c, higher_is_better=False, sesoi=0.05)
    ref = stats.ttest_ind(c, t, equal_var=False)
    assert res.test == "welch" and res.margin == pytest.approx(np.mean(c) - np.mean(t))
    assert res.p == pytest.approx(ref.pvalue, rel=1e-12) and res.df == pytest.approx(ref.df, rel=1e-12)
    ci = ref.confidence_interval(0.95)
    assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    low = stats.ttest_ind(np.add(c, 0.05), t, equal_var=False, alternative="greater").pvalue
    high = stats.ttest_ind(np.subtract(c, 0.05), t, equal_var=False, alternative="less").pvalue
    assert res.tost_p == pytest.approx(max(low, high), rel=1e-12)
    assert res.mde == pytest.approx((stats.t(ref.df).ppf(0.975) + stats.t(ref.df).ppf(0.8)) * res.se)
    # Accuracy instead of error: the sign flips, the p does not.
    acc = welch_test(t, c, higher_is_better=True, sesoi=0.05)
    assert acc.margin == -res.margin and acc.p == res.p and acc.tost_p == res.tost_p
    # Equal sizes: the same SE as Student's pooled test, fewer df (so a larger p).
    t3, c3 = [0.20, 0.21, 0.19], [0.23, 0.30, 0.26]
    student, welch = (f(t3, c3, higher_is_better=False) for f in (run_level_test, welch_test))
    assert welch.se == pytest.approx(student.se) and 2 < welch.df < student.df == 4 and welch.p > student.p


def test_student_welch_and_permutation_disagree_by_hand() -> None:
    """3 vs 3 runs (accuracy): treatment 10, 11, 12 (SD 1), control 13, 15.5, 18 (SD 2.5), margin -4.5.

    Student: pooled variance (1 + 6.25) / 2, SE sqrt(3.625 x 2/3) = 1.5546, t = 2.895 on 4 df, p 0.044.
    Welch: the same SE on (2.4167^2) / (0.0556 + 2.1701) = 2.624 df, p 0.074.
    Exact permutation, by hand: every treatment run is below every control run, so of the 20 ways to
    choose 3 "treatment" runs among the 6, only the observed split (-4.5) and its complement (+4.5)
    reach |difference| >= 4.5: p = 2/20 = 0.1, which is also the smallest p 3 vs 3 runs can give.
    Permutation TOST against +-5: shifted up by 5 the treatment runs are 15, 16, 17 against 13, 15.5, 18
    (observed difference +0.5, i.e. 3-run sum >= 48 out of a total 94.5): the triples reaching it are
    the 7 containing 18 with a pair summing to >= 30 (15+16, 15+17, 15+15.5, 16+17, 16+15.5, 17+13,
    17+15.5) and 15+16+17 and 16+17+15.5, so 9/20 = 0.45; shifted down by 5 (5, 6, 7) the observed split
    is the lowest, 1/20. TOST p = max = 0.45.
    """
    t, c = [10.0, 11.0, 12.0], [13.0, 15.5, 18.0]
    student = run_level_test(t, c, higher_is_better=True, sesoi=5.0)
    welch = welch_test(t, c, higher_is_better=True, sesoi=5.0)
    perm = permutation_test(t, c, higher_is_better=True, sesoi=5.0)
    assert student.se == pytest.approx(np.sqrt(3.625 * 2 / 3)) and student.df == 4
    assert student.p == pytest.approx(stats.ttest_ind(t, c).pvalue, rel=1e-12) and student.p < 0.05
    assert welch.df == pytest.approx(2.4167**2 / (1 / 18 + 6.25**2 / 18), rel=1e-3)
    assert welch.p == pytest.approx(stats.ttest_ind(t, c, equal_var=False).pvalue, rel=1e-12) and welch.p > 0.05
    assert (perm.p, perm.tost_p, perm.min_p, perm.min_tost_p, perm.n_relabellings) == (0.1, 0.45, 0.1, 0.05, 20)
    assert perm.margin == -4.5 and perm.applicable
    # The designated test alone would call it; the conservative verdict does not, and says why.
    res = combine([{"name": "Student t", "p": student.p, "tost_p": student.tost_p},
                   {"name": "Welch t", "p": welch.p, "tost_p": welch.tost_p},
                   {"name": "exact permutation", "p": perm.p, "tost_p": perm.tost_p, "min_p": perm.min_p,
                    "min_tost_p": perm.min_tost_p, "runs": (3, 3)}], perm.margin, 5.0)
    assert res.verdict == "inconclusive" and not res.agree
    assert res.verdicts["Student t"] == "difference (control better)"
    assert "Welch t: inconclusive (p 0.0737" in res.note
    assert ("exact permutation: inconclusive (p 0.1, TOST p 0.45; smallest attainable p 0.1 and TOST p 0.05 with "
            "3 vs 3 runs)") in res.note


def test_permutation_test_counts_ties_and_unequal_sizes() -> None:
    # 2 vs 1 runs: 3 relabellings, floor 1/3 (unequal sizes: no complement with the same sizes).
    # Splits of 1, 2 | 3: {1,2}|3 -> -1.5 (observed), {1,3}|2 -> 0, {2,3}|1 -> +1.5: two reach 1.5, p = 2/3.
    res = permutation_test([1.0, 2.0], [3.0], higher_is_better=True)
    assert (res.n_relabellings, res.min_p, res.min_tost_p) == (3, 1 / 3, 1 / 3)
    assert res.p == pytest.approx(2 / 3) and res.margin == -1.5
    # 1, 2 | 10: -8.5 (observed), +3.5, +5: only the observed split, p = 1/3, the floor.
    assert permutation_test([1.0, 2.0], [10.0], higher_is_better=True).p == pytest.approx(1 / 3)
    assert permutation_min_p(4, 4) == (2 / 70, 1 / 70) and permutation_min_p(5, 3) == (1 / 56, 1 / 56)
    # Identical runs everywhere: every relabelling ties the observed 0, p = 1 (float noise is no escape).
    same = permutation_test([0.1 + 0.2, 0.3, 0.3], [0.3, 0.3, 0.1 + 0.2], higher_is_better=False, sesoi=0.01)
    assert same.p == 1.0 and same.tost_p == 0.05


def test_one_sample_test_against_an_untrained_control() -> None:
    # The baseline is one deterministic run: a constant, not a sample. One-sample t of the treatment's
    # runs against it (df = n_t - 1); Welch's test coincides; the permutation test does not apply.
    t, baseline = [0.070, 0.072, 0.0715], [0.080]
    res = run_level_test(t, baseline, higher_is_better=False, sesoi=0.005, control_constant=True)
    ref = stats.ttest_1samp(t, 0.080)
    assert res.test == "one-sample" and res.df == 2 and res.margin == pytest.approx(0.080 - np.mean(t))
    assert res.p == pytest.approx(ref.pvalue, rel=1e-12) and res.se == pytest.approx(np.std(t, ddof=1) / np.sqrt(3))
    ci = ref.confidence_interval(0.95)  # of the treatment's mean; the margin is baseline - mean (an error)
    assert (res.ci_low, res.ci_high) == pytest.approx((0.080 - ci.high, 0.080 - ci.low), rel=1e-9)
    # TOST: margin <= -0.005 iff mean >= 0.085; margin >= 0.005 iff mean <= 0.075.
    tost = max(stats.ttest_1samp(t, 0.085, alternative="less").pvalue,
               stats.ttest_1samp(t, 0.075, alternative="greater").pvalue)
    assert res.tost_p == pytest.approx(tost, rel=1e-12)
    welch = welch_test(t, baseline, higher_is_better=False, sesoi=0.005, control_constant=True)
    assert (welch.p, welch.df, welch.ci_low, welch.tost_p) == (res.p, res.df, res.ci_low, res.tost_p)
    perm = permutation_test(t, baseline, higher_is_better=False, sesoi=0.005, control_constant=True)
    assert not perm.applicable and np.isnan(perm.p) and np.isnan(perm.tost_p) and np.isnan(perm.min_p)
    assert "one untrained run" in perm.reason
    # Without the flag, one control run is too few for a two-sample test.
    with pytest.raises(ValueError, match=">= 2 runs per arm, got 3 and 1"):
        run_level_test(t, baseline, higher_is_better=False)
    with pytest.raises(ValueError, match="control's runs differ"):
        welch_test(t, [0.08, 0.09], higher_is_better=False, control_constant=True)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: welch_test([0.1], [0.2, 0.3], higher_is_better=True), ">= 2 runs per arm"),
    (lambda: welch_test([0.1, 0.1], [0.2, 0.2], higher_is_better=True), "do not vary"),
    (lambda: welch_test([0.1, np.nan], [0.2, 0.3], higher_is_better=True), "finite"),
    (lambda: welch_test([0.1, 0.2], [0.2, 0.3], higher_is_better=True, sesoi=0.0), "sesoi must be"),
    (lambda: run_level_test([0.1, 0.2], [0.2, 0.3], higher_is_better=True, sesoi=-1.0), "sesoi must be"),
    (lambda: run_level_test([0.1, 0.2], [0.2, 0.3], higher_is_better=True, alpha=1.5), "alpha must lie"),
    (lambda: run_level_test(["a", "b"], [0.2, 0.3], higher_is_better=True), "must be numbers"),
    (lambda: run_level_test([0.1], [0.2], higher_is_better=True, control_constant=True), ">= 2 treatment runs"),
    (lambda: permutation_test([], [0.2], higher_is_better=True), ">= 1 runs per arm"),
    (lambda: permutation_test([0.1], [0.2], higher_is_better=True, sesoi=float("nan")), "sesoi must be"),
    (lambda: permutation_test(np.arange(12.0), np.arange(12.0), higher_is_better=True), "more than 1000000"),
    (lambda: permutation_min_p(0, 3), "integers >= 1"),
    (lambda: welch_test([0.1, 0.2], [0.2, 0.3], higher_is_better=True, control_constant="yes"), "must be a bool"),
])
def test_sensitivity_analyses_refuse_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --- the verdict ----------------------------------------------------------------------------------


VERDICT_CASES = [
    (float("nan"), float("nan"), 0.001, "not tested (descriptive)"),
    (0.01, 0.30, 0.008, "difference (treatment better)"),
    (0.01, 0.30, -0.008, "difference (control better)"),
    (0.01, 0.001, 0.0004, "a difference (treatment better) smaller than ±0.005"),  # mini's eng→X row
    (0.30, 0.001, -0.0008, "equivalent within ±0.005"),
    (0.30, 0.30, -0.003, "inconclusive"),
    (0.05, 0.05, 0.0, "inconclusive"),  # alpha itself does not reject
]


@pytest.mark.parametrize(("p", "tost_p", "margin", "expected"), VERDICT_CASES)
def test_verdict_of_one_test(p: float, tost_p: float, margin: float, expected: str) -> None:
    assert verdict(p, tost_p, margin, 0.005) == expected
    assert verdict(p, tost_p, margin, 0.005, alpha=0.05) == expected


def _analyses(student: tuple[float, float], welch: tuple[float, float], perm: tuple[float, float] | None,
              runs: tuple[int, int] = (5, 5)) -> list[dict]:
    out = [{"name": "Student t", "p": student[0], "tost_p": student[1]},
           {"name": "Welch t", "p": welch[0], "tost_p": welch[1]}]
    if perm is not None:
        floor = permutation_min_p(*runs)
        out.append({"name": "exact permutation", "p": perm[0], "tost_p": perm[1], "min_p": floor[0],
                    "min_tost_p": floor[1], "runs": runs})
    return out


@pytest.mark.parametrize(("student", "welch", "perm", "expected", "agree"), [
    ((0.001, 0.9), (0.004, 0.9), (0.008, 0.9), "difference (treatment better)", True),
    ((0.001, 0.9), (0.07, 0.9), (0.008, 0.9), "inconclusive", False),  # Welch does not reject
    ((0.001, 0.9), (0.004, 0.9), (0.06, 0.9), "inconclusive", False),  # the permutation does not
    ((0.001, 0.01), (0.004, 0.01), (0.008, 0.01), "a difference (treatment better) smaller than ±0.005", True),
    ((0.001, 0.01), (0.004, 0.01), (0.008, 0.2), "difference (treatment better)", False),
    ((0.5, 0.001), (0.5, 0.002), (0.6, 0.008), "equivalent within ±0.005", True),
    ((0.5, 0.001), (0.5, 0.06), (0.6, 0.008), "inconclusive", False),  # Welch's TOST does not show it
    ((0.001, 0.001), (0.07, 0.002), (0.6, 0.008), "equivalent within ±0.005", False),
    ((0.5, 0.5), (0.01, 0.5), (0.008, 0.5), "inconclusive", False),  # the designated test is the holdout
])
def test_conservative_verdict(student, welch, perm, expected: str, agree: bool) -> None:
    res = combine(_analyses(student, welch, perm), 0.002, 0.005)
    assert res.verdict == expected and res.agree is agree
    assert set(res.verdicts) == {"Student t", "Welch t", "exact permutation"}
    assert (res.note == "") is agree
    if not agree:  # the note starts with the designated test and names every analysis that said otherwise
        assert res.note.startswith("Student t: ")
        for name, said in res.verdicts.items():
            assert (f"{name}: {said} (" in res.note) is (name == "Student t" or said != res.verdicts["Student t"])


def test_conservative_verdict_reads_holm_and_names_the_permutation_floor() -> None:
    # The reviewer's secondary row: Student p 0.022 (Holm 0.045), Welch 0.035 (Holm 0.070), 3 vs 3 runs.
    floor, tost_floor = permutation_min_p(3, 3)
    rows = [Analysis(name="Student t", p=0.0448, p_raw=0.0224, tost_p=3e-5),
            Analysis(name="Welch t", p=0.0699, p_raw=0.0350, tost_p=2e-4),
            Analysis(name="exact permutation", p=0.2, p_raw=0.1, tost_p=0.05, min_p=floor, min_tost_p=tost_floor,
                     runs=(3, 3))]
    res = combine(rows, 0.000838, 0.005)
    assert res.verdict == "inconclusive" and not res.agree
    assert res.verdicts["Student t"] == "a difference (treatment better) smaller than ±0.005"
    assert "Welch t: equivalent within ±0.005 (p 0.035, Holm 0.0699, TOST p 0.0002)" in res.note
    assert ("exact permutation: inconclusive (p 0.1, Holm 0.2, TOST p 0.05; smallest attainable p 0.1 and "
            "TOST p 0.05 with 3 vs 3 runs)") in res.note
    # With 3 vs 3 runs no data can make the permutation reject or show equivalence at 0.05: the
    # conservative verdict is never a difference or equivalent there.
    best = Analysis(name="exact permutation", p=floor, tost_p=tost_floor, min_p=floor, min_tost_p=tost_floor,
                    runs=(3, 3))
    assert combine([rows[0], best], 0.001, 0.005).verdict == "inconclusive"
    assert combine([rows[0], best], 0.001, 0.005, alpha=0.11).verdict.startswith("a difference")


def test_conservative_verdict_skips_what_does_not_apply() -> None:
    one_sample = {"name": "one-sample t", "p": 0.001, "tost_p": 0.9}
    welch = {"name": "Welch t", "p": 0.001, "tost_p": 0.9}
    perm = {"name": "exact permutation", "p": float("nan"), "tost_p": float("nan"),
            "reason": "not applicable: the control is one untrained run (a constant)"}
    res = combine([one_sample, welch, perm], -0.02, 0.005)
    assert res.verdict == "difference (control better)" and res.agree
    assert res.verdicts["exact permutation"] == "not applicable: the control is one untrained run (a constant)"
    assert res.note == "exact permutation not applicable: the control is one untrained run (a constant)"
    assert single_verdict(perm, 0.0, 0.005) == res.verdicts["exact permutation"]
    # A row the designated test did not test is not tested, whatever the others say.
    untested = combine([{"name": "Student t", "p": float("nan")}, welch], 0.0, 0.005)
    assert (untested.verdict, untested.agree, untested.note) == ("not tested (descriptive)", True, "")


@pytest.mark.parametrize(("call", "match"), [
    (lambda: verdict(1.5, 0.1, 0.0, 0.005), "p must be a p-value"),
    (lambda: verdict(0.1, None, 0.0, 0.005), "tost_p must be a number"),  # type: ignore[arg-type]
    (lambda: verdict(0.01, 0.1, float("nan"), 0.005), "margin must not be NaN"),
    (lambda: verdict(0.01, 0.1, 0.0, 0.005, alpha=0.0), "alpha must lie"),
    (lambda: combine([], 0.0, 0.005), "at least the designated test"),
    (lambda: combine([{"name": "a", "p": 0.1}, {"name": "a", "p": 0.2}], 0.0, 0.005), "distinct"),
    (lambda: combine([{"name": "a", "p": 0.1, "pee": 0.2}], 0.0, 0.005), "unknown analysis key"),
    (lambda: combine([{"name": "a", "p": 0.1}, {"name": "b", "p": float("nan")}], 0.0, 0.005), "b: no p"),
    (lambda: combine([{"name": "a", "p": 0.1, "reason": "x"}], 0.0, 0.005), "designated test 'a' must apply"),
    (lambda: Analysis(name="a", p=0.1, runs=(3, 0)), "runs must be"),
    (lambda: Analysis(name="", p=0.1), "needs a name"),
    (lambda: combine(["Student"], 0.0, 0.005), "an Analysis or a dict"),  # type: ignore[list-item]
])
def test_verdict_refuses_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --- language groups -----------------------------------------------------------------------------


def test_script_extraction() -> None:
    assert flores.script("fra_Latn") == "Latn"
    assert flores.script("zho_Hant") == "Hant"
    assert flores.script("sat_Olck") == "Olck"
    with pytest.raises(BenchmarkError, match="not a FLORES-200 language code"):
        flores.script("french")


def test_cc100_mapping() -> None:
    assert len(languages.CC100_XLMR) == 100
    assert len(languages.CC100_FLORES) == 91  # 100 minus br, fy, la, five romanized, my_zaw
    for inside in ("eng_Latn", "arb_Arab", "nob_Latn", "zho_Hans", "zho_Hant", "swh_Latn", "kmr_Latn", "mya_Mymr"):
        assert inside in languages.CC100_FLORES
    for outside in ("arz_Arab", "nno_Latn", "yue_Hant", "ckb_Arab", "prs_Arab", "dzo_Tibt", "sat_Olck", "wol_Latn"):
        assert outside not in languages.CC100_FLORES


def test_language_groups_on_bundled_data() -> None:
    table = coverage.language_groups(["eng_Latn", "dzo_Tibt", "sat_Olck", "yue_Hant", "ace_Arab"])
    assert list(table.columns) == ["script", "unk_rate", "covered", "in_cc100"]
    assert table.loc["eng_Latn"].tolist() == ["Latn", 0.0, True, True]
    for lang in ("dzo_Tibt", "sat_Olck"):  # scripts missing from XLM-R's vocabulary
        assert not table.loc[lang, "covered"] and not table.loc[lang, "in_cc100"]
        assert table.loc[lang, "unk_rate"] > 0.4
    assert table.loc["yue_Hant", "covered"] and not table.loc["yue_Hant", "in_cc100"]
    assert 0.05 < table.loc["ace_Arab", "unk_rate"] < 0.2 and not table.loc["ace_Arab", "covered"]
    with pytest.raises(BenchmarkError, match="unknown FLORES-200 language"):
        coverage.unk_rates(["xxx_Latn"])


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

    # The sensitivity analyses, appended after p_holm so that readers of the older columns keep working.
    assert list(summary.columns[-len(mg.SENSITIVITY_COLUMNS) - 1:]) == ["p_holm", *mg.SENSITIVITY_COLUMNS]
    assert list(summary.columns[:6]) == ["comparison", "treatment", "control", "target", "higher_is_better",
                                         "treatment_runs"]
    covered = ["deu_Latn", "fra_Latn", "rus_Cyrl"]
    coco_runs = np.array([errors[r].loc[covered].mean() for r in primary_runs[:3]])
    caption_runs = np.array([errors[r].loc[covered].mean() for r in primary_runs[3:]])
    assert (row["treatment_sd"], row["control_sd"]) == pytest.approx((coco_runs.std(ddof=1), caption_runs.std(ddof=1)))
    welch = stats.ttest_ind(caption_runs, coco_runs, equal_var=False)  # an error: control - treatment
    assert row["welch_p"] == pytest.approx(welch.pvalue, rel=1e-9) and row["welch_df"] == pytest.approx(welch.df)
    assert row["welch_tost_p"] > 0.5 and row["welch_p_holm"] == row["welch_p"]  # the primary: unadjusted
    # Every coco run errs less than every caption run: of the 20 relabellings only the observed split and
    # its complement reach the observed |difference|, p = 2/20 = 0.1, the floor at 3 vs 3.
    assert coco_runs.max() < caption_runs.min()
    assert (row["perm_p"], row["perm_min_p"], row["perm_p_holm"], row["perm_tost_p"]) == (0.1, 0.1, 0.1, 1.0)
    assert row["verdict_student"] == row["verdict_welch"] == "difference (treatment better)"
    assert row["verdict_permutation"] == "inconclusive" and row["verdict"] == "inconclusive"
    assert not row["verdicts_agree"]  # (NaN, for a row without verdicts, would be truthy)
    assert "exact permutation: inconclusive (p 0.1, TOST p 1; smallest attainable p 0.1 and TOST p 0.05 with 3 vs " \
           "3 runs)" in row["verdict_note"]

    # The secondary family present here: the primary pair on eng->X retrieval and on SIB (the shuffled
    # control has no runs). Holm over exactly those two p-values, by hand.
    secondary = summary[summary["role"] == "secondary"].sort_values("target")
    assert list(secondary["target"]) == ["sib_accuracy", "xsim_margin_eng2x"]
    assert (secondary["group"] == "covered").all() and secondary["p"].notna().all()
    p1, p2 = sorted(secondary["p"])
    expected = {p1: min(1, 2 * p1), p2: min(1, max(2 * p1, p2))}
    for p, adjusted in zip(secondary["p"], secondary["p_holm"]):
        assert adjusted == pytest.approx(expected[p])
    # Welch's and the permutation's p are Holm-adjusted within the same family.
    for column in ("welch_p", "perm_p"):
        w1, w2 = sorted(secondary[column])
        expected = {w1: min(1, 2 * w1), w2: min(1, max(2 * w1, w2))}
        for p, adjusted in zip(secondary[column], secondary[f"{column}_holm"]):
            assert adjusted == pytest.approx(expected[p])
    eng2x = secondary.set_index("target").loc["xsim_margin_eng2x"]
    assert (eng2x["perm_p"], eng2x["perm_p_holm"]) == (0.1, 0.2)  # the floor, doubled as the smaller of two
    assert (secondary["verdict"] == "inconclusive").all()
    # eng->X: Student and Welch reject, the permutation cannot; SIB (a noisy probe): all inconclusive, agreed.
    assert not eng2x["verdicts_agree"] and eng2x["verdict_note"].startswith("Student t: difference")
    sib = secondary.set_index("target").loc["sib_accuracy"]
    assert sib["verdicts_agree"] and sib["verdict_note"] == "" and sib["verdict_student"] == "inconclusive"

    # No p-value anywhere else: single-seed pairs, undeclared targets and subsets, language groups.
    others = summary[~summary["role"].isin(["primary", "secondary"])]
    assert others["p"].isna().all() and others["p_holm"].isna().all() and others["tost_p"].isna().all()
    assert set(others["role"]) == {"descriptive", "exploratory"}
    multi = others[others["comparison"] == "coco-contrastive vs caption-contrastive"]
    assert multi["seed_ci_low"].notna().all()  # 3 vs 3 seeds: the seed interval is shown, untested
    single = summary[summary["comparison"] == "vqa vs vqa-shuffled"]
    assert single["seed_ci_low"].isna().all() and single["p"].isna().all()
    # Sensitivity p's and verdicts only on declared rows; the SDs on every row (NaN with one trained run).
    for column in ("welch_p", "welch_tost_p", "welch_df", "perm_p", "perm_tost_p", "perm_min_p", "welch_p_holm",
                   "perm_p_holm", "verdict", "verdict_student", "verdict_note", "verdicts_agree"):
        assert others[column].isna().all(), column
    assert multi["treatment_sd"].notna().all() and multi["control_sd"].notna().all()
    assert single["treatment_sd"].isna().all() and single["control_sd"].isna().all()

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
    from benchmark.analysis.verdict import verdict as one_verdict

    assert one_verdict(p, tost_p, margin, 0.005) == verdict


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


def test_declared_comparison_against_the_untrained_baseline(tmp_path: Path, ids: np.ndarray) -> None:
    """The baseline is one deterministic run: a declared X-vs-baseline row is tested once X has
    ``min_seeds`` runs, by the one-sample t of X's runs against the baseline's score (scipy's
    ttest_1samp), which Welch's test coincides with; the permutation test does not apply. Undeclared
    rows of the same pair stay descriptive, without a seed interval, as before."""
    runs = ["coco-contrastive", "coco-contrastive.s1", "coco-contrastive.s2", "caption-contrastive",
            "caption-contrastive.s1", "baseline"]
    rates = {"coco-contrastive": 0.1, "caption-contrastive": 0.2, "baseline": 0.3}
    written = {run: write_retrieval(tmp_path, run, ids, rates[run.split(".")[0]], k) for k, run in enumerate(runs)}
    family = tuple(Comparison(treatment=arm, control="baseline", target="xsim_margin_x2eng", languages="covered",
                              sesoi=0.005, sesoi_reason="test") for arm in ("coco-contrastive", "caption-contrastive"))
    plan = DECLARATION.model_copy(update={"n_boot": 200, "families": {"versus_baseline": family}})
    pairs = [("coco-contrastive", "baseline"), ("caption-contrastive", "baseline")]
    summary, _ = mg.compute_margins(pairs, runs, root=tmp_path, groups=GROUPS, declaration=plan,
                                    targets=["xsim_margin_x2eng"])
    covered = ["deu_Latn", "fra_Latn", "rus_Cyrl"]
    x2eng = {run: df[(df["direction"] == "x2eng") & (df["scoring"] == "margin") & df["language"].isin(covered)]
             for run, df in written.items()}
    score = {run: float(1 - df.groupby("language")["correct"].mean().mean()) for run, df in x2eng.items()}
    coco = np.array([score[r] for r in runs[:3]])

    declared = summary[summary["role"] == "versus_baseline"].set_index("comparison")
    row = declared.loc["coco-contrastive vs baseline"]
    assert row["test"] == "run-level one-sample t against the untrained control (df=2)" and row["df"] == 2
    ref = stats.ttest_1samp(coco, score["baseline"])
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert row["margin"] == pytest.approx(score["baseline"] - coco.mean())
    ci = ref.confidence_interval(0.95)  # of coco's mean error; the margin is baseline - coco (an error)
    assert (row["seed_ci_low"], row["seed_ci_high"]) == pytest.approx((score["baseline"] - ci.high,
                                                                      score["baseline"] - ci.low), rel=1e-9)
    assert (row["welch_p"], row["welch_df"], row["welch_tost_p"]) == pytest.approx((row["p"], 2, row["tost_p"]))
    assert (row["treatment_sd"], row["control_sd"]) == pytest.approx((coco.std(ddof=1), 0.0))
    assert np.isnan(row["perm_p"]) and np.isnan(row["perm_tost_p"]) and np.isnan(row["perm_min_p"])
    assert row["verdict_permutation"].startswith("not applicable: the control is one untrained run")
    assert row["verdict"] == row["verdict_student"] == row["verdict_welch"] == "difference (treatment better)"
    assert row["verdicts_agree"] and row["verdict_note"].startswith("exact permutation not applicable")
    # One tested row in the family: Holm leaves it as it is.
    assert row["p_holm"] == row["p"] and row["welch_p_holm"] == row["welch_p"]

    # Two caption runs: fewer than min_seeds, so not tested, and the verdict says so.
    short = declared.loc["caption-contrastive vs baseline"]
    assert short["test"] == "none: 2 seeds against the untrained baseline, fewer than 3 (descriptive)"
    assert np.isnan(short["p"]) and short["verdict"] == "not tested (descriptive)" and short["verdicts_agree"]
    assert short["control_sd"] == 0.0 and short["treatment_sd"] > 0

    # Undeclared rows of the same pair: descriptive, no seed interval (as before), the SDs shown.
    rest = summary[(summary["comparison"] == "coco-contrastive vs baseline") & (summary["role"] != "versus_baseline")]
    assert len(rest) and rest["seed_ci_low"].isna().all() and rest["p"].isna().all() and rest["verdict"].isna().all()
    assert (rest["control_sd"] == 0.0).all()
