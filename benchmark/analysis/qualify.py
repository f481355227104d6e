"""What a declared row may say once the experiment's own checks are in: the positive control's
sensitivity and each arm's evidence gate.

Two rules (DESIGN.md, "Inference rules"), applied to the margins table after the tests:

* **Sensitivity.** The positive control's margin over the untrained baseline on the primary target
  (the declaration's ``sensitivity`` row), in units of the primary's SESOI, is what this setup could
  see. Unless it is a difference (its conservative verdict) of at least ``sensitivity_multiple``
  SESOIs, the setup cannot tell an effect of the SESOI's size from none: every "equivalent" verdict
  is withheld (turned inconclusive, the note says why). Without a positive-control run there is no
  sensitivity, and the same holds.
* **Evidence gates** (:mod:`benchmark.analysis.gates`). Every row whose treatment or control did not
  learn its task is flagged (``flag``), in every table; a declared row with such an arm keeps its
  numbers but its verdict reads "not interpreted", since its margin says nothing about the task.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from benchmark.analysis.declaration import Declaration
from benchmark.analysis.gates import Gate
from benchmark.analysis.verdict import INCONCLUSIVE, NOT_TESTED

NOT_INTERPRETED = "not interpreted"


@dataclass(frozen=True)
class Sensitivity:
    margin: float | None  # the positive control's margin over the baseline (None: not run)
    in_sesoi: float | None  # the same in units of the primary's SESOI
    threshold: float  # the margin needed: sensitivity_multiple x SESOI
    verdict: str  # the sensitivity row's conservative verdict
    sufficient: bool  # a difference of at least the threshold: "equivalent" may be said

    @property
    def reason(self) -> str:
        if self.margin is None:
            return "no positive-control run, so the setup's sensitivity is unknown"
        return (f"the positive control moved the primary metric by {self.margin:+.4f} ({self.in_sesoi:.1f} SESOIs; "
                f"{self.verdict}), less than the {self.threshold:g} needed to tell an effect of the SESOI's size "
                "from none")


def sensitivity(summary: pd.DataFrame, d: Declaration) -> Sensitivity:
    rows = summary[(summary["role"] == "sensitivity") & (summary["grouping"] == "overall")]
    threshold = d.sensitivity_threshold
    if not len(rows):
        return Sensitivity(None, None, threshold, NOT_TESTED, False)
    r = rows.iloc[0]
    verdict = str(r["verdict"]) if pd.notna(r.get("verdict")) and r.get("verdict") != "" else NOT_TESTED
    margin = float(r["margin"])
    # A positive control that did not learn its task (flagged) shows nothing about the setup, whatever it moved.
    learned = not str(r.get("flag") or "")
    sufficient = learned and verdict.startswith("difference") and margin > 0 and margin >= threshold
    return Sensitivity(margin, margin / d.primary.sesoi, threshold, verdict, sufficient)


def qualify(summary: pd.DataFrame, per_language: pd.DataFrame, gates: dict[str, Gate],
            d: Declaration) -> tuple[pd.DataFrame, pd.DataFrame, Sensitivity]:
    """``summary`` and ``per_language`` with the gates' flags, and the declared rows' verdicts qualified."""
    summary, per_language = summary.copy(), per_language.copy()
    learned = {arm: gate.learned for arm, gate in gates.items()}

    def flag(treatment: str, control: str) -> str:
        return "; ".join(g.flag for g in (gates.get(treatment), gates.get(control)) if g is not None and g.flag)

    for table in (summary, per_language):
        table["treatment_learned"] = table["treatment"].map(learned).astype(object)
        table["control_learned"] = table["control"].map(learned).astype(object)
        table["flag"] = [flag(t, c) for t, c in zip(table["treatment"], table["control"])]
    sens = sensitivity(summary, d)
    declared = summary["verdict"].fillna("").astype(str) != ""
    for i in summary.index[declared]:
        verdict, note = str(summary.at[i, "verdict"]), str(summary.at[i, "verdict_note"] or "")
        if summary.at[i, "flag"]:
            verdict, note = NOT_INTERPRETED, f"{summary.at[i, 'flag']}; " + note
        elif verdict.startswith("equivalent") and summary.at[i, "role"] != "sensitivity" and not sens.sufficient:
            verdict, note = INCONCLUSIVE, f"equivalence withheld: {sens.reason}; " + note
        summary.at[i, "verdict"], summary.at[i, "verdict_note"] = verdict, note.rstrip("; ")
    return summary, per_language, sens
