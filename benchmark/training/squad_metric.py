"""SQuAD v1.1's official answer metrics (``evaluate-v1.1.py``), as fractions in [0, 1].

Kept exactly as the official script so scores compare with published ones: v1.1, not v2.0 (which
scores an empty normalized answer against an empty gold as F1 1, where v1.1 gives 0).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

_PUNCTUATION = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """Lowercase, drop punctuation, then the articles a/an/the, then collapse whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def best_f1(prediction: str, golds: Sequence[str]) -> float:
    """F1 against the closest of the gold answers (the official max over ground truths)."""
    return max(f1(prediction, g) for g in golds)


def best_exact_match(prediction: str, golds: Sequence[str]) -> float:
    return max(exact_match(prediction, g) for g in golds)
