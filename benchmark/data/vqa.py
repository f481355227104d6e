"""VQAv2: the spec, the official-format reader, VQA soft scores, the answer vocabulary, and the
bundled COCO-QA-style stand-in used by ``mini``.

VQAv2 itself is not bundled (not available offline): ``mini`` trains its VQA arm on questions
generated from COCO instance annotations (:func:`load_coco_qa`, built by
:func:`benchmark.data.coco.generate_qa`), stored in the same shape (10 answers per question) so the
same soft-score head and metrics serve both.

**Answer normalisation** (:func:`normalize_answer`) is a documented subset of the official VQA
evaluation (``vqaEval.py``: ``processPunctuation`` + ``processDigitArticle``): lowercase; newlines and
tabs to spaces; the official punctuation set removed (when next to a space or when the text has a
digit-comma-digit) or replaced by a space; periods removed unless followed by a digit; number words
"zero".."ten" to digits; articles "a", "an", "the" dropped; a few common missing apostrophes
restored (``_CONTRACTIONS``, a subset of the official list); whitespace collapsed.

**Soft score** (:func:`soft_scores`): for each distinct normalised answer, ``min(#humans who gave
it / 3, 1)`` — the score commonly used as the BCE target. The official metric instead averages
``min(matches among the other 9 / 3, 1)`` over the 10 leave-one-out subsets, which gives 0.3/0.6/0.9
to answers given by 1/2/3 humans where this gives 1/3, 2/3, 1; from 4 humans on both give 1.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.data import coco
from benchmark.data.coco import UnresolvedUrlPin, UrlDatasetSpec, UrlPin
from benchmark.data.spec import BUNDLE_DIR
from benchmark.io import BenchmarkError
from benchmark.schema import declare

TOP_K = 3129
N_ANSWERS = 10
COLUMNS: tuple[str, ...] = (
    "question_id", "image_id", "question", "question_type", "answer_type", "answers", "multiple_choice_answer",
)  # fmt: skip

_NO_SHA = "VQA publishes no checksums and none was found in a public checksum registry; record the sha256 of one trusted download"
_S3 = "https://s3.amazonaws.com/cvmlp/vqa/mscoco/vqa"
VQAV2_UPSTREAM: dict[str, UrlPin | UnresolvedUrlPin] = {
    name: UnresolvedUrlPin(url=f"{_S3}/{name}", sha256_unresolved=_NO_SHA)
    for name in (
        "v2_Questions_Train_mscoco.zip",
        "v2_Annotations_Train_mscoco.zip",
        "v2_Questions_Val_mscoco.zip",
        "v2_Annotations_Val_mscoco.zip",
    )
}
# VQAv2 asks about COCO 2014 images (same checksum registry as the COCO 2017 archives).
VQAV2_UPSTREAM |= {
    "train2014.zip": UrlPin(
        url="http://images.cocodataset.org/zips/train2014.zip",
        sha256="ede4087e640bddba550e090eae701092534b554b42b05ac33f0300b984b31775",
        size=13510573713,
        checksum_source=coco._TFDS,
    ),
    "val2014.zip": UrlPin(
        url="http://images.cocodataset.org/zips/val2014.zip",
        sha256="fe9be816052049c34717e077d9e34aa60814a55679f804cd043e3cbee3b9fde0",
        size=6645013297,
        checksum_source=coco._TFDS,
    ),
}

VQAV2: UrlDatasetSpec = declare(
    UrlDatasetSpec,
    name="vqav2",
    description=(
        "VQAv2: open-ended questions about COCO 2014 images, 10 human answers each "
        "(train 443,757 / val 214,354 questions). Not bundled: the mini profile uses COCO-QA-style "
        "questions generated from COCO instances (coco_qa.parquet, see benchmark.data.coco.COCO)."
    ),
    license="CC-BY-4.0 (annotations); images under per-image Flickr licenses (COCO)",
    license_url="https://creativecommons.org/licenses/by/4.0/",
    citation=(
        "@inproceedings{goyal2017vqav2, title={Making the {V} in {VQA} Matter: Elevating the Role of Image "
        "Understanding in Visual Question Answering}, author={Goyal, Yash and Khot, Tejas and Summers-Stay, "
        "Douglas and Batra, Dhruv and Parikh, Devi}, booktitle={CVPR}, year={2017}}"
    ),
    homepage="https://visualqa.org",
    languages=("eng_Latn",),
    splits={"train": 443757, "val": 214354},
    upstream=VQAV2_UPSTREAM,
)


# --- answers -------------------------------------------------------------------------------------

_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")  # as in the official eval (a period not followed by a digit)
_NUMBERS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_ARTICLES = {"a", "an", "the"}
_CONTRACTIONS = {
    "arent": "aren't", "cant": "can't", "couldnt": "couldn't", "didnt": "didn't", "doesnt": "doesn't",
    "dont": "don't", "hasnt": "hasn't", "havent": "haven't", "isnt": "isn't", "shouldnt": "shouldn't",
    "wasnt": "wasn't", "werent": "weren't", "wont": "won't", "wouldnt": "wouldn't", "youre": "you're",
    "im": "i'm", "ive": "i've", "thats": "that's", "theyre": "they're", "whats": "what's",
}  # fmt: skip


def normalize_answer(answer: str) -> str:
    """The official VQA answer normalisation, documented subset (see the module docstring)."""
    text = answer.replace("\n", " ").replace("\t", " ").strip().lower()
    comma_digit = _COMMA_STRIP.search(text) is not None
    for p in _PUNCT:
        if p + " " in text or " " + p in text or comma_digit:
            text = text.replace(p, "")
        else:
            text = text.replace(p, " ")
    text = _PERIOD_STRIP.sub("", text)
    words = []
    for word in text.split():
        word = _NUMBERS.get(word, word)
        if word in _ARTICLES:
            continue
        words.append(_CONTRACTIONS.get(word, word))
    return " ".join(words)


def soft_scores(answers: Iterable[str]) -> dict[str, float]:
    """``{normalised answer: min(#humans who gave it / 3, 1)}`` over the (usually 10) human answers."""
    counts = Counter(normalize_answer(a) for a in answers)
    return {a: min(n / 3.0, 1.0) for a, n in sorted(counts.items())}


def _majority(answers: Iterable[str]) -> str:
    """Most frequent normalised answer; ties broken alphabetically."""
    counts = Counter(normalize_answer(a) for a in answers)
    if not counts:
        raise BenchmarkError("no answers")
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def build_answer_vocab(train_answers: Iterable[str], top_k: int = TOP_K, normalize: bool = True) -> list[str]:
    """The ``top_k`` most frequent (multiple-choice) answers, most frequent first, ties alphabetical."""
    if top_k <= 0:
        raise BenchmarkError(f"top_k must be positive, got {top_k}")
    counts = Counter(normalize_answer(a) if normalize else a for a in train_answers)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [a for a, _ in ranked[:top_k]]


def answer_prior_accuracy(train: pd.DataFrame, heldout: pd.DataFrame) -> dict[str, float]:
    """VQA accuracy on ``heldout`` of always answering the most frequent train answer of the question's
    ``question_type`` (ties alphabetical; an unseen type scores 0).

    Train answers are ``multiple_choice_answer`` when present, else the majority of ``answers``;
    a prediction scores its soft score against the held-out question's ``answers``. Returns
    ``{"overall": acc, <question_type>: acc, ...}``."""
    for name, df in (("train", train), ("heldout", heldout)):
        missing = {"question_type", "answers"} - set(df.columns)
        if missing:
            raise BenchmarkError(f"answer_prior_accuracy: {name} lacks column(s) {sorted(missing)}")
    if len(heldout) == 0:
        raise BenchmarkError("answer_prior_accuracy: empty heldout set")
    if "multiple_choice_answer" in train.columns:
        train_answer = [normalize_answer(a) for a in train["multiple_choice_answer"]]
    else:
        train_answer = [_majority(a) for a in train["answers"]]
    prior: dict[str, str] = {}
    for qtype, answers in pd.DataFrame({"t": list(train["question_type"]), "a": train_answer}).groupby("t", sort=True)["a"]:
        counts = Counter(answers)
        prior[qtype] = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    scores = [
        soft_scores(answers).get(prior[t], 0.0) if t in prior else 0.0
        for t, answers in zip(heldout["question_type"], heldout["answers"])
    ]
    frame = pd.DataFrame({"t": list(heldout["question_type"]), "s": scores})
    out = {"overall": float(frame["s"].mean())}
    out |= {str(t): float(s) for t, s in frame.groupby("t", sort=True)["s"].mean().items()}
    return out


# --- official format -----------------------------------------------------------------------------


def _load(path: Path, key: str) -> list[Any]:
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise BenchmarkError(f"{path}: missing list {key!r}")
    return doc[key]


def _need(path: Path, what: str, i: int, item: Any, keys: Sequence[str]) -> dict[str, Any]:
    if not isinstance(item, dict) or any(k not in item for k in keys):
        got = sorted(item) if isinstance(item, dict) else type(item).__name__
        raise BenchmarkError(f"{path}: {what}[{i}] lacks one of {', '.join(keys)} (has {got})")
    return item


def read_vqav2(questions_json: Path, annotations_json: Path) -> pd.DataFrame:
    """Official VQAv2 ``*_questions.json`` + ``*_annotations.json`` -> one row per question, sorted by
    ``question_id``, with :data:`COLUMNS`; ``answers`` is the list of the 10 human answers (raw text).

    ``question_type``, ``answer_type`` and ``multiple_choice_answer`` are optional in the annotation
    file (trimmed copies such as test fixtures omit them): missing types become ``None`` and a missing
    ``multiple_choice_answer`` becomes the most frequent normalised answer. Every question must have
    exactly one annotation and vice versa, and image ids must agree."""
    qpath, apath = Path(questions_json), Path(annotations_json)
    questions = {}
    for i, q in enumerate(_load(qpath, "questions")):
        q = _need(qpath, "questions", i, q, ("question_id", "image_id", "question"))
        if q["question_id"] in questions:
            raise BenchmarkError(f"{qpath}: duplicate question_id {q['question_id']}")
        questions[q["question_id"]] = q
    rows = []
    seen: set[int] = set()
    for i, a in enumerate(_load(apath, "annotations")):
        a = _need(apath, "annotations", i, a, ("question_id", "answers"))
        qid = a["question_id"]
        if qid not in questions:
            raise BenchmarkError(f"{apath}: annotations[{i}] refers to question_id {qid}, absent from {qpath}")
        if qid in seen:
            raise BenchmarkError(f"{apath}: duplicate annotation for question_id {qid}")
        seen.add(qid)
        q = questions[qid]
        if "image_id" in a and a["image_id"] != q["image_id"]:
            raise BenchmarkError(f"{apath}: question_id {qid} has image_id {a['image_id']}, {qpath} says {q['image_id']}")
        if not isinstance(a["answers"], list) or len(a["answers"]) != N_ANSWERS:
            raise BenchmarkError(f"{apath}: question_id {qid}: expected {N_ANSWERS} answers")
        answers = [_need(apath, f"annotations[{i}].answers", j, x, ("answer",))["answer"] for j, x in enumerate(a["answers"])]
        rows.append(
            (
                int(qid), int(q["image_id"]), q["question"], a.get("question_type"), a.get("answer_type"),
                answers, a.get("multiple_choice_answer", _majority(answers)),
            )
        )  # fmt: skip
    unanswered = sorted(set(questions) - seen)
    if unanswered:
        raise BenchmarkError(f"{apath}: no annotation for {len(unanswered)} question(s) of {qpath} (e.g. {unanswered[0]})")
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df["question_id"] = df["question_id"].astype("int64")
    df["image_id"] = df["image_id"].astype("int64")
    return df.sort_values("question_id", kind="stable").reset_index(drop=True)


def load_coco_qa(data_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """The bundled COCO-QA-style questions (``question_id, image_id, question_type, question, answers,
    split``), checked against the manifest; see :mod:`benchmark.data.coco` for how they are generated."""
    return coco.load_qa(data_dir)


__all__ = [
    "VQAV2",
    "answer_prior_accuracy",
    "build_answer_vocab",
    "load_coco_qa",
    "normalize_answer",
    "read_vqav2",
    "soft_scores",
]
