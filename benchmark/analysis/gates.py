"""Evidence gates: did an arm learn its intermediate task? Decided by a test on held-out items, per run.

An arm's transfer number says something about its task only if the arm learned it. Each trained run
wrote held-out evidence (``metrics/train/<run>.json``, from :mod:`benchmark.training`); this module
turns it into one verdict per arm, each run's gate a test at ``alpha``:

* textual arms: every task's paired exact McNemar test, trained vs the frozen pretrained encoder with
  the same head (``heldout.<task>.<metric>.learned``, :mod:`benchmark.training.text_evidence`);
* the positive control: the same paired test on held-out translation retrieval
  (``heldout.parallel.learned``, :mod:`benchmark.training.parallel_evidence`);
* contrastive COCO arms: an exact binomial test of held-out R@1 hits against chance (one query per
  held-out image): image->caption for the image arm (it cannot beat chance without the image features),
  caption->caption for the caption-only control. Whether the transfer uses what an image shows needs the shuffled-image
  control, a separate comparison;
* other arms (MLM, VQA): their true- vs deranged-image scores carry no per-item test here: ``None``.

An arm passes only if every run passes; a flagged arm's rows keep their numbers but are marked, and a
flagged arm is never read as a headline arm (:mod:`benchmark.report.answer`).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import binomtest

from benchmark.arms import parse_run

ALPHA = 0.05
# The held-out R@1 that carries a per-item test, by (objective, COCO view); an arm of any other pair
# has none. One query per held-out image in both (so R@1 x images is the hit count, and 1 / chance the
# images): image->caption for the image arm (its caption->image R@1 has five queries per image), the
# first caption -> the others' second for the caption-only control.
_R1 = {("contrastive", "captions"): "heldout.r1_image_to_caption.true",
       ("contrastive", "caption_pairs"): "heldout.caption_r1.none"}


@dataclass(frozen=True)
class Gate:
    arm: str
    learned: bool | None  # None: nothing to learn (baseline) or no per-item test for this kind of arm
    detail: str  # what the gate rests on, one clause

    @property
    def flag(self) -> str:
        """'' for a passed or untested arm; else why its rows are flagged."""
        return f"{self.arm} did not learn its task ({self.detail})" if self.learned is False else ""


def _run_gate(arm: str, evidence: dict[str, float]) -> tuple[bool | None, str]:
    spec, _ = parse_run(arm)
    if not spec.trained:
        return None, "untrained"
    if spec.kind == "textual" or spec.kind == "positive":
        keys = sorted(k for k in evidence if k.endswith(".learned"))
        if not keys:
            return None, "no paired held-out test recorded"
        def said(key: str) -> str:
            name, p = key.removeprefix("heldout.").removesuffix(".learned"), evidence.get(key.replace(".learned", ".mcnemar_p"))
            return f"{name} McNemar p {p:.2g}" if p is not None else name

        failed = [k for k in keys if evidence[k] < 0.5]
        return not failed, (f"learned ({', '.join(said(k) for k in keys)})" if not failed
                            else f"not shown on {', '.join(said(k) for k in failed)}")
    column = _R1.get((spec.objective, spec.data))
    if column is None or column not in evidence:
        return None, "no per-item held-out test for this objective"
    chance = float(evidence["heldout.r1_chance"])
    n = round(1.0 / chance)
    hits = round(float(evidence[column]) * n)
    p = binomtest(hits, n, chance, alternative="greater").pvalue
    return bool(p < ALPHA), f"held-out R@1 {hits}/{n} images vs chance {chance:.3f}, binomial p {p:.2g}"


def arm_gates(evidence_by_run: dict[str, dict[str, float]]) -> dict[str, Gate]:
    """One gate per arm from its runs' evidence: learned only if every run's gate passed."""
    runs_of: dict[str, list[tuple[bool | None, str]]] = {}
    for run, evidence in evidence_by_run.items():
        runs_of.setdefault(parse_run(run)[0].name, []).append(_run_gate(run, evidence))
    gates = {}
    for arm, results in runs_of.items():
        verdicts = [v for v, _ in results]
        if all(v is None for v in verdicts):
            gates[arm] = Gate(arm, None, results[0][1])
            continue
        passed = sum(v is True for v in verdicts)
        details = "; ".join(dict.fromkeys(d for _, d in results))
        gates[arm] = Gate(arm, passed == len(results), f"passed in {passed} of {len(results)} runs: {details}")
    return gates
