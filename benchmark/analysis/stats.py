"""Paired statistics for comparing two arms: a cluster bootstrap over FLORES articles, tests across
languages, and Holm's correction.

Why a *cluster* bootstrap: FLORES sentences come in articles (393 source URLs over the 1004 bundled
items) whose sentences share topic and vocabulary, so their errors are correlated; resampling items
one by one would understate the uncertainty. Why *paired*: every arm is scored on the same items, so
each replicate resamples the same items for both arms and all languages, and item difficulty cancels
out of the margin. Where an arm has several seed runs, seeds are resampled too, so the interval also
carries training-seed variance.

RNG protocol (``rng = numpy.random.default_rng(seed)``); tests/test_analysis_numpy.py replays it with
plain loops, so any change here must change there too. Draws happen in this order, in these blocks:

1. ``rng.integers(0, n_clusters, size=(n_boot, n_clusters))``: row r lists the clusters replicate r
   draws, with replacement. Clusters are numbered in the sorted order of their ids (``np.unique``).
   The one draw serves every language and both arms.
2. only if the treatment has k > 1 seed runs: ``rng.integers(0, k, size=(n_boot, k))``: the seed runs
   (positions in the order given) that replicate r averages, with replacement.
3. the same for the control.

Cluster draws come first and do not depend on the seed counts, so every comparison bootstrapped with
one seed over one item set sees the same resampled articles. A replicate's score for a language is the
mean over its resampled items (the item count varies with the clusters drawn), averaged over its
resampled seeds; computed as cluster-count-weighted sums of per-cluster sums (the counts are a
multinomial draw), never by materialising the resampled items. With 0/1 scores those sums are exact
integers in float64, so the result does not depend on BLAS threading. Intervals are percentiles of
the replicates (``np.percentile``, its default linear interpolation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

N_BOOT = 2000
BOOTSTRAP_SEED = 0
N_RESAMPLES = 9999  # permutation tests: exact while 2**n_languages <= this (n <= 13), else Monte Carlo
TIE_TOL = 1e-12  # |margin| below this is a tie (seed-averaged margins carry rounding noise)

# Many languages tie at a margin of exactly 0 (both arms at 0 xsim error on high-resource languages).
# "wilcox" (scipy's default) would drop them and test only the languages that moved, overstating the
# evidence "across languages"; "zsplit" keeps every language and splits the tied ranks evenly between
# the signs, so ties count as evidence for neither arm, as they do (a 0 contribution) in the macro
# average the test accompanies. ("pratt" also ranks the zeros but then drops them from the statistic.)
WILCOXON_ZERO_METHOD = "zsplit"
WILCOXON_EXACT_MAX_N = 50  # up to here a permutation null (zeros and ties make scipy's "exact" wrong)


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

    def macro(self, mask: ArrayLike | None = None) -> tuple[float, float, float]:
        """(estimate, ci_low, ci_high) of the margin macro-averaged over ``mask``'s languages (all if None).

        Each replicate averages its own per-language margins, so any subset of languages shares the
        one joint resampling.
        """
        keep = np.ones(len(self.margins), bool) if mask is None else np.asarray(mask, bool)
        if keep.shape != self.margins.shape or not keep.any():
            raise ValueError(f"mask must select some of the {len(self.margins)} languages")
        low, high = self._percentiles(self.replicates[:, keep].mean(axis=1))
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


def _as_runs(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 0 in arr.shape:
        raise ValueError(f"{name}: expected per-item scores [n_seeds, n_languages, n_items], got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: scores must be finite")
    return arr


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` categories occurs in each row of ``draws`` [rows, draws] -> [rows, n]."""
    rows = draws.shape[0]
    flat = (draws + n * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def _seed_weights(rng: np.random.Generator, k: int, n_boot: int) -> np.ndarray:
    """[n_boot, k] weights averaging each replicate's resampled seeds (protocol steps 2 and 3)."""
    if k == 1:
        return np.ones((n_boot, 1))
    return _counts(rng.integers(0, k, size=(n_boot, k)), k) / k


def _replicate_means(sums: np.ndarray, cluster_w: np.ndarray, n_items: np.ndarray, seed_w: np.ndarray) -> np.ndarray:
    """[n_boot, n_languages] seed-averaged item means, from per-cluster sums [k, L, C]."""
    k, n_lang, n_clu = sums.shape
    per_seed = (cluster_w @ sums.reshape(k * n_lang, n_clu).T).reshape(-1, k, n_lang)
    per_seed /= n_items[:, None, None]
    return np.einsum("rk,rkl->rl", seed_w, per_seed)


def paired_cluster_bootstrap(
    treatment: ArrayLike,
    control: ArrayLike,
    clusters: ArrayLike,
    *,
    higher_is_better: bool,
    n_boot: int = N_BOOT,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Margin of ``treatment`` over ``control`` per language, with a paired cluster bootstrap.

    ``treatment``/``control``: per-item scores [n_seeds, n_languages, n_items] (a 2-D array is one
    seed), items aligned between them; ``clusters``: one id per item (the FLORES article URL). A
    language's score is its mean over items, averaged over seeds. ``higher_is_better`` fixes the sign
    so that a positive margin always means the treatment did better: ``treatment - control`` for an
    accuracy, ``control - treatment`` for an error rate (text-arm error - multimodal-arm error).
    Bit-reproducible for a given ``seed``; see the module docstring for the draw order.
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
    size = onehot.sum(axis=0)

    rng = np.random.default_rng(seed)
    cluster_w = _counts(rng.integers(0, n_clu, size=(n_boot, n_clu)), n_clu)  # step 1
    n_items = cluster_w @ size
    t_w = _seed_weights(rng, t.shape[0], n_boot)  # step 2
    c_w = _seed_weights(rng, c.shape[0], n_boot)  # step 3

    sign = 1.0 if higher_is_better else -1.0  # "+ 0.0" below: no -0.0 in the tables
    margins = sign * (t.mean(axis=2).mean(axis=0) - c.mean(axis=2).mean(axis=0)) + 0.0
    reps = sign * (_replicate_means(t @ onehot, cluster_w, n_items, t_w)
                   - _replicate_means(c @ onehot, cluster_w, n_items, c_w)) + 0.0
    return BootstrapResult(margins=margins, replicates=reps, n_boot=n_boot, seed=seed, confidence=confidence)


# --- tests across languages ----------------------------------------------------------------------


@dataclass(frozen=True)
class LanguageTests:
    """Paired tests of per-language margins against 0, and how many languages moved which way."""

    n_languages: int
    improved: int
    hurt: int
    tied: int
    wilcoxon_statistic: float
    wilcoxon_p: float
    signflip_p: float


def _clean(margins: ArrayLike) -> np.ndarray:
    m = np.asarray(margins, dtype=np.float64).ravel()
    if not np.isfinite(m).all():
        raise ValueError("margins must be finite")
    return np.where(np.abs(m) < TIE_TOL, 0.0, m)


def wilcoxon_test(margins: ArrayLike, *, seed: int = BOOTSTRAP_SEED,
                  n_resamples: int = N_RESAMPLES) -> tuple[float, float]:
    """(statistic, p) of a two-sided Wilcoxon signed-rank test, zero_method ``WILCOXON_ZERO_METHOD``.

    The statistic is ``scipy.stats.wilcoxon``'s. Beyond ``WILCOXON_EXACT_MAX_N`` languages its p is
    scipy's normal approximation (with the tie and zsplit variance adjustments). Up to that, scipy's
    "exact" table would be wrong with zeros and ties, and its permutation fallback re-ranks every
    resample one at a time (minutes); the p there comes from ``scipy.stats.permutation_test`` on the
    zsplit positive-rank sum instead: sign flips leave the ranks of ``|margin|`` unchanged, so the
    null is vectorized; exact when 2**n <= n_resamples, else Monte Carlo from ``default_rng(seed)``.
    No language moved (or fewer than 2 languages): p = 1.
    """
    m = _clean(margins)
    if len(m) < 2 or not m.any():
        return float("nan"), 1.0
    res = stats.wilcoxon(m, zero_method=WILCOXON_ZERO_METHOD, method="asymptotic")
    if len(m) > WILCOXON_EXACT_MAX_N:
        return float(res.statistic), float(res.pvalue)
    ranks = stats.rankdata(np.abs(m))

    def positive_rank_sum(x: np.ndarray, axis: int) -> np.ndarray:
        return np.sum(ranks * ((x > 0) + 0.5 * (x == 0)), axis=axis)  # zsplit: a zero's rank counts half

    null = stats.permutation_test(
        (m,), positive_rank_sum, permutation_type="samples", vectorized=True, n_resamples=n_resamples,
        alternative="two-sided", rng=np.random.default_rng(seed),
    )
    return float(res.statistic), float(min(1.0, null.pvalue))


def signflip_test(margins: ArrayLike, *, seed: int = BOOTSTRAP_SEED, n_resamples: int = N_RESAMPLES) -> float:
    """Two-sided p of the mean margin under random sign flips (languages as the paired units).

    ``scipy.stats.permutation_test`` with one sample flips signs; it enumerates all 2**n flips when
    that is at most ``n_resamples``, else draws them from ``default_rng(seed)``.
    """
    m = _clean(margins)
    if len(m) < 2 or not m.any():
        return 1.0
    res = stats.permutation_test(
        (m,), lambda x, axis: np.mean(x, axis=axis), permutation_type="samples", vectorized=True,
        n_resamples=n_resamples, alternative="two-sided", rng=np.random.default_rng(seed),
    )
    return float(min(1.0, res.pvalue))


def language_tests(margins: ArrayLike, *, seed: int = BOOTSTRAP_SEED, n_resamples: int = N_RESAMPLES) -> LanguageTests:
    """Both paired tests over per-language margins, plus counts improved (> 0) / hurt (< 0) / tied."""
    m = _clean(margins)
    stat, p = wilcoxon_test(m, seed=seed, n_resamples=n_resamples)
    return LanguageTests(
        n_languages=len(m), improved=int((m > 0).sum()), hurt=int((m < 0).sum()), tied=int((m == 0).sum()),
        wilcoxon_statistic=stat, wilcoxon_p=p, signflip_p=signflip_test(m, seed=seed, n_resamples=n_resamples),
    )


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
