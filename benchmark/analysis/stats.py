"""Statistics for comparing two arms: the designated run-level test, and cluster-bootstrap intervals.

Two questions, two tools (the plan that says which is which: :mod:`benchmark.analysis.declaration`):

* **Would another training seed give the same answer?** The trained run is the unit: each run's
  score is macro-averaged over the languages, and :func:`run_level_test` compares the two arms' runs
  with a two-sample t-test, its TOST equivalence test and minimum detectable effect. This is the only
  source of p-values in the report.
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

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

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
    """Two-sample t-test on run-level scores; margin > 0 means the treatment did better."""

    margin: float
    se: float
    df: int
    ci_low: float
    ci_high: float
    p: float  # two-sided, H0: margin = 0
    sesoi: float | None
    tost_p: float  # max of the two one-sided p-values, H0: |margin| >= sesoi (NaN without a sesoi)
    mde: float  # smallest |margin| detected with probability `power` at two-sided `alpha`


def run_level_test(treatment: ArrayLike, control: ArrayLike, *, higher_is_better: bool, sesoi: float | None = None,
                   alpha: float = 0.05, power: float = 0.8, confidence: float = 0.95) -> RunTest:
    """Student's two-sample t-test (pooled variance, df = n_t + n_c - 2) on one score per run.

    ``treatment``/``control``: each run's score (e.g. macro xsim error over the declared languages).
    The confidence interval, the TOST p (two one-sided tests against +-``sesoi`` at ``alpha``) and
    the minimum detectable effect ``(t_{1-alpha/2} + t_{power}) * se`` all use the same SE and df.
    Needs at least 2 runs per arm (df >= 2) and some run-to-run variance.
    """
    t = np.asarray(treatment, dtype=np.float64).ravel()
    c = np.asarray(control, dtype=np.float64).ravel()
    if len(t) < 2 or len(c) < 2:
        raise ValueError(f"a run-level test needs >= 2 runs per arm, got {len(t)} and {len(c)}")
    if not (np.isfinite(t).all() and np.isfinite(c).all()):
        raise ValueError("run scores must be finite")
    if sesoi is not None and sesoi <= 0:
        raise ValueError("sesoi must be > 0")
    df = len(t) + len(c) - 2
    pooled = ((len(t) - 1) * t.var(ddof=1) + (len(c) - 1) * c.var(ddof=1)) / df
    se = float(np.sqrt(pooled * (1.0 / len(t) + 1.0 / len(c))))
    if se == 0.0:
        raise ValueError("run scores do not vary between runs: no run-level variance to test against")
    sign = 1.0 if higher_is_better else -1.0
    margin = sign * (t.mean() - c.mean()) + 0.0
    dist = stats.t(df)
    half = dist.ppf(0.5 + confidence / 2.0) * se
    p = float(2.0 * dist.sf(abs(margin) / se))
    tost_p = (float(max(dist.sf((margin + sesoi) / se), dist.cdf((margin - sesoi) / se)))
              if sesoi is not None else float("nan"))
    mde = float((dist.ppf(1.0 - alpha / 2.0) + dist.ppf(power)) * se)
    return RunTest(margin=margin, se=se, df=df, ci_low=margin - half, ci_high=margin + half, p=min(1.0, p),
                   sesoi=sesoi, tost_p=tost_p, mde=mde)


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
