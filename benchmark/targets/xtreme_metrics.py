"""XTREME's metrics, each as its source defines it; pure functions, scores in percent (0-100) as
google-research/xtreme ``evaluate.py`` reports them.

| target | XTREME's ``METRIC_FUNCTION`` | here |
| --- | --- | --- |
| XNLI, PAWS-X (and Belebele, Tatoeba) | ``accuracy`` | :func:`accuracy` |
| PAN-X, UD-POS | ``f1`` = ``seqeval.metrics.f1_score`` | :func:`seqeval_scores` |
| XQuAD, TyDiQA-GoldP | ``squad_em_f1`` = allenai/bi-att-flow ``squad/evaluate-v1.1.py`` | :func:`squad_scores` |
| MLQA | ``mlqa_em_f1`` = facebookresearch/MLQA ``mlqa_evaluation_v1.py`` | :func:`mlqa_scores` |
| BUCC 2018 | ``bucc_f1``, threshold of ``third_party/utils_retrieve.py`` | :func:`bucc_scores` |

XTREME's ``install_tools.sh`` downloads the two QA scripts; the SQuAD one is already in this package
(:mod:`benchmark.training.squad_metric`) and is reused, not copied. A mismatch between gold and
predictions (count, or a sentence's length) is one :class:`BenchmarkError`, never a silent truncation.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Literal

import numpy as np

from benchmark.io import BenchmarkError
from benchmark.training import squad_metric

Scores = dict[str, float]
Pair = tuple[str, str]


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


# --- BUCC 2018 -------------------------------------------------------------------------------------


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _knn(a: np.ndarray, b: np.ndarray, k: int, block: int = 1 << 25) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``a``'s k highest inner products with rows of ``b``, best first, ties to the lower
    index: ``(sims, indices)``. Computed ``block`` similarities at a time, so a BUCC-sized corpus
    (~400k sentences a side) never needs its full similarity matrix. Which of several rows tied at the
    k-th place is kept is unspecified, as with faiss."""
    k = min(k, len(b))
    sims, idx = np.empty((len(a), k)), np.empty((len(a), k), dtype=np.int64)
    step = max(1, block // max(1, len(b)))
    for start in range(0, len(a), step):
        s = a[start : start + step] @ b.T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < s.shape[1] else np.tile(np.arange(k), (len(s), 1))
        top_s = np.take_along_axis(s, top, axis=1)
        order = np.lexsort((top, -top_s), axis=-1)
        sims[start : start + step] = np.take_along_axis(top_s, order, axis=1)
        idx[start : start + step] = np.take_along_axis(top, order, axis=1)
    return sims, idx


def _first_rows(texts: Sequence[str]) -> list[int]:
    """Row of each distinct text's first occurrence, in file order."""
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    return list(first.values())


def bucc_candidates(src_ids: Sequence[str], src_texts: Sequence[str], src_emb: np.ndarray,
                    trg_ids: Sequence[str], trg_texts: Sequence[str], trg_emb: np.ndarray,
                    k: int = 4) -> dict[Pair, float]:
    """Candidate pairs and their margin scores, as xtreme ``third_party/utils_retrieve.py``
    ``mine_bitext`` (defaults: cosine, ratio margin, neighbourhood 4, retrieval ``max``, threshold 0)
    then ``read_candidate2score`` compute them:

    * identical sentences are embedded once (``text_load_unify``);
    * ratio margin: ``cos(x, y) / ((mean_k cos(x, NN_k(x)) + mean_k cos(y, NN_k(y))) / 2)``, scored
      for each sentence's k nearest neighbours only; each side's best is its candidate;
    * ``max``: both directions' candidates, by decreasing score, each sentence used at most once;
    * a sentence occurring more than once in its file has no single id and its pairs are dropped
      (``read_sent2id``).

    Equal scores are ordered by a stable sort, where XTREME's numpy quicksort leaves them unspecified.
    The neighbour search is exact (faiss ``IndexFlatIP`` in XTREME), in blocks (:func:`_knn`)."""
    for ids, texts, emb, side in ((src_ids, src_texts, src_emb, "source"), (trg_ids, trg_texts, trg_emb, "target")):
        if not len(ids) == len(texts) == len(emb):
            raise BenchmarkError(f"bucc: {side} has {len(ids)} ids, {len(texts)} sentences, {len(emb)} embeddings")
    src_rows, trg_rows = _first_rows(src_texts), _first_rows(trg_texts)
    x, y = _unit(np.asarray(src_emb)[src_rows]), _unit(np.asarray(trg_emb)[trg_rows])
    x_sim, x_nn = _knn(x, y, k)  # each source's nearest targets
    y_sim, y_nn = _knn(y, x, k)  # each target's nearest sources
    x_mean, y_mean = x_sim.mean(axis=1), y_sim.mean(axis=1)
    fwd = x_sim / ((x_mean[:, None] + y_mean[x_nn]) / 2)
    bwd = y_sim / ((y_mean[:, None] + x_mean[y_nn]) / 2)
    pairs = [(i, int(x_nn[i, fwd[i].argmax()]), float(fwd[i].max())) for i in range(len(x))]
    pairs += [(int(y_nn[j, bwd[j].argmax()]), j, float(bwd[j].max())) for j in range(len(y))]
    order = np.argsort(-np.array([s for _, _, s in pairs]), kind="stable")
    src_text = [src_texts[r] for r in src_rows]
    trg_text = [trg_texts[r] for r in trg_rows]
    src_id = _single_ids(src_ids, src_texts)
    trg_id = _single_ids(trg_ids, trg_texts)
    seen_src: set[int] = set()
    seen_trg: set[int] = set()
    candidates: dict[Pair, float] = {}
    for n in order:
        i, j, score = pairs[n]
        if i in seen_src or j in seen_trg:
            continue
        seen_src.add(i)
        seen_trg.add(j)
        s, t = src_id.get(src_text[i]), trg_id.get(trg_text[j])
        if score > 0 and s is not None and t is not None:
            candidates[(s, t)] = max(score, candidates.get((s, t), score))
    return candidates


def _single_ids(ids: Sequence[str], texts: Sequence[str]) -> dict[str, str]:
    counts = Counter(texts)
    return {text: item for item, text in zip(ids, texts) if counts[text] == 1}


def bucc_optimize(candidates: Mapping[Pair, float], gold: set[Pair]) -> float:
    """xtreme ``utils_retrieve.py`` ``bucc_optimize``: walk the candidates by decreasing score and
    keep the cut with the best F1 against ``gold``; the threshold is the midpoint between that
    candidate's score and the next one's. Where the best cut is the last candidate, XTREME indexes past
    the end (IndexError); here the threshold is then that candidate's own score. No correct candidate:
    threshold 0, as XTREME."""
    items = sorted(candidates.items(), key=lambda kv: -kv[1])
    correct = 0
    threshold = best = 0.0
    for extracted, (pair, score) in enumerate(items, start=1):
        correct += pair in gold
        if correct:
            precision, recall = correct / extracted, correct / len(gold)
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best:
                best = f1
                threshold = (score + items[extracted][1]) / 2 if extracted < len(items) else score
    return threshold


def bucc_extract(candidates: Mapping[Pair, float], threshold: float) -> set[Pair]:
    """Every candidate scoring at least ``threshold`` (``bucc_extract``; ``>=``, so a tie with the
    cut is kept even past the optimised prefix)."""
    return {pair for pair, score in candidates.items() if score >= threshold}


def bitext_scores(gold: set[Pair], predicted: set[Pair]) -> Scores:
    """Precision/recall/F1 of predicted pairs against gold pairs (xtreme ``evaluate.py`` ``bucc_f1``)."""
    correct = len(gold & predicted)
    if not correct:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall = correct / len(predicted), correct / len(gold)
    return {"precision": 100.0 * precision, "recall": 100.0 * recall,
            "f1": 100.0 * 2 * precision * recall / (precision + recall)}


def bucc_scores(candidates: Mapping[Pair, float], gold: set[Pair], threshold: float | None = None) -> Scores:
    """``bucc_eval``: with no ``threshold``, the one :func:`bucc_optimize` finds on this gold (what
    XTREME reports on a split whose gold it has); else the given one (e.g. tuned on the ``sample``
    split and applied to ``training``). Returns the threshold with precision/recall/F1."""
    if not gold:
        raise BenchmarkError("bucc: the gold set is empty")
    if threshold is None:
        threshold = bucc_optimize(candidates, gold)
    return {"threshold": threshold, **bitext_scores(gold, bucc_extract(candidates, threshold))}


__all__ = [
    "MLQA_ARTICLES",
    "accuracy",
    "bitext_scores",
    "bucc_candidates",
    "bucc_extract",
    "bucc_optimize",
    "bucc_scores",
    "get_entities",
    "mlqa_exact_match",
    "mlqa_f1",
    "mlqa_normalize",
    "mlqa_punct",
    "mlqa_scores",
    "seqeval_scores",
    "squad_scores",
]
