"""What a declared comparison may be said to show: one test's verdict, and the conservative verdict over
the designated test and its declared sensitivity analyses.

The designated test (:func:`benchmark.analysis.stats.run_level_test`, Student's pooled t on run-level
scores) stands beside two declared sensitivity analyses on the same runs: Welch's unequal-variance t
(:func:`~benchmark.analysis.stats.welch_test`) and the exact permutation of run labels
(:func:`~benchmark.analysis.stats.permutation_test`). DESIGN.md ("Inference rules"): a verdict holds only
where they agree. :func:`combine` says

* a **difference** only if every applicable analysis rejects "no difference" at alpha (each with its
  Holm-adjusted p where the row belongs to a Holm family);
* **equivalent** within +-SESOI only if every applicable analysis's TOST p is below alpha;
* otherwise **inconclusive**, the more conservative verdict,

and whether the analyses agreed, with a short note naming the analysis that did not (e.g. "exact
permutation: ... smallest attainable p 0.1 with 3 vs 3 runs"). With 3 vs 3 runs the exact permutation
p cannot go below 0.1 and its TOST p not below 0.05, so no 3-vs-3 comparison is ever a difference or
equivalent under this rule; against an untrained control (one run: a constant) the permutation test is
not applicable and Welch's t coincides with the one-sample t, so the one-sample verdict stands.

Pure functions on floats and dicts; the report and :mod:`benchmark.analysis.margins` both read them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

NOT_TESTED = "not tested (descriptive)"
INCONCLUSIVE = "inconclusive"


def _number(name: str, value: object, *, probability: bool = False) -> float:
    """``value`` as a float; ValueError naming ``name`` if it is not a number (or, for a probability,
    not NaN and outside [0, 1])."""
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or hasattr(value, "__float__")):
        raise ValueError(f"{name} must be a number, got {value!r}")
    out = float(value)  # type: ignore[arg-type]
    if probability and out == out and not 0.0 <= out <= 1.0:
        raise ValueError(f"{name} must be a p-value in [0, 1] or NaN, got {out!r}")
    return out


def _check_alpha(alpha: float) -> float:
    alpha = _number("alpha", alpha)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return alpha


def _better(margin: float) -> str:
    return "treatment" if margin > 0 else "control"


def verdict(p: float, tost_p: float, margin: float, sesoi: float, *, alpha: float = 0.05) -> str:
    """One test's verdict, in the report's words (the strings ``benchmark.report.answer._verdict`` wrote).

    ``p``: the two-sided p of "no difference" (the Holm-adjusted one where the row is in a Holm family);
    NaN means the row was not tested. ``tost_p``: the equivalence test's p against +-``sesoi`` (NaN
    without one). ``margin`` > 0 means the treatment did better. Returns one of
    ``"not tested (descriptive)"``, ``"difference (treatment better)"`` (or control),
    ``"a difference (treatment better) smaller than ±<sesoi>"`` (detected, yet inside the band that would
    not change the answer), ``"equivalent within ±<sesoi>"`` or ``"inconclusive"``.
    """
    p, tost_p = _number("p", p, probability=True), _number("tost_p", tost_p, probability=True)
    margin, sesoi, alpha = _number("margin", margin), _number("sesoi", sesoi), _check_alpha(alpha)
    if p != p:
        return NOT_TESTED
    if margin != margin:
        raise ValueError("margin must not be NaN for a tested row")
    if p < alpha:
        better = _better(margin)
        if tost_p < alpha:
            return f"a difference ({better} better) smaller than ±{sesoi:g}"
        return f"difference ({better} better)"
    if tost_p < alpha:
        return f"equivalent within ±{sesoi:g}"
    return INCONCLUSIVE


@dataclass(frozen=True)
class Analysis:
    """One analysis of a row, as :func:`combine` reads it.

    ``p``: the p the decision uses (Holm-adjusted within the row's family where it has one); ``p_raw``:
    the unadjusted p, shown in notes (defaults to ``p``). ``min_p``/``min_tost_p``: the smallest p and
    TOST p the analysis can attain at all (0 for a t-test; an exact permutation's floor), with
    ``runs`` = (n_treatment, n_control) to say why. ``reason`` non-empty: the analysis does not apply
    to this row (e.g. a permutation test against a single untrained run), and why.
    """

    name: str
    p: float
    tost_p: float = math.nan
    p_raw: float | None = None
    min_p: float = 0.0
    min_tost_p: float = 0.0
    runs: tuple[int, int] | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"an analysis needs a name, got {self.name!r}")
        for key in ("p", "tost_p", "min_p", "min_tost_p"):
            object.__setattr__(self, key, _number(f"{self.name}: {key}", getattr(self, key), probability=True))
        if self.p_raw is not None:
            object.__setattr__(self, "p_raw", _number(f"{self.name}: p_raw", self.p_raw, probability=True))
        if self.runs is not None and (len(self.runs) != 2 or any(int(n) != n or n < 1 for n in self.runs)):
            raise ValueError(f"{self.name}: runs must be (n_treatment, n_control) >= 1, got {self.runs!r}")

    @property
    def applicable(self) -> bool:
        return not self.reason

    @classmethod
    def of(cls, value: Analysis | Mapping[str, object]) -> Analysis:
        if isinstance(value, Analysis):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"an analysis is an Analysis or a dict, got {type(value).__name__}")
        unknown = set(value) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown analysis key(s) {', '.join(sorted(unknown))}")
        return cls(**value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Combined:
    """The conservative verdict over a row's analyses."""

    verdict: str
    agree: bool  # every applicable analysis gave the same verdict
    note: str  # which analysis disagreed and why; or which did not apply; "" when there is nothing to say
    verdicts: dict[str, str] = field(default_factory=dict)  # each analysis's own verdict, by name


def single_verdict(analysis: Analysis | Mapping[str, object], margin: float, sesoi: float, *,
                   alpha: float = 0.05) -> str:
    """:func:`verdict` of one analysis; ``"not applicable: <reason>"`` where it does not apply."""
    a = Analysis.of(analysis)
    if not a.applicable:
        return a.reason if a.reason.startswith("not applicable") else f"not applicable: {a.reason}"
    return verdict(a.p, a.tost_p, margin, sesoi, alpha=alpha)


def _describe(a: Analysis, said: str, alpha: float) -> str:
    """'exact permutation: inconclusive (p 0.1, Holm 0.2, TOST p 0.05; smallest attainable p 0.1 and
    TOST p 0.05 with 3 vs 3 runs)'."""
    parts = [f"p {a.p if a.p_raw is None else a.p_raw:.3g}"]
    if a.p_raw is not None and a.p_raw != a.p:
        parts.append(f"Holm {a.p:.3g}")
    if a.tost_p == a.tost_p:
        parts.append(f"TOST p {a.tost_p:.3g}")
    floor = []
    if a.min_p >= alpha:
        floor.append(f"p {a.min_p:.3g}")
    if a.min_tost_p >= alpha and a.tost_p == a.tost_p:
        floor.append(f"TOST p {a.min_tost_p:.3g}")
    detail = ", ".join(parts)
    if floor:
        detail += "; smallest attainable " + " and ".join(floor)
        detail += f" with {a.runs[0]} vs {a.runs[1]} runs" if a.runs else ""
    return f"{a.name}: {said} ({detail})"


def combine(analyses: Sequence[Analysis | Mapping[str, object]], margin: float, sesoi: float, *,
            alpha: float = 0.05) -> Combined:
    """The conservative verdict over the designated test (``analyses[0]``) and its sensitivity analyses.

    A difference holds only if every applicable analysis has ``p < alpha``; equivalence (``tost_p <
    alpha``) only if every applicable analysis shows it; a difference that every analysis also places
    within +-``sesoi`` is "a difference ... smaller than"; anything short of that is inconclusive. A row
    whose designated test did not run (p NaN) is "not tested (descriptive)". Analyses with a ``reason``
    do not apply and are named in the note; ``agree`` is whether every applicable analysis gave the
    same verdict; where they did not, the note gives the designated test's verdict and then each
    analysis whose verdict differs from it, with its p's and, when its p cannot reach alpha at all, the
    smallest it can attain.
    """
    items = [Analysis.of(a) for a in analyses]
    if not items:
        raise ValueError("combine needs at least the designated test")
    names = [a.name for a in items]
    if len(set(names)) != len(names):
        raise ValueError(f"analysis names must be distinct, got {names}")
    alpha = _check_alpha(alpha)
    margin, sesoi = _number("margin", margin), _number("sesoi", sesoi)
    designated = items[0]
    if not designated.applicable:
        raise ValueError(f"the designated test {designated.name!r} must apply to the row")
    verdicts = {a.name: single_verdict(a, margin, sesoi, alpha=alpha) for a in items}
    if designated.p != designated.p:
        return Combined(verdict=NOT_TESTED, agree=True, note="", verdicts=verdicts)
    used = [a for a in items if a.applicable]
    untested = [a.name for a in used if a.p != a.p]
    if untested:
        raise ValueError(f"{', '.join(untested)}: no p although the designated test has one")
    skipped = [f"{a.name} {single_verdict(a, margin, sesoi, alpha=alpha)}" for a in items if not a.applicable]

    differ = all(a.p < alpha for a in used)
    equivalent = all(a.tost_p < alpha for a in used)
    if differ and equivalent:
        combined = f"a difference ({_better(margin)} better) smaller than ±{sesoi:g}"
    elif differ:
        combined = f"difference ({_better(margin)} better)"
    elif equivalent:
        combined = f"equivalent within ±{sesoi:g}"
    else:
        combined = INCONCLUSIVE
    reference = verdicts[designated.name]
    agree = all(verdicts[a.name] == reference for a in used)
    notes = []
    if not agree:  # the designated test's verdict, then each analysis that said otherwise
        notes = [_describe(a, verdicts[a.name], alpha) for a in used
                 if a is designated or verdicts[a.name] != reference]
    return Combined(verdict=combined, agree=agree, note="; ".join(notes + skipped), verdicts=verdicts)
