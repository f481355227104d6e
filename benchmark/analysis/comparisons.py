"""Which comparisons a run list gets: the declared ones (:mod:`benchmark.analysis.declaration`), every
control against the multimodal arm it controls (from the arm specs) and every trained arm against the
baseline - each only if both arms have runs. ``validate`` refuses a run list with none (the analysis
stage would fail on it after every other stage had run), so both ask here."""

from __future__ import annotations

from benchmark.analysis.declaration import DECLARATION
from benchmark.arms import ARMS, parse_run


def comparisons(runs: list[str]) -> list[tuple[str, str]]:
    """(treatment, control) pairs whose two arms both have runs in ``runs``, declared ones first."""
    arms = {parse_run(r)[0].name for r in runs}
    pairs = DECLARATION.pairs
    pairs += [(spec.control_of, spec.name) for spec in ARMS.values() if spec.control_of]
    pairs += [(spec.name, "baseline") for spec in ARMS.values() if spec.trained]
    return [p for p in dict.fromkeys(pairs) if p[0] in arms and p[1] in arms]
