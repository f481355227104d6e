"""XTREME's metrics, each as its source defines it; pure functions, scores in percent (0-100) as
google-research/xtreme ``evaluate.py`` reports them.

| target | XTREME's ``METRIC_FUNCTION`` | here |
| --- | --- | --- |
| XNLI, PAWS-X (and Belebele, Tatoeba) | ``accuracy`` | :func:`accuracy` |
| PAN-X, UD-POS | ``f1`` = ``seqeval.metrics.f1_score`` | :func:`seqeval_scores` |
| XQuAD, TyDiQA-GoldP | ``squad_em_f1`` = allenai/bi-att-flow ``squad/evaluate-v1.1.py`` | :func:`squad_scores` |
| MLQA | ``mlqa_em_f1`` = facebookresearch/MLQA ``mlqa_evaluation_v1.py`` | :func:`mlqa_scores` |

XTREME's ``install_tools.sh`` downloads the two QA scripts; the SQuAD one is already in this package
(:mod:`benchmark.training.squad_metric`) and is reused, not copied. A mismatch between gold and
predictions (count, or a sentence's length) is one :class:`BenchmarkError`, never a silent truncation.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Literal

from benchmark.io import BenchmarkError
from benchmark.training import squad_metric

Scores = dict[str, float]


def _aligned(gold: Sequence[object], pred: Sequence[object], what: str) -> None:
    if len(gold) != len(pred):
        raise BenchmarkError(f"{what}: {len(gold)} gold items but {len(pred)} predictions")
    if not gold:
        raise BenchmarkError(f"{what}: nothing to score")


def accuracy(labels: Sequence[Hashable], predictions: Sequence[Hashable]) -> float:
    """Percent of predictions equal to the label (xtreme ``evaluate.py`` ``accuracy``)."""
    _aligned(labels, predictions, "accuracy")
    return 100.0 * sum(p == g for g, p in zip(labels, predictions)) / len(predictions)


# --- seqeval (PAN-X, UD-POS) ----------------------------------------------------------------------

SeqevalVersion = Literal["0.0.12", "1.2.2"]


def get_entities(sentences: Sequence[Sequence[str]], version: SeqevalVersion = "0.0.12") -> list[tuple[str, int, int]]:
    """``(type, first, last)`` chunks, as ``seqeval.metrics.sequence_labeling.get_entities`` (default,
    non-strict mode) finds them: sentences are joined with an ``O`` between them, a tag's first
    character is its prefix and the rest after ``-`` its type. Lenient like conlleval: ``I-X`` after
    ``O`` opens a chunk, a type change closes one.

    Tags without a prefix, such as UPOS, go through the same rules: ``NOUN`` has prefix ``N`` and type
    ``NOUN`` (0.0.12), so a *run* of equal tags is one chunk, except tags starting with ``S`` (SCONJ,
    SYM: prefix S = single) which are one chunk each. seqeval 1.x takes the type after the first
    character (``NOUN`` -> ``OUN``), which makes CCONJ and SCONJ the same type ``CONJ``; ``version``
    picks the rule (XTREME's ``install_tools.sh`` installs seqeval unpinned; 0.0.12 was current at its
    release, 1.0 came later)."""
    flat = [tag for sentence in sentences for tag in [*sentence, "O"]]
    chunks: list[tuple[str, int, int]] = []
    prev_tag, prev_type, begin = "O", "", 0
    for i, chunk in enumerate([*flat, "O"]):
        tag = chunk[0]
        type_ = chunk.split("-")[-1] if version == "0.0.12" else (chunk[1:].split("-", maxsplit=1)[-1] or "_")
        if _chunk_end(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _chunk_start(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def _chunk_end(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    return (
        prev_tag in ("E", "S")
        or (prev_tag in ("B", "I") and tag in ("B", "S", "O"))
        or (prev_tag not in ("O", ".") and prev_type != type_)
    )


def _chunk_start(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    return (
        tag in ("B", "S")
        or (prev_tag in ("E", "S", "O") and tag in ("E", "I"))
        or (tag not in ("O", ".") and prev_type != type_)
    )


def seqeval_scores(gold: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]],
                   version: SeqevalVersion = "0.0.12") -> Scores:
    """Micro precision/recall/F1 over chunks (:func:`get_entities`): a predicted chunk counts only if
    its type and both boundaries match a gold chunk (xtreme ``evaluate.py`` ``f1`` and
    ``third_party/run_tag.py``, both ``seqeval.metrics.f1_score``). For PAN-X that is entity F1. For
    UD-POS, where every tag is a bare UPOS tag, it is F1 over maximal runs of equal tags (SCONJ and
    SYM tokens each alone) -- not token accuracy: one wrong tag inside a run spoils the whole run."""
    _aligned(gold, predictions, "seqeval")
    for n, (g, p) in enumerate(zip(gold, predictions)):
        if len(g) != len(p):
            raise BenchmarkError(f"seqeval: sentence {n} has {len(g)} gold tags but {len(p)} predicted")
    true, pred = set(get_entities(gold, version)), set(get_entities(predictions, version))
    correct = len(true & pred)
    precision = correct / len(pred) if pred else 0.0
    recall = correct / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": 100.0 * precision, "recall": 100.0 * recall, "f1": 100.0 * f1}


# --- extractive QA ---------------------------------------------------------------------------------


def squad_scores(answers: Sequence[Sequence[str]], predictions: Sequence[str]) -> Scores:
    """SQuAD v1.1 EM and F1 (max over the gold answers, mean over questions), as allenai/bi-att-flow
    ``squad/evaluate-v1.1.py``, which XTREME uses for XQuAD and TyDiQA-GoldP (and TyDiQA's
    ``gold_passage_baseline/README.md`` prescribes); per-answer scores from
    :mod:`benchmark.training.squad_metric`."""
    # benchmark.training imports torch: only the QA path pays for it

    _aligned(answers, predictions, "squad")
    em = sum(squad_metric.best_exact_match(p, g) for g, p in zip(answers, predictions))
    f1 = sum(squad_metric.best_f1(p, g) for g, p in zip(answers, predictions))
    return {"exact_match": 100.0 * em / len(answers), "f1": 100.0 * f1 / len(answers)}




def mlqa_punct(char: str) -> bool:
    """In MLQA's ``PUNCT``: every Unicode punctuation character (category P*) plus ASCII
    ``string.punctuation`` (which also holds symbols: $ + < = > ^ ` | ~). Tested per character rather
    than built as MLQA builds it (a set over all code points), which is the same membership."""
    return unicodedata.category(char).startswith("P") or char in string.punctuation

MLQA_ARTICLES = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "hi": None,  # "Hindi does not have formal articles"
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    # Kept as written upstream: the first alternative can never match, so every "ال" anywhere is removed.
    "ar": r"\sال^|ال",
    "zh": None,  # "Chinese does not have formal articles"
}
MLQA_MIXED_SEGMENTATION = ("zh",)


def _mixed_segmentation(text: str) -> list[str]:
    """Each CJK ideograph (U+4E00-U+9FA5) and punctuation mark is a token; the rest splits on whitespace."""
    tokens, pending = [], ""
    for char in text:
        if re.search(r"[\u4e00-\u9fa5]", char) or mlqa_punct(char):
            tokens.extend(pending.split())
            pending = ""
            tokens.append(char)
        else:
            pending += char
    return tokens + pending.split()


def mlqa_normalize(text: str, language: str) -> str:
    """MLQA's ``normalize_answer``: lowercase, drop Unicode punctuation, drop the language's articles,
    then segment (whitespace, or mixed for zh) and rejoin with single spaces."""
    if language not in MLQA_ARTICLES:
        raise BenchmarkError(f"MLQA has no normalisation for language {language!r}; known: {', '.join(MLQA_ARTICLES)}")
    text = "".join(ch for ch in text.lower() if not mlqa_punct(ch))
    if MLQA_ARTICLES[language]:
        text = re.sub(MLQA_ARTICLES[language], " ", text)
    tokens = _mixed_segmentation(text) if language in MLQA_MIXED_SEGMENTATION else text.split()
    return " ".join(t for t in tokens if t.strip())


def mlqa_f1(prediction: str, gold: str, language: str) -> float:
    pred, ref = mlqa_normalize(prediction, language).split(), mlqa_normalize(gold, language).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def mlqa_exact_match(prediction: str, gold: str, language: str) -> float:
    return float(mlqa_normalize(prediction, language) == mlqa_normalize(gold, language))


def mlqa_scores(answers: Sequence[Sequence[str]], predictions: Sequence[str], language: str) -> Scores:
    """facebookresearch/MLQA ``mlqa_evaluation_v1.py`` ``evaluate``: EM and F1 with the answer
    language's normalisation, max over gold answers, mean over questions. XTREME passes the context
    language (``evaluate.py`` ``mlqa_em_f1``)."""
    _aligned(answers, predictions, "mlqa")
    em = sum(max(mlqa_exact_match(p, g, language) for g in gs) for gs, p in zip(answers, predictions))
    f1 = sum(max(mlqa_f1(p, g, language) for g in gs) for gs, p in zip(answers, predictions))
    return {"exact_match": 100.0 * em / len(answers), "f1": 100.0 * f1 / len(answers)}


__all__ = [
    "MLQA_ARTICLES",
    "accuracy",
    "get_entities",
    "mlqa_exact_match",
    "mlqa_f1",
    "mlqa_normalize",
    "mlqa_punct",
    "mlqa_scores",
    "seqeval_scores",
    "squad_scores",
]
