"""Calibration of what the report calls a difference or equivalent, on simulated experiments built from
the committed runs' structure, with a known truth. These tests can fail: the designated test alone
(Student's pooled t) fails the first of them on this structure.

**The structure** (measured on the committed `mini` runs, FLORES X->eng margin-scoring error over the 195
covered languages x 102 items = 19,890 cells per run):

* a run differs from another seed of its arm in very few cells: per language, seeds 0 and 1 differ by
  0.25% (coco-contrastive, caption-contrastive) to 0.42% (HellaSwag) of the items, net, a lower bound
  on the cells that flip;
* run-level scores barely move between seeds, and by different amounts per arm: run SDs 0.00023
  (coco-contrastive), 0.00079 (caption-contrastive) and 0.00063 (HellaSwag), a 3.5x ratio.

The calibration this file replaces simulated both arms with *equal* SDs and redrew every cell per run
(29% of cells differed between seeds, run SD 0.019): the pooled t is exact there, so it could not fail.

**The model.** Every arm shares the stable cells (BASE_ERRORS errors, identical in every run). N_UNSTABLE
= 800 cells sit near the decision threshold with fixed latent margins m_k (normal quantiles, spread 6,
symmetric, so every arm has the same expected error: the null is exact). Run r of an arm draws a run
effect z_r ~ N(0, 1), and cell k is an error iff m_k + tau z_r + e_rk > 0, e_rk ~ N(0, 1): tau = 0 (the
"stable" arm, like coco-contrastive) flips 0.30% of the cells between seeds with run SD 0.00027; tau =
0.35 (the "spread" arm, like caption-contrastive) flips 0.32% with run SD 0.00096: ratio 3.5. The stable
arm's error count is a sum of independent Bernoulli cells, drawn exactly from its Poisson-binomial
distribution; the spread arm's cells are drawn one by one. A planted effect shifts the treatment's
errors by delta.

**What is decided.** Each experiment's run scores go through Student's pooled t (the designated test),
Welch's t and the exact permutation test (vectorised here, checked against
:mod:`benchmark.analysis.stats` on the first experiments of each batch, p for p), then the real
:func:`benchmark.analysis.verdict.combine` gives the conservative verdict; Holm is the package's.

**Measured rates** at alpha = 0.05 (the stable arm vs the spread arm; in brackets, 40,000 experiments
or 10,000 families, MC SE <= 0.25 points; the tests below use fewer, with 99.95% binomial tolerances):

* false positives, 3 vs 3 runs: Student 8.1% (inflated: the pooled df = 4 overstates what 3 + 3
  unequal runs give), Welch 5.5% (slightly liberal at n = 3, within MC tolerance of this file's
  sample), exact permutation 0 (its p cannot go below 0.1), conservative verdict 0;
* 5 vs 5 runs: Student 7.0%, Welch 5.3%, exact permutation 6.9% (run labels are not exchangeable when
  the SDs differ), conservative verdict 5.1%;
* TOST at a true effect of exactly +SESOI / -SESOI (3 vs 3; "equivalent" or "a difference smaller
  than SESOI" is a false claim there): Student 7.0% / 6.9%, Welch 5.4% / 5.2%, conservative verdict 0
  (the permutation's TOST p cannot go below 0.05);
* Holm families of 4 null comparisons sharing one arm (the headline's shape: coco-contrastive against
  several textual arms), two runs of 10,000 families each: with the shared arm the stable one,
  family-wise error at 3 vs 3 Student 10.3-10.4%, Welch 5.9-6.0% (Welch is more liberal in the tail:
  1.5% at alpha/4 = 1.25%, also with normal runs), conservative verdict 0; at 5 vs 5 Student 8.9-9.5%,
  Welch 5.9-6.5%, permutation 6.6%, conservative verdict 4.1%; with the shared arm the spread one
  (p-values strongly correlated), 3 vs 3: Student 5.4%, Welch 3.4%;
* power at a planted effect of the median Student MDE (0.0018), 3 vs 3: Student 68%, Welch 49%,
  conservative verdict 0: with 3 seeds per arm no comparison can be called a difference or equivalent
  under the conservative rule.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import special, stats

from benchmark.analysis.declaration import DECLARATION
from benchmark.analysis.stats import holm, permutation_min_p, permutation_test, run_level_test, welch_test
from benchmark.analysis.verdict import combine

ALPHA = DECLARATION.alpha
SESOI = DECLARATION.primary.sesoi
N_LANGUAGES, N_ITEMS = 195, 102
N_CELLS = N_LANGUAGES * N_ITEMS  # 19,890 cells per run
BASE_ERRORS = round(0.072 * N_CELLS)  # the committed runs' ~7.2% covered error, stable across seeds
N_UNSTABLE, SPREAD = 800, 6.0
MARGINS = SPREAD * special.ndtri((np.arange(N_UNSTABLE) + 0.5) / N_UNSTABLE)  # symmetric: E[error] equal
STABLE, SPREAD_TAU = 0.0, 0.35  # run-effect loadings: run SDs 0.00027 and 0.00096, ratio 3.5
Z = stats.norm.ppf(0.9995)


def tolerance(n: int, rate: float = ALPHA) -> float:
    """99.95% binomial band half-width around ``rate`` for ``n`` simulated experiments."""
    return float(Z * np.sqrt(rate * (1 - rate) / n))


def _stable_pmf() -> np.ndarray:
    """Exact distribution of the stable arm's error count over the unstable cells: a Poisson-binomial
    (independent cells with P(error) = Phi(m_k)), by convolution."""
    pmf = np.array([1.0])
    for q in special.ndtr(MARGINS):
        pmf = np.append(pmf * (1 - q), 0.0) + np.append(0.0, pmf * q)
    return pmf


STABLE_PMF = _stable_pmf()


def draw_runs(rng: np.random.Generator, tau: float, n_experiments: int, n_runs: int,
              shift: float = 0.0) -> np.ndarray:
    """Run-level error rates [n_experiments, n_runs] of an arm with run-effect loading ``tau``; ``shift``
    is added to every run (a planted effect: a negative shift is a treatment that errs less)."""
    if tau == 0.0:  # no run effect: independent cells, exactly Poisson-binomial
        counts = rng.choice(N_UNSTABLE + 1, size=(n_experiments, n_runs), p=STABLE_PMF)
    else:
        counts = np.empty((n_experiments, n_runs))
        for start in range(0, n_experiments, 500):  # cell by cell, in chunks
            stop = min(n_experiments, start + 500)
            p_error = special.ndtr(MARGINS + tau * rng.standard_normal((stop - start, n_runs, 1)))
            counts[start:stop] = (rng.random(p_error.shape) < p_error).sum(axis=2)
    return (BASE_ERRORS + counts) / N_CELLS + shift


def cells(rng: np.random.Generator, tau: float, n_runs: int) -> np.ndarray:
    """The unstable cells themselves, 0/1 errors [n_runs, N_UNSTABLE] (the stable cells never flip)."""
    p_error = special.ndtr(MARGINS + tau * rng.standard_normal((n_runs, 1)))
    return (rng.random(p_error.shape) < p_error).astype(float)


# --- the three analyses, vectorised over experiments (errors: margin = control - treatment) -------


def t_tests(t: np.ndarray, c: np.ndarray, *, welch: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(margin, p, TOST p) per experiment; an experiment whose runs do not vary at all gets no test
    (p = TOST p = 1, as the package refuses to test it)."""
    nt, nc = t.shape[1], c.shape[1]
    margin = c.mean(axis=1) - t.mean(axis=1)
    vt, vc = t.var(axis=1, ddof=1), c.var(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if welch:
            se = np.sqrt(vt / nt + vc / nc)
            df = se**4 / ((vt / nt) ** 2 / (nt - 1) + (vc / nc) ** 2 / (nc - 1))
        else:
            df = np.full(len(t), nt + nc - 2.0)
            se = np.sqrt(((nt - 1) * vt + (nc - 1) * vc) / df * (1 / nt + 1 / nc))
        p = np.minimum(1.0, 2 * special.stdtr(df, -np.abs(margin) / se))
        tost = np.maximum(special.stdtr(df, -(margin + SESOI) / se), special.stdtr(df, (margin - SESOI) / se))
    untested = se == 0
    return margin, np.where(untested, 1.0, p), np.where(untested, 1.0, tost)


def permutation(t: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p, TOST p) per experiment of the exact permutation test: every relabelling, as the package."""
    nt, nc = t.shape[1], c.shape[1]
    member = np.zeros((0, nt + nc))
    for chosen in itertools.combinations(range(nt + nc), nt):
        row = np.zeros(nt + nc)
        row[list(chosen)] = 1.0
        member = np.vstack([member, row])
    x = -np.concatenate([t, c], axis=1)  # larger = better
    tol = 1e-9 * np.abs(x).max(axis=1, keepdims=True)

    def stat(values: np.ndarray) -> np.ndarray:
        inside = values @ member.T
        return inside / nt - (values.sum(axis=1, keepdims=True) - inside) / nc

    s = stat(x)
    p = (np.abs(s) >= np.abs(s[:, :1]) - tol).mean(axis=1)
    shift = SESOI * np.r_[np.ones(nt), np.zeros(nc)]
    up, down = stat(x + shift), stat(x - shift)
    tost = np.maximum((up >= up[:, :1] - tol).mean(axis=1), (down <= down[:, :1] + tol).mean(axis=1))
    return p, tost


def analyses(t: np.ndarray, c: np.ndarray, check: int = 25) -> dict[str, np.ndarray]:
    """Every analysis of every experiment; the first ``check`` experiments are recomputed with the
    package's own functions, which must give the same p's."""
    margin, student, student_tost = t_tests(t, c, welch=False)
    _, welch, welch_tost = t_tests(t, c, welch=True)
    perm, perm_tost = permutation(t, c)
    for i in range(check):
        if np.ptp(t[i]) == 0 and np.ptp(c[i]) == 0:
            continue
        kw = {"higher_is_better": False, "sesoi": SESOI}
        s, w, pt = run_level_test(t[i], c[i], **kw), welch_test(t[i], c[i], **kw), permutation_test(t[i], c[i], **kw)
        np.testing.assert_allclose([s.p, s.tost_p, w.p, w.tost_p], [student[i], student_tost[i], welch[i],
                                                                     welch_tost[i]], rtol=1e-9, atol=1e-15)
        assert (pt.p, pt.tost_p) == pytest.approx((perm[i], perm_tost[i]))
    return {"margin": margin, "student": student, "student_tost": student_tost, "welch": welch,
            "welch_tost": welch_tost, "perm": perm, "perm_tost": perm_tost}


def conservative(a: dict[str, np.ndarray], n_runs: tuple[int, int], adjusted: dict[str, np.ndarray] | None = None,
                 ) -> np.ndarray:
    """The real conservative verdict of each experiment (``adjusted``: Holm-adjusted p's by analysis)."""
    p = adjusted or a
    floor, tost_floor = permutation_min_p(*n_runs)
    return np.array([combine([{"name": "Student t", "p": p["student"][i], "tost_p": a["student_tost"][i]},
                              {"name": "Welch t", "p": p["welch"][i], "tost_p": a["welch_tost"][i]},
                              {"name": "exact permutation", "p": p["perm"][i], "tost_p": a["perm_tost"][i],
                               "min_p": floor, "min_tost_p": tost_floor, "runs": n_runs}],
                             float(a["margin"][i]), SESOI, alpha=ALPHA).verdict for i in range(len(a["margin"]))])


def claims_difference(verdicts: np.ndarray) -> np.ndarray:
    return np.char.find(verdicts.astype(str), "difference") >= 0


def claims_equivalence(verdicts: np.ndarray) -> np.ndarray:
    return np.char.startswith(verdicts.astype(str), "equivalent") | (np.char.find(verdicts.astype(str), "smaller") >= 0)


# --- the model matches the committed runs ----------------------------------------------------------


def test_model_has_the_committed_runs_structure() -> None:
    """Few cells flip between seeds, run SDs of the committed runs' size, unequal at their 3.5x ratio;
    the exact Poisson-binomial draw of the stable arm matches its cells drawn one by one."""
    rng = np.random.default_rng(1)
    for tau, sd_range in ((STABLE, (0.0002, 0.00035)), (SPREAD_TAU, (0.0007, 0.0012))):
        runs = cells(rng, tau, 4000)
        flipped = np.abs(runs[0::2] - runs[1::2]).sum(axis=1).mean() / N_CELLS  # two seeds of the arm
        assert 0.002 < flipped < 0.005, f"tau {tau}: {flipped:.4%} of cells differ between seeds"
        sd = runs.sum(axis=1).std(ddof=1) / N_CELLS
        assert sd_range[0] < sd < sd_range[1], f"tau {tau}: run SD {sd:.6f}"
    stable = draw_runs(rng, STABLE, 4000, 1).ravel()
    spread = draw_runs(rng, SPREAD_TAU, 4000, 1).ravel()
    explicit = cells(rng, STABLE, 4000).sum(axis=1) / N_CELLS
    assert stable.std() == pytest.approx(explicit.std(), rel=0.08)
    assert stable.mean() == pytest.approx(BASE_ERRORS / N_CELLS + explicit.mean(), abs=2e-5)
    assert 3.0 < spread.std() / stable.std() < 4.0  # the committed runs: 0.00079 / 0.00023 = 3.4
    assert spread.mean() == pytest.approx(stable.mean(), abs=3e-5)  # the null is exact: same expected error


# --- false positives ------------------------------------------------------------------------------


N_NULL = 4000


@pytest.fixture(scope="module")
def null_3v3() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2026)
    a = analyses(draw_runs(rng, STABLE, N_NULL, 3), draw_runs(rng, SPREAD_TAU, N_NULL, 3))
    return a | {"verdict": conservative(a, (3, 3))}


def test_pooled_student_t_is_inflated_by_unequal_run_sds(null_3v3: dict[str, np.ndarray]) -> None:
    # Measured 8.1% over 40,000 experiments (this sample: 8.2%): the designated test alone calls 1 null
    # comparison in 12 a difference on this structure, not 1 in 20.
    rate = float((null_3v3["student"] < ALPHA).mean())
    assert rate > ALPHA + tolerance(N_NULL), f"Student's false-positive rate {rate:.4f} is not inflated"


def test_welch_t_is_near_nominal(null_3v3: dict[str, np.ndarray]) -> None:
    # Measured 5.5% over 40,000 experiments (this sample: 5.45%, bound 6.1%); Welch's df approximation is
    # slightly liberal at n = 3 (with normal runs it is 5.4%).
    rate = float((null_3v3["welch"] < ALPHA).mean())
    student = float((null_3v3["student"] < ALPHA).mean())
    assert rate <= ALPHA + tolerance(N_NULL), f"Welch's false-positive rate {rate:.4f}"
    assert rate < student - 0.01


def test_conservative_verdict_false_positives_3v3(null_3v3: dict[str, np.ndarray]) -> None:
    # At 3 vs 3 the exact permutation p is at least 0.1, so no experiment is called a difference: 0%.
    assert (null_3v3["perm"] >= 0.1 - 1e-12).all()
    rate = float(claims_difference(null_3v3["verdict"]).mean())
    assert rate <= ALPHA and rate == 0.0


def test_conservative_verdict_false_positives_5v5() -> None:
    """With 5 runs per arm the permutation can reject (p down to 2/252), so the combination is tested for
    real. Measured over 40,000 experiments: Student 7.0%, Welch 5.3%, permutation 6.9%, conservative
    verdict 5.1% (this sample of 3,000: 7.6%, 5.5%, 7.3%, 5.2%; bound 6.3%)."""
    rng = np.random.default_rng(55)
    n = 3000
    t, c = draw_runs(rng, STABLE, n, 5), draw_runs(rng, SPREAD_TAU, n, 5)
    a = analyses(t, c)
    rate = float(claims_difference(conservative(a, (5, 5))).mean())
    assert rate <= ALPHA + tolerance(n), f"conservative verdict's false-positive rate {rate:.4f} at 5 vs 5"
    assert rate <= min((a[k] < ALPHA).mean() for k in ("student", "welch", "perm"))
    assert (a["student"] < ALPHA).mean() > rate


# --- equivalence at the boundary -------------------------------------------------------------------


@pytest.mark.parametrize("sign", [1, -1])
def test_tost_at_a_true_effect_of_sesoi(sign: int) -> None:
    """A true effect of exactly +-SESOI: "equivalent" (or "a difference smaller than SESOI") is false, and
    TOST may say it at most alpha of the time. Measured over 40,000 experiments: Welch 5.4% (+) and 5.2%
    (-), Student 7.0% and 6.9% (this sample of 3,000: Welch 4.9% and 4.9%, Student 6.8% and 6.8%); the
    conservative verdict 0% (the permutation's TOST p cannot go below 1/20 = 0.05 at 3 vs 3)."""
    rng = np.random.default_rng(100 + sign)
    n = 3000
    t = draw_runs(rng, STABLE, n, 3, shift=-sign * SESOI)  # margin = control - treatment = sign x SESOI
    c = draw_runs(rng, SPREAD_TAU, n, 3)
    a = analyses(t, c)
    assert np.median(a["margin"]) == pytest.approx(sign * SESOI, abs=2e-4)
    welch, student = float((a["welch_tost"] < ALPHA).mean()), float((a["student_tost"] < ALPHA).mean())
    assert welch <= ALPHA + tolerance(n), f"Welch TOST says equivalent {welch:.4f} of the time at the SESOI"
    assert student >= welch
    assert claims_equivalence(conservative(a, (3, 3))).mean() == 0.0


# --- Holm families with correlated p-values --------------------------------------------------------


N_FAMILIES, FAMILY_SIZE = 2000, 4


def family_errors(n_runs: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Student-Holm, Welch-Holm, conservative-with-Holm) family-wise error indicators [N_FAMILIES]:
    FAMILY_SIZE null comparisons sharing one stable arm (as coco-contrastive is shared by the headline's
    pairs) against spread arms; every analysis Holm-adjusted within the family, as margins.py does."""
    rng = np.random.default_rng(seed)
    shared = draw_runs(rng, STABLE, N_FAMILIES, n_runs)
    members = [analyses(shared, draw_runs(rng, SPREAD_TAU, N_FAMILIES, n_runs), check=5) for _ in range(FAMILY_SIZE)]
    adjusted = {k: np.stack([holm(np.array([m[k][f] for m in members])) for f in range(N_FAMILIES)], axis=1)
                for k in ("student", "welch", "perm")}  # [FAMILY_SIZE, N_FAMILIES]
    verdicts = np.stack([conservative(m, (n_runs, n_runs), {k: adjusted[k][j] for k in adjusted})
                         for j, m in enumerate(members)])
    return ((adjusted["student"] < ALPHA).any(axis=0), (adjusted["welch"] < ALPHA).any(axis=0),
            claims_difference(verdicts).any(axis=0))


def test_holm_families_sharing_an_arm_3v3() -> None:
    """Measured over 10,000 families: Student-Holm 10.3% (the pooled t's inflation grows in the tail:
    2.7% at alpha/4), Welch-Holm 6.0% (1.5% at alpha/4: slightly liberal, within this sample's MC
    tolerance), conservative verdict 0% (this sample of 2,000: 10.2%, 5.5%, 0%; bound 6.6%)."""
    student, welch, combined = family_errors(3, 31)
    tol = tolerance(N_FAMILIES)
    assert student.mean() > ALPHA + tol, f"Student-Holm family-wise error {student.mean():.4f}"
    assert welch.mean() <= ALPHA + tol, f"Welch-Holm family-wise error {welch.mean():.4f}"
    assert combined.mean() == 0.0


def test_holm_families_sharing_an_arm_5v5() -> None:
    """Measured over 10,000 families: Student-Holm 8.9%, Welch-Holm 5.9%, permutation-Holm 6.6%,
    conservative verdict 4.1% (this sample of 2,000: 8.8%, 6.1%, -, 4.1%; bound 6.6%)."""
    student, welch, combined = family_errors(5, 53)
    assert combined.mean() <= ALPHA + tolerance(N_FAMILIES), f"conservative family-wise error {combined.mean():.4f}"
    assert combined.mean() <= welch.mean() <= student.mean()


# --- power ----------------------------------------------------------------------------------------


def test_power_with_a_planted_effect() -> None:
    """A true effect of the median Student MDE (~0.0018 error): the t-tests detect it (measured: Student
    68%, Welch 49% over 20,000 experiments; this sample of 1,000: 69%, 48%); the conservative verdict
    never does at 3 vs 3."""
    rng = np.random.default_rng(7)
    n = 1000
    probe = [run_level_test(draw_runs(rng, STABLE, 1, 3)[0], draw_runs(rng, SPREAD_TAU, 1, 3)[0],
                            higher_is_better=False).mde for _ in range(200)]
    effect = float(np.median(probe))
    assert 0.001 < effect < 0.003
    a = analyses(draw_runs(rng, STABLE, n, 3, shift=-effect), draw_runs(rng, SPREAD_TAU, n, 3))
    student, welch = float((a["student"] < ALPHA).mean()), float((a["welch"] < ALPHA).mean())
    assert student > 0.5 and 0.3 < welch < student, f"power: Student {student:.2f}, Welch {welch:.2f}"
    assert not claims_difference(conservative(a, (3, 3))).any()
