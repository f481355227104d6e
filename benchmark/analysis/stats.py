"""Statistics for comparing two arms: the designated run-level test, and cluster-bootstrap intervals.

Two questions, two tools (the plan that says which is which: :mod:`benchmark.analysis.declaration`):

* **Would another training seed give the same answer?** The trained run is the unit: each run's
  score is macro-averaged over the languages, and :func:`run_level_test` compares the two arms' runs
  with a two-sample t-test, its TOST equivalence test and minimum detectable effect. This is the only
  source of p-values in the report. Beside it stand the declared sensitivity analyses on the same run
  scores: :func:`welch_test` (unequal variances: the arms' run-to-run spreads differ up to 3.5x in the
  committed runs, where the pooled variance's df is too generous) and :func:`permutation_test` (the
  exact permutation of run labels, with the smallest p it can attain). Against an untrained control
  (one deterministic run, a constant) the test is a one-sample t of the treatment's runs
  (``control_constant=True``); Welch's test coincides with it and the permutation test is not
  applicable. :mod:`benchmark.analysis.verdict` turns the three into one conservative verdict.
* **How much do the numbers depend on which sentences and languages were tested?**
  :func:`paired_cluster_bootstrap` resamples FLORES articles (393 source URLs over the 1004 bundled
  items; sentences of one article share topic and vocabulary, so their errors correlate and resampling
  items one by one would understate the uncertainty) jointly for both arms and every language, on
  seed-averaged scores. :meth:`BootstrapResult.macro` gives its interval with the languages fixed
  (inference to these languages) or resampled too (inference to languages like these). Seeds are not
  resampled: a bootstrap over 3 seeds shrinks their variance by a third, and the seeds have their test.

Bootstrap RNG protocol (``rng = numpy.random.default_rng(seed)``); tests/test_analysis_numpy.py replays
it with plain loops, so any change here must change there too:

1. ``rng.integers(0, n_clusters, size=(n_boot, n_clusters))``: row r lists the clusters replicate r
   draws, with replacement. Clusters are numbered in the sorted order of their ids (``np.unique``).
   The one draw serves every language and both arms.
2. For languages resampled, separately per language subset of size m:
   ``default_rng([seed, 1]).integers(0, m, size=(n_boot, m))``: the positions (within the subset, in
   its order) that replicate r averages.

A replicate's score for a language is the mean over its resampled items (the item count varies with
the clusters drawn), computed as cluster-count-weighted sums of per-cluster sums, never by
materialising the resampled items. Intervals are percentiles of the replicates (``np.percentile``,
its default linear interpolation).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

TIE_TOL = 1e-12  # |margin| below this is a tie (seed-averaged margins carry rounding noise)


@dataclass(frozen=True)
class BootstrapResult:
    """Per-language margins (positive = treatment better) and their bootstrap replicates."""

    margins: np.ndarray  # [n_languages] point estimates
    replicates: np.ndarray  # [n_boot, n_languages]
    n_boot: int
    seed: int
    confidence: float = 0.95

    def _percentiles(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        alpha = (1.0 - self.confidence) / 2.0
        low, high = np.percentile(x, [100.0 * alpha, 100.0 * (1.0 - alpha)], axis=0)
        return low, high

    def macro(self, mask: ArrayLike | None = None, *, resample_languages: bool = False) -> tuple[float, float, float]:
        """(estimate, ci_low, ci_high) of the margin macro-averaged over ``mask``'s languages (all if None).

        Languages fixed: each replicate averages its own per-language margins over the subset, so every
        subset shares the one joint resampling of items. Languages resampled: each replicate also draws
        the subset's languages with replacement (protocol step 2), so the interval covers the choice of
        languages as well.
        """
        keep = np.ones(len(self.margins), bool) if mask is None else np.asarray(mask, bool)
        if keep.shape != self.margins.shape or not keep.any():
            raise ValueError(f"mask must select some of the {len(self.margins)} languages")
        reps = self.replicates[:, keep]
        if resample_languages:
            m = reps.shape[1]
            draws = np.random.default_rng([self.seed, 1]).integers(0, m, size=(self.n_boot, m))
            per_rep = np.take_along_axis(reps, draws, axis=1).mean(axis=1)
        else:
            per_rep = reps.mean(axis=1)
        low, high = self._percentiles(per_rep)
        return float(self.margins[keep].mean()), float(low), float(high)

    @property
    def estimate(self) -> float:
        return self.macro()[0]

    @property
    def ci_low(self) -> float:
        return self.macro()[1]

    @property
    def ci_high(self) -> float:
        return self.macro()[2]

    def language_ci(self) -> tuple[np.ndarray, np.ndarray]:
        """Percentile CI of each language's margin: (low[n_languages], high[n_languages])."""
        return self._percentiles(self.replicates)


def _as_runs(x: ArrayLike, name: str, holes: bool = False) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"{name}: expected per-item scores [n_seeds, n_languages, n_items], got shape {arr.shape}")
    finite = np.isfinite(arr) | (np.isnan(arr) if holes else False)  # holes: NaN for items a language lacks
    if not finite.all() or (holes and np.isnan(arr).all(axis=2).any()):
        raise ValueError(f"{name}: scores must be finite")
    return arr


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` categories occurs in each row of ``draws`` [rows, draws] -> [rows, n]."""
    rows = draws.shape[0]
    flat = (draws + n * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def paired_cluster_bootstrap(
    treatment: ArrayLike,
    control: ArrayLike,
    clusters: ArrayLike,
    *,
    higher_is_better: bool,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Margin of ``treatment`` over ``control`` per language, with a paired cluster bootstrap over items.

    ``treatment``/``control``: per-item scores [n_seeds, n_languages, n_items] (a 2-D array is one
    seed), items aligned between them; each arm's scores are averaged over its seeds first.
    ``clusters``: one id per item (the FLORES article URL). ``higher_is_better`` fixes the sign so that
    a positive margin always means the treatment did better: ``treatment - control`` for an accuracy,
    ``control - treatment`` for an error rate (text-arm error - multimodal-arm error). The interval
    covers item sampling only. Bit-reproducible for a given ``seed``; see the module docstring.
    """
    t = _as_runs(treatment, "treatment")
    c = _as_runs(control, "control")
    if t.shape[1:] != c.shape[1:]:
        raise ValueError(f"treatment and control must share [n_languages, n_items]: {t.shape[1:]} vs {c.shape[1:]}")
    ids = np.asarray(clusters)
    if ids.shape != (t.shape[2],):
        raise ValueError(f"clusters: expected one id per item ({t.shape[2]}), got shape {ids.shape}")
    if n_boot < 1 or not 0.0 < confidence < 1.0:
        raise ValueError("n_boot must be >= 1 and confidence in (0, 1)")
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise TypeError("higher_is_better must be a bool")

    _, codes = np.unique(ids, return_inverse=True)
    codes = codes.ravel()
    n_clu = int(codes.max()) + 1
    onehot = np.zeros((len(codes), n_clu))
    onehot[np.arange(len(codes)), codes] = 1.0

    rng = np.random.default_rng(seed)
    cluster_w = _counts(rng.integers(0, n_clu, size=(n_boot, n_clu)), n_clu)  # step 1
    n_items = cluster_w @ onehot.sum(axis=0)

    # Seed-averaged item differences scaled by k_t * k_c: with 0/1 scores every sum below is an exact
    # integer in float64, so the replicates do not depend on BLAS blocking or threads.
    sign = 1.0 if higher_is_better else -1.0  # "+ 0.0" below: no -0.0 in the tables
    scale = float(t.shape[0] * c.shape[0])
    diff = sign * (c.shape[0] * t.sum(axis=0) - t.shape[0] * c.sum(axis=0))  # [n_languages, n_items]
    margins = diff.sum(axis=1) / (scale * diff.shape[1]) + 0.0
    reps = (cluster_w @ (diff @ onehot).T) / (scale * n_items[:, None]) + 0.0
    return BootstrapResult(margins=margins, replicates=reps, n_boot=n_boot, seed=seed, confidence=confidence)


def paired_stratified_bootstrap(
    treatment: list[ArrayLike],
    control: list[ArrayLike],
    *,
    higher_is_better: bool,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Per-language margins with a paired bootstrap over each language's *own* items.

    For targets whose items are not shared across languages (Tatoeba: every language pair has its
    own English side), language ``l``'s items are resampled with replacement on their own, by a
    generator seeded with ``[seed, l]``, so each language keeps its item count in every replicate.
    ``treatment[l]`` / ``control[l]``: per-item scores [n_seeds, n_items_l] (1-D: one seed), items
    aligned between the two. Sign convention and exact-integer sums as :func:`paired_cluster_bootstrap`.
    """
    if len(treatment) != len(control) or not treatment:
        raise ValueError("treatment and control need the same, non-zero number of languages")
    if n_boot < 1 or not 0.0 < confidence < 1.0:
        raise ValueError("n_boot must be >= 1 and confidence in (0, 1)")
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise TypeError("higher_is_better must be a bool")
    sign = 1.0 if higher_is_better else -1.0
    margins = np.empty(len(treatment))
    reps = np.empty((n_boot, len(treatment)))
    for li, (t_l, c_l) in enumerate(zip(treatment, control)):
        t = _as_runs(np.atleast_2d(t_l)[:, None, :], "treatment")[:, 0]
        c = _as_runs(np.atleast_2d(c_l)[:, None, :], "control")[:, 0]
        if t.shape[1] != c.shape[1]:
            raise ValueError(f"language {li}: {t.shape[1]} treatment items but {c.shape[1]} control items")
        scale, n = float(t.shape[0] * c.shape[0]), t.shape[1]
        diff = sign * (c.shape[0] * t.sum(axis=0) - t.shape[0] * c.sum(axis=0))  # [n_items], exact integers
        weights = _counts(np.random.default_rng([seed, li]).integers(0, n, size=(n_boot, n)), n)
        margins[li] = diff.sum() / (scale * n) + 0.0
        reps[:, li] = weights @ diff / (scale * n) + 0.0
    return BootstrapResult(margins=margins, replicates=reps, n_boot=n_boot, seed=seed, confidence=confidence)


# --- the designated test: runs as the unit ---------------------------------------------------------


@dataclass(frozen=True)
class RunTest:
    """A t-test on run-level scores; margin > 0 means the treatment did better.

    ``df`` is an int for Student's test (``n_t + n_c - 2``, or ``n_t - 1`` against a constant control)
    and a float for Welch's (Welch–Satterthwaite).
    """

    margin: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p: float  # two-sided, H0: margin = 0
    sesoi: float | None
    tost_p: float  # max of the two one-sided p-values, H0: |margin| >= sesoi (NaN without a sesoi)
    mde: float  # smallest |margin| detected with probability `power` at two-sided `alpha`
    test: str = "student"  # "student", "welch" or "one-sample" (against a constant control)


def _check_options(sesoi: float | None, alpha: float, power: float, confidence: float) -> None:
    if sesoi is not None and not (np.isfinite(sesoi) and sesoi > 0):
        raise ValueError(f"sesoi must be a finite number > 0, got {sesoi!r}")
    for name, value in (("alpha", alpha), ("power", power), ("confidence", confidence)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must lie in (0, 1), got {value!r}")


def _runs_of(treatment: ArrayLike, control: ArrayLike, control_constant: bool,
             min_runs: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Both arms' run scores as 1-D float arrays, checked: finite, enough runs, a constant control constant."""
    try:
        t = np.asarray(treatment, dtype=np.float64).ravel()
        c = np.asarray(control, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueError("run scores must be numbers") from None
    if not isinstance(control_constant, (bool, np.bool_)):
        raise ValueError(f"control_constant must be a bool, got {control_constant!r}")
    if not (np.isfinite(t).all() and np.isfinite(c).all()):
        raise ValueError("run scores must be finite")
    if control_constant:
        if len(t) < 2 or len(c) < 1:
            raise ValueError(f"a test against a constant control needs >= 2 treatment runs and the control's "
                             f"score, got {len(t)} and {len(c)}")
        if (c != c[0]).any():
            raise ValueError(f"control_constant: the control's runs differ ({c.min():g} to {c.max():g}); an "
                             "untrained control is one deterministic run")
    elif len(t) < min_runs or len(c) < min_runs:
        raise ValueError(f"a run-level test needs >= {min_runs} runs per arm, got {len(t)} and {len(c)}")
    return t, c


def _t_result(margin: float, se: float, df: float, sesoi: float | None, alpha: float, power: float,
              confidence: float, test: str) -> RunTest:
    """CI, two-sided p, TOST p and MDE of a t statistic with standard error ``se`` on ``df`` degrees of freedom."""
    # scipy.stats.t(df)'s cdf, sf and ppf are these special functions (bit for bit for finite arguments),
    # called directly: the frozen distribution costs milliseconds, and the calibration calls this often.
    def sf(x: float) -> float:
        return float(special.stdtr(df, -x))

    def ppf(q: float) -> float:
        return float(special.stdtrit(df, q))

    half = ppf(0.5 + confidence / 2.0) * se
    p = 2.0 * sf(abs(margin) / se)
    tost_p = max(sf((margin + sesoi) / se), sf(-(margin - sesoi) / se)) if sesoi is not None else float("nan")
    mde = (ppf(1.0 - alpha / 2.0) + ppf(power)) * se
    return RunTest(margin=margin, se=se, df=df, ci_low=margin - half, ci_high=margin + half, p=min(1.0, p),
                   sesoi=sesoi, tost_p=tost_p, mde=mde, test=test)


def _one_sample(t: np.ndarray, c: np.ndarray, higher_is_better: bool, sesoi: float | None, alpha: float,
                power: float, confidence: float) -> RunTest:
    """The treatment's runs against a constant control: one-sample t, df = n_t - 1."""
    se = float(np.sqrt(t.var(ddof=1) / len(t)))
    if se == 0.0:
        raise ValueError("run scores do not vary between runs: no run-level variance to test against")
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (t.mean() - c[0]) + 0.0
    return _t_result(margin, se, len(t) - 1, sesoi, alpha, power, confidence, "one-sample")


def run_level_test(treatment: ArrayLike, control: ArrayLike, *, higher_is_better: bool, sesoi: float | None = None,
                   alpha: float = 0.05, power: float = 0.8, confidence: float = 0.95,
                   control_constant: bool = False) -> RunTest:
    """Student's two-sample t-test (pooled variance, df = n_t + n_c - 2) on one score per run.

    ``treatment``/``control``: each run's score (e.g. macro xsim error over the declared languages).
    The confidence interval, the TOST p (two one-sided tests against +-``sesoi`` at ``alpha``) and
    the minimum detectable effect ``(t_{1-alpha/2} + t_{power}) * se`` all use the same SE and df.
    Needs at least 2 runs per arm (df >= 2) and some run-to-run variance.

    ``control_constant=True``: the control is untrained (the baseline: one deterministic run, no seed
    variance), so its score is a constant, not a sample. The test becomes a one-sample t of the
    treatment's runs against it: SE = s_t / sqrt(n_t), df = n_t - 1 (``test`` = "one-sample").
    """
    t, c = _runs_of(treatment, control, control_constant)
    _check_options(sesoi, alpha, power, confidence)
    if control_constant:
        return _one_sample(t, c, higher_is_better, sesoi, alpha, power, confidence)
    df = len(t) + len(c) - 2
    pooled = ((len(t) - 1) * t.var(ddof=1) + (len(c) - 1) * c.var(ddof=1)) / df
    se = float(np.sqrt(pooled * (1.0 / len(t) + 1.0 / len(c))))
    if se == 0.0:
        raise ValueError("run scores do not vary between runs: no run-level variance to test against")
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (t.mean() - c.mean()) + 0.0
    return _t_result(margin, se, df, sesoi, alpha, power, confidence, "student")


def welch_test(treatment: ArrayLike, control: ArrayLike, *, higher_is_better: bool, sesoi: float | None = None,
               alpha: float = 0.05, power: float = 0.8, confidence: float = 0.95,
               control_constant: bool = False) -> RunTest:
    """Welch's unequal-variance t-test on one score per run: the declared sensitivity analysis for
    arms whose run-to-run spread differs (the pooled variance of :func:`run_level_test` then has the
    wrong df and its false-positive rate exceeds alpha).

    SE = sqrt(s_t^2 / n_t + s_c^2 / n_c); Welch–Satterthwaite
    df = SE^4 / ((s_t^2 / n_t)^2 / (n_t - 1) + (s_c^2 / n_c)^2 / (n_c - 1)), a float between
    min(n_t, n_c) - 1 and n_t + n_c - 2. Its own CI, two-sided p, TOST p and MDE from that SE and df.
    With ``control_constant=True`` (an untrained control: one run, no variance) Welch's test *coincides*
    with the one-sample t of :func:`run_level_test` (s_c = 0 leaves SE = s_t / sqrt(n_t) and
    df = n_t - 1), and the same numbers are returned.
    """
    t, c = _runs_of(treatment, control, control_constant)
    _check_options(sesoi, alpha, power, confidence)
    if control_constant:
        return _one_sample(t, c, higher_is_better, sesoi, alpha, power, confidence)
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    se = float(np.sqrt(vt + vc))
    if se == 0.0:
        raise ValueError("run scores do not vary between runs: no run-level variance to test against")
    df = float((vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1)))
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (t.mean() - c.mean()) + 0.0
    return _t_result(margin, se, df, sesoi, alpha, power, confidence, "welch")


MAX_RELABELLINGS = 1_000_000  # the exact permutation test enumerates them all; beyond this it refuses


@dataclass(frozen=True)
class PermutationTest:
    """Exact permutation test over run labels; margin > 0 means the treatment did better.

    Not applicable (every p NaN, ``reason`` says why) against a constant control: one run, nothing to
    exchange.
    """

    margin: float
    p: float  # two-sided, H0: the run labels are exchangeable (margin = 0)
    sesoi: float | None
    tost_p: float  # max of the two exact one-sided p-values against -+sesoi (NaN without a sesoi)
    min_p: float  # the smallest two-sided p any data can give with these n_t vs n_c runs
    min_tost_p: float  # the smallest one-sided (so TOST) p any data can give
    n_relabellings: int  # C(n_t + n_c, n_t), every one enumerated
    n_treatment: int
    n_control: int
    reason: str = ""  # non-empty: not applicable, and why

    @property
    def applicable(self) -> bool:
        return not self.reason


def permutation_min_p(n_treatment: int, n_control: int) -> tuple[float, float]:
    """(smallest two-sided p, smallest one-sided p) an exact permutation test of the difference of means
    can attain with ``n_treatment`` vs ``n_control`` runs: 1 / C(n, n_t) one-sided; two-sided twice that
    when the arms are the same size (a relabelling and its complement give +-the same statistic).
    3 vs 3 runs: 20 relabellings, two-sided 0.1, one-sided 0.05."""
    if int(n_treatment) != n_treatment or int(n_control) != n_control or n_treatment < 1 or n_control < 1:
        raise ValueError(f"run counts must be integers >= 1, got {n_treatment!r} and {n_control!r}")
    total = math.comb(int(n_treatment) + int(n_control), int(n_treatment))
    return min(1.0, (2.0 if n_treatment == n_control else 1.0) / total), 1.0 / total


def permutation_test(treatment: ArrayLike, control: ArrayLike, *, higher_is_better: bool, sesoi: float | None = None,
                     control_constant: bool = False) -> PermutationTest:
    """Exact permutation test of the difference of run means: every distinct relabelling of the pooled
    runs into n_t "treatment" and n_c "control" runs (``itertools.combinations``), the observed one
    included.

    Two-sided p = #{relabellings with |stat| >= |observed| - tol} / C(n_t + n_c, n_t), stat = the
    difference of means (signed so that > 0 = treatment better), tol = 1e-9 x the largest |score| (so
    that float rounding never breaks a tie). Permutation TOST: the treatment's runs shifted by -sesoi
    (H0: margin = +sesoi; p = share of relabellings with stat <= observed + tol) and by +sesoi
    (H0: margin = -sesoi; stat >= observed - tol), tost_p the larger of the two one-sided p's. Exact
    under exchangeable runs; ``min_p``/``min_tost_p`` say how low these p's can go at all
    (:func:`permutation_min_p`): with 3 vs 3 runs the two-sided p cannot go below 0.1 and the TOST p
    not below 0.05, so neither can be below alpha = 0.05.

    ``control_constant=True`` (an untrained control: one deterministic run) returns every p as NaN with
    the reason: there is one control run and no seed variance to exchange it with.
    """
    t, c = _runs_of(treatment, control, control_constant, min_runs=1)
    if sesoi is not None and not (np.isfinite(sesoi) and sesoi > 0):
        raise ValueError(f"sesoi must be a finite number > 0, got {sesoi!r}")
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (t.mean() - c.mean()) + 0.0
    nan = float("nan")
    if control_constant:
        return PermutationTest(margin=margin, p=nan, sesoi=sesoi, tost_p=nan, min_p=nan, min_tost_p=nan,
                               n_relabellings=0, n_treatment=len(t), n_control=len(c),
                               reason="not applicable: the control is one untrained run (a constant), "
                                      "so there are no run labels to exchange")
    n, m = len(t), len(c)
    total = math.comb(n + m, n)
    if total > MAX_RELABELLINGS:
        raise ValueError(f"exact permutation test: {n} vs {m} runs have {total} relabellings, more than "
                         f"{MAX_RELABELLINGS} to enumerate")
    x = sign * np.concatenate([t, c])  # signed: larger = better
    member = np.zeros((total, n + m))
    for row, chosen in enumerate(itertools.combinations(range(n + m), n)):  # row 0 is the observed labelling
        member[row, list(chosen)] = 1.0
    tol = 1e-9 * max(float(np.abs(x).max()), np.finfo(np.float64).tiny)
    if sesoi is not None:
        tol = max(tol, 1e-9 * sesoi)

    def stat(values: np.ndarray) -> np.ndarray:
        in_t = member @ values
        return in_t / n - (values.sum() - in_t) / m

    s = stat(x)
    p = float(np.mean(np.abs(s) >= abs(s[0]) - tol))
    tost_p = nan
    if sesoi is not None:
        shifted_up = x + sesoi * np.r_[np.ones(n), np.zeros(m)]  # H0: margin = -sesoi, alternative: larger
        shifted_down = x - sesoi * np.r_[np.ones(n), np.zeros(m)]  # H0: margin = +sesoi, alternative: smaller
        up, down = stat(shifted_up), stat(shifted_down)
        tost_p = float(max(np.mean(up >= up[0] - tol), np.mean(down <= down[0] + tol)))
    min_p, min_tost_p = permutation_min_p(n, m)
    return PermutationTest(margin=margin, p=p, sesoi=sesoi, tost_p=tost_p, min_p=min_p, min_tost_p=min_tost_p,
                           n_relabellings=total, n_treatment=n, n_control=m)


# --- descriptive counts and Holm -----------------------------------------------------------------


def language_counts(margins: ArrayLike) -> tuple[int, int, int]:
    """(improved, hurt, tied) languages; |margin| < ``TIE_TOL`` is a tie. Descriptive only: languages
    share sentences, candidates and the trained run, so they are not independent units for a test."""
    m = np.asarray(margins, dtype=np.float64).ravel()
    if not np.isfinite(m).all():
        raise ValueError("margins must be finite")
    tied = np.abs(m) < TIE_TOL
    return int((m > 0)[~tied].sum()), int((m < 0)[~tied].sum()), int(tied.sum())


def holm(pvalues: ArrayLike) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values, in input order; NaNs stay NaN and do not count toward m.

    Sorted ascending, the i-th of m p-values (i from 0) becomes ``max_{j<=i} min(1, (m - j) p_(j))``.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    vals = p[ok]
    order = np.argsort(vals, kind="stable")
    m = len(vals)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * vals[order]))
    res = np.empty(m)
    res[order] = adjusted
    out[ok] = res
    return out


def run_scores(scores: ArrayLike, mask: ArrayLike | None = None) -> np.ndarray:
    """One score per run: per-item scores [n_runs, n_languages, n_items] averaged over items, then
    macro-averaged over ``mask``'s languages (all if None) - the unit :func:`run_level_test` compares."""
    arr = _as_runs(scores, "scores", holes=True)
    keep = np.ones(arr.shape[1], bool) if mask is None else np.asarray(mask, bool)
    if keep.shape != (arr.shape[1],) or not keep.any():
        raise ValueError(f"mask must select some of the {arr.shape[1]} languages")
    return np.nanmean(arr[:, keep], axis=2).mean(axis=1)  # NaN: an item a language lacks (Tatoeba's sizes differ)
