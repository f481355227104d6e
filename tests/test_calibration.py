"""Calibration of what the report calls significant, on simulated experiments with a known truth.

A generative model of the committed predictions' structure: languages of different difficulty that
share the same items (item difficulty common to every language and run), items in articles, and
trained runs that each shift every language the same way (seed-to-seed variation), plus per-run,
per-item noise. Under "no true effect" both arms draw their runs from the same model. The real
inference code (run scores -> run-level test -> Holm) decides each experiment; its false-positive
rate at alpha = 0.05 must be within the binomial tolerance of 5%, and with a planted effect its power
must not be zero. The across-language test the report used before (languages as the units) is run
on the same experiments to show the model has the structure that fooled it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchmark.analysis.declaration import DECLARATION
from benchmark.analysis.stats import holm, run_level_test, run_scores

N_EXPERIMENTS = 2000
N_LANGUAGES, N_ITEMS, N_SEEDS = 40, 60, 3
ALPHA = DECLARATION.alpha
# 99.9% binomial band around alpha for N_EXPERIMENTS draws.
TOLERANCE = stats.norm.ppf(0.9995) * np.sqrt(ALPHA * (1 - ALPHA) / N_EXPERIMENTS)


def simulate(rng: np.random.Generator, effect: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-item 0/1 errors [seeds, languages, items] for treatment and control; ``effect`` lowers the
    treatment's error logit (a true improvement)."""
    language = rng.normal(-1.5, 1.0, size=(N_LANGUAGES, 1))
    item = rng.normal(0.0, 1.0, size=(1, N_ITEMS))  # shared by every language, run and arm

    def runs(shift: float) -> np.ndarray:
        seed = rng.normal(0.0, 0.15, size=(N_SEEDS, 1, 1))  # a trained run moves every language
        noise = rng.normal(0.0, 0.5, size=(N_SEEDS, N_LANGUAGES, N_ITEMS))
        logit = language[None] + item[None] + seed + noise - shift
        return (rng.random(logit.shape) < 1.0 / (1.0 + np.exp(-logit))).astype(float)

    return runs(effect), runs(0.0)


def decide(t: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """(p of the designated run-level test, p of the old across-language sign test's t analogue)."""
    res = run_level_test(run_scores(t), run_scores(c), higher_is_better=False, sesoi=DECLARATION.primary.sesoi)
    per_language = c.mean(axis=(0, 2)) - t.mean(axis=(0, 2))
    return res.p, float(stats.ttest_1samp(per_language, 0.0).pvalue)


@pytest.fixture(scope="module")
def null_pvalues() -> np.ndarray:
    rng = np.random.default_rng(2026)
    return np.array([decide(*simulate(rng)) for _ in range(N_EXPERIMENTS)])


def test_designated_test_false_positive_rate_is_alpha(null_pvalues: np.ndarray) -> None:
    rate = float((null_pvalues[:, 0] < ALPHA).mean())
    assert abs(rate - ALPHA) < TOLERANCE, f"false-positive rate {rate:.4f}, expected {ALPHA} +- {TOLERANCE:.4f}"
    # p is uniform under the null, not just right at 0.05.
    assert stats.kstest(null_pvalues[:, 0], "uniform").pvalue > 0.001


def test_across_language_test_would_call_seed_noise_significant(null_pvalues: np.ndarray) -> None:
    # Languages share the run: a run that is a little better is better in every language at once.
    assert (null_pvalues[:, 1] < ALPHA).mean() > 0.3


def test_holm_family_controls_the_familywise_error(null_pvalues: np.ndarray) -> None:
    # The secondary family: four null comparisons per experiment, "significant" after Holm.
    families = null_pvalues[: N_EXPERIMENTS // 4 * 4, 0].reshape(-1, 4)
    familywise = float(np.mean([(holm(f) < ALPHA).any() for f in families]))
    assert familywise <= ALPHA + stats.norm.ppf(0.9995) * np.sqrt(ALPHA * (1 - ALPHA) / len(families))


def test_power_with_a_planted_effect() -> None:
    rng = np.random.default_rng(7)
    outcomes = [run_level_test(run_scores(t), run_scores(c), higher_is_better=False,
                               sesoi=DECLARATION.primary.sesoi) for t, c in (simulate(rng, 0.45) for _ in range(500))]
    power = float(np.mean([o.p < ALPHA for o in outcomes]))
    mde = float(np.median([o.mde for o in outcomes]))
    effect = float(np.mean([o.margin for o in outcomes]))
    # The planted effect is about the median MDE, so power is near the 80% the MDE is defined by.
    assert 0.5 < effect / mde < 2.0
    assert power > 0.5, f"power {power:.2f} at effect {effect:.4f} (median MDE {mde:.4f})"
