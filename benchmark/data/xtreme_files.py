"""XTREME's official file formats, read (the datasets' specs are :mod:`benchmark.data.xtreme`).

**Readers** take the official files from a local directory and return the normalized tables of
:data:`benchmark.data.tasks.COLUMNS` plus a ``language`` column, rows in file order, validated by
:func:`benchmark.data.task_tables.validate` (row numbers in its messages are the file's line numbers, or
question numbers for JSON).
Bad input is one :class:`BenchmarkError` naming the file and line or record. Readers write nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from benchmark.data.task_tables import validate
from benchmark.data.tasks import COLUMNS
from benchmark.data.xtreme import (
    TARGETS,
    TYDIQA_NAMES,
    Pin,
    XtremeTarget,
    check_language,
)
from benchmark.io import BenchmarkError, read_bytes, read_lines, sha256_file

# --- shared helpers ------------------------------------------------------------------------------


def _fail(path: Path, line: int | str, message: str) -> BenchmarkError:
    return BenchmarkError(f"{path}: line {line}: {message}")


def _tsv(path: Path, line_no: int, line: str, n: int) -> list[str]:
    cells = line.split("\t")
    if len(cells) != n:
        raise _fail(path, line_no, f"{len(cells)} tab-separated columns, expected {n}")
    return cells


def _label(path: Path, line_no: int, value: str, labels: tuple[str, ...], what: str = "label") -> int:
    if value not in labels:
        raise _fail(path, line_no, f"{what} {value!r} not in {list(labels)}")
    return labels.index(value)


def _finish(target: XtremeTarget, rows: list[dict[str, Any]], index: list[int], language: str | list[str],
            where: Path) -> pd.DataFrame:
    """Validate with tasks.py's row checks (``index`` = line or question numbers, for its messages)."""
    columns = list(COLUMNS[target.format])
    df = validate(target, pd.DataFrame(rows, columns=columns, index=index), str(where))  # type: ignore[arg-type]
    df["language"] = language
    return df


# --- readers -------------------------------------------------------------------------------------


def read_xnli(path: Path) -> pd.DataFrame:
    """``XNLI-1.0/xnli.{dev,test}.tsv``: a header, then one tab-separated pair per line, every language
    in one file. Columns used (by header name, as xtreme utils_preprocess.py xnli_preprocess uses
    positions 0, 1, 6, 7): ``language``, ``gold_label``, ``sentence1``, ``sentence2``; id is
    ``<language>-<pairID>``. Split on tabs only (no CSV quoting), as XTREME does; ``contradictory``
    (XNLI-MT's spelling) is read as ``contradiction``, as XTREME does."""
    path, target = Path(path), TARGETS["xnli"]
    lines = read_lines(path)
    if not lines:
        raise BenchmarkError(f"{path}: empty file, expected a header")
    header = lines[0].split("\t")
    missing = [c for c in ("language", "gold_label", "sentence1", "sentence2", "pairID") if c not in header]
    if missing:
        raise _fail(path, 1, f"header lacks the XNLI columns {missing}")
    at = {c: header.index(c) for c in ("language", "gold_label", "sentence1", "sentence2", "pairID")}
    rows, index, languages = [], [], []
    for n, line in enumerate(lines[1:], start=2):
        cells = _tsv(path, n, line, len(header))
        language = cells[at["language"]]
        check_language("xnli", language, f"{path}: line {n}")
        gold = "contradiction" if cells[at["gold_label"]] == "contradictory" else cells[at["gold_label"]]
        rows.append({"id": f"{language}-{cells[at['pairID']]}", "text": cells[at["sentence1"]].strip(),
                     "text_pair": cells[at["sentence2"]].strip(), "label": _label(path, n, gold, target.labels)})
        index.append(n)
        languages.append(language)
    return _finish(target, rows, index, languages, path)


def read_pawsx(path: Path, language: str) -> pd.DataFrame:
    """``x-final/<lang>/{test_2k,dev_2k,train}.tsv``: header ``id sentence1 sentence2 label``, then one
    tab-separated pair per line (xtreme utils_preprocess.py pawsx_preprocess). Id ``<lang>-<id>``."""
    path, target = Path(path), TARGETS["pawsx"]
    check_language("pawsx", language, path)
    lines = read_lines(path)
    if not lines or lines[0].split("\t") != ["id", "sentence1", "sentence2", "label"]:
        raise _fail(path, 1, "expected the header 'id<TAB>sentence1<TAB>sentence2<TAB>label'")
    rows, index = [], []
    for n, line in enumerate(lines[1:], start=2):
        item, s1, s2, label = _tsv(path, n, line, 4)
        rows.append({"id": f"{language}-{item}", "text": s1.strip(), "text_pair": s2.strip(),
                     "label": _label(path, n, label, target.labels)})
        index.append(n)
    return _finish(target, rows, index, language, path)


def _udpos_words(forms: list[str]) -> bool:
    """XTREME drops sentences whose forms are (almost) all '_' (treebanks released without text):
    kept iff no form is '_' or fewer than len-1 are (utils_preprocess.py udpos_preprocess)."""
    empty = sum(form == "_" for form in forms)
    return empty == 0 or empty < len(forms) - 1


def read_conllu(path: Path, language: str) -> pd.DataFrame:
    """One UD treebank file in CoNLL-U: ``#`` comments, 10 tab-separated columns per word, a blank
    line after each sentence. Multiword-token ranges (``1-2``) and empty nodes (``1.1``) are skipped,
    word ids must run 1, 2, ...; the tag is UPOS (column 4). As XTREME does, spaces and U+200C (ZWNJ)
    are removed from each form and sentences of '_' forms are dropped (utils_preprocess.py
    udpos_preprocess). Id ``<file stem>:<sent_id>`` (the sentence's ordinal if it has no sent_id)."""
    path, target = Path(path), TARGETS["udpos"]
    check_language("udpos", language, path)
    rows: list[dict[str, Any]] = []
    index: list[int] = []
    forms: list[str] = []
    tags: list[int] = []
    sent_id, start, count = "", 0, 0
    for n, line in enumerate([*read_lines(path), ""], start=1):  # the sentinel ends a last sentence
        if not line.strip():
            if forms:
                count += 1
                if _udpos_words(forms):
                    rows.append({"id": f"{path.stem}:{sent_id or count}",
                                 "tokens": ["".join(f.replace("\u200c", "").split(" ")) for f in forms], "tags": tags})
                    index.append(start)
            forms, tags, sent_id = [], [], ""
        elif line.startswith("#"):
            if line.startswith("# sent_id") and "=" in line:
                sent_id = line.split("=", 1)[1].strip()
        else:
            cells = _tsv(path, n, line, 10)
            word_id = cells[0]
            if "-" in word_id or "." in word_id:
                continue
            if word_id != str(len(forms) + 1):
                raise _fail(path, n, f"word id {word_id!r} where {len(forms) + 1} was expected")
            start = start if forms else n
            forms.append(cells[1])
            tags.append(_label(path, n, cells[3], target.labels, "UPOS tag"))
    if not rows:
        raise BenchmarkError(f"{path}: no sentence")
    return _finish(target, rows, index, language, path)


def read_panx(path: Path, language: str) -> pd.DataFrame:
    """Rahimi et al.'s WikiAnn split file as in XTREME's AmazonPhotos.zip (``<lang>-test`` after
    xtreme's download_panx renames it): ``<lang>:<token>\\t<tag>`` lines, a blank line between
    sentences; the ``<lang>:`` prefix is stripped as utils_preprocess.py panx_preprocess does, and must
    name the file's language. Tags are IOB2 (:data:`PANX_TAGS`). Id ``<lang>-<n>`` (n from 1)."""
    path, target = Path(path), TARGETS["panx"]
    check_language("panx", language, path)
    rows: list[dict[str, Any]] = []
    index: list[int] = []
    tokens: list[str] = []
    tags: list[int] = []
    start = 0
    for n, line in enumerate([*read_lines(path), ""], start=1):
        if not line.strip():
            if tokens:
                rows.append({"id": f"{language}-{len(rows) + 1}", "tokens": tokens, "tags": tags})
                index.append(start)
            tokens, tags = [], []
            continue
        token, tag = _tsv(path, n, line, 2)
        prefix, colon, word = token.partition(":")
        if not colon or prefix != language:
            raise _fail(path, n, f"token {token!r} lacks the '{language}:' prefix of the file's language")
        start = start if tokens else n
        tokens.append(word.strip())
        tags.append(_label(path, n, tag.strip(), target.labels, "tag"))
    if not rows:
        raise BenchmarkError(f"{path}: no sentence")
    return _finish(target, rows, index, language, path)


def _json(path: Path) -> Any:
    data = read_bytes(path)
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise BenchmarkError(f"{path}: not valid UTF-8 at byte {e.start}") from None
    except json.JSONDecodeError as e:
        raise BenchmarkError(f"{path}: line {e.lineno}: bad JSON: {e.msg} (column {e.colno})") from None


def _get(record: Any, key: str, kind: type, where: str) -> Any:
    value = record.get(key) if isinstance(record, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise BenchmarkError(f"{where}: {key!r} missing or not a {kind.__name__}")
    return value


def read_squad(path: Path, language: str, target: Literal["xquad", "mlqa", "tydiqa"] | None) -> pd.DataFrame:
    """SQuAD v1.1 JSON (``data[].paragraphs[].qas[].answers[]``), as XQuAD, MLQA and TyDiQA-GoldP
    ship it. Every answer must be found at its ``answer_start`` (xtreme utils_preprocess.py
    remove_qa_test_annotations asserts the same). ``answer_start``/``answer_text`` are the first gold
    answer, ``answers`` all of them. ``target`` None reads any SQuAD v1.1 file without a language check."""
    path = Path(path)
    if target is not None:
        check_language(target, language, path)
    data = _json(path)
    articles = _get(data, "data", list, f"{path}: top level")
    rows: list[dict[str, Any]] = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(_get(article, "paragraphs", list, f"{path}: data[{a}]")):
            where = f"{path}: data[{a}].paragraphs[{p}]"
            context = _get(paragraph, "context", str, where)
            for q, qa in enumerate(_get(paragraph, "qas", list, where)):
                at = f"{where}.qas[{q}]"
                qid = str(_get(qa, "id", str, at))
                answers = _get(qa, "answers", list, f"{at} (id {qid})")
                if not answers:
                    raise BenchmarkError(f"{at} (id {qid}): no answers")
                texts = []
                for k, answer in enumerate(answers):
                    text = _get(answer, "text", str, f"{at}.answers[{k}]")
                    begin = _get(answer, "answer_start", int, f"{at}.answers[{k}]")
                    if context[begin : begin + len(text)] != text or not text:
                        raise BenchmarkError(
                            f"{at} (id {qid}): answer {k} {text!r} not found at answer_start {begin} "
                            f"(the context has {context[begin : begin + len(text)]!r} there)"
                        )
                    texts.append(text)
                rows.append({"id": qid, "context": context, "question": _get(qa, "question", str, at),
                             "answer_start": answers[0]["answer_start"], "answer_text": texts[0], "answers": texts})
    if not rows:
        raise BenchmarkError(f"{path}: no question")
    shape = TARGETS[target or "xquad"]  # only format and num_labels are read: the same for every span target
    return _finish(shape, rows, list(range(1, len(rows) + 1)), language, path)


def read_belebele(path: Path, language: str) -> pd.DataFrame:
    """One Belebele variant, JSON lines with ``link, question_number, flores_passage, question,
    mc_answer1..4, correct_answer_num`` (one-indexed; ``dialect``, when present, must be the variant).
    Mapped like Cosmos QA in tasks.py: ``context`` = the passage, ``choices`` = question + " " + answer_i,
    ``label`` = correct_answer_num - 1. Id ``<link>#<question_number>``; the README says a passage is
    identified by link *and* split, and the files carry no split, so a link's second distinct passage
    (in file order) gets ``<link>~2#<question_number>``, and so on."""
    path, target = Path(path), TARGETS["belebele"]
    check_language("belebele", language, path)
    rows, index = [], []
    passages: dict[str, list[str]] = {}  # link -> its distinct passages, in file order
    for n, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise _fail(path, n, f"bad JSON: {e.msg} (column {e.colno})") from None
        where = f"{path}: line {n}"
        fields = [_get(record, key, str, where) for key in
                  ("link", "flores_passage", "question", "mc_answer1", "mc_answer2", "mc_answer3", "mc_answer4")]
        link, passage, question, *answers = fields
        number = record.get("question_number")
        if str(number) not in ("1", "2"):
            raise _fail(path, n, f"question_number {number!r} is not 1 or 2")
        if record.get("dialect", language) != language:
            raise _fail(path, n, f"dialect {record['dialect']!r} in the file of {language!r}")
        correct = str(record.get("correct_answer_num"))
        seen = passages.setdefault(link, [])
        if passage not in seen:
            seen.append(passage)
        ordinal = seen.index(passage) + 1
        rows.append({"id": f"{link}{f'~{ordinal}' if ordinal > 1 else ''}#{number}", "context": passage,
                     "choices": [f"{question} {answer}" for answer in answers],
                     "label": _label(path, n, correct, target.labels, "correct_answer_num")})
        index.append(n)
    if not rows:
        raise BenchmarkError(f"{path}: no question")
    return _finish(target, rows, index, language, path)


# --- loading a target from its official layout ---------------------------------------------------


def _verified(root: Path, pin: Pin, relpath: str) -> Path:
    path = root / relpath
    expected = pin.sha256.get(relpath)
    if expected is not None and path.is_file():
        got = sha256_file(path)
        if got != expected:
            raise BenchmarkError(
                f"{path}: sha256 mismatch with the pin (expected {expected[:12]}…, got {got[:12]}…)")
    return path


def read_udpos(root: Path, language: str) -> pd.DataFrame:
    """Every treebank of a language under ``root`` (the extracted UD archive, :attr:`XtremeTarget.layout`),
    files in name order, concatenated as XTREME's udpos_preprocess does (:func:`read_conllu` each)."""
    pattern = TARGETS["udpos"].layout.format(lang=language)
    check_language("udpos", language, root)
    paths = sorted(Path(root).glob(pattern), key=lambda p: p.name)
    if not paths:
        raise BenchmarkError(f"{root}: no file matches {pattern}")
    return pd.concat([read_conllu(p, language) for p in paths], ignore_index=True)


def _one_language(df: pd.DataFrame, language: str) -> pd.DataFrame:
    return df[df["language"] == language].reset_index(drop=True)


_LOADERS: dict[str, Callable[[Path, XtremeTarget, str], pd.DataFrame]] = {
    "xnli": lambda root, t, lang: _one_language(read_xnli(_verified(root, t.upstream, t.layout)), lang),
    "pawsx": lambda root, t, lang: read_pawsx(_verified(root, t.upstream, t.layout.format(lang=lang)), lang),
    "udpos": lambda root, t, lang: read_udpos(root, lang),
    "panx": lambda root, t, lang: read_panx(_verified(root, t.upstream, t.layout.format(lang=lang)), lang),
    "xquad": lambda root, t, lang: read_squad(_verified(root, t.upstream, t.layout.format(lang=lang)), lang, "xquad"),
    "mlqa": lambda root, t, lang: read_squad(_verified(root, t.upstream, t.layout.format(lang=lang)), lang, "mlqa"),
    "tydiqa": lambda root, t, lang: read_squad(
        _verified(root, t.upstream, t.layout.format(lang_name=TYDIQA_NAMES[lang])), lang, "tydiqa"),
    "belebele": lambda root, t, lang: read_belebele(_verified(root, t.upstream, t.layout.format(lang=lang)), lang),
}  # fmt: skip


def _english_udpos(root: Path, target: XtremeTarget) -> pd.DataFrame:
    paths = sorted(Path(root).glob(str(target.train_layout)), key=lambda p: p.name)
    if not paths:
        raise BenchmarkError(f"{root}: no file matches {target.train_layout}")
    return pd.concat([read_conllu(p, "en") for p in paths], ignore_index=True)


def _english_tydiqa(root: Path, target: XtremeTarget) -> pd.DataFrame:
    """TyDiQA-GoldP's training file holds every language; xtreme's tydiqa_preprocess splits it by the
    id's first field, and XTREME trains on ``english``'s."""
    path = Path(root) / str(target.train_layout)
    table = read_squad(path, "en", None)
    table = table[table["id"].str.startswith("english-")].reset_index(drop=True)
    if table.empty:
        raise BenchmarkError(f"{path}: no question whose id starts with 'english-'")
    return table


_ENGLISH: dict[str, Callable[[Path, XtremeTarget], pd.DataFrame]] = {
    "udpos": _english_udpos,
    "panx": lambda root, t: read_panx(Path(root) / str(t.train_layout), "en"),
    "tydiqa": _english_tydiqa,
}


def load_english_train(name: str, root: Path) -> pd.DataFrame:
    """A target's English training table from ``root``, where its URL ``train_source`` was extracted
    (:attr:`XtremeTarget.train_layout`)."""
    target = TARGETS[name]
    if target.train_layout is None or name not in _ENGLISH:
        raise BenchmarkError(f"{target.display_name}: no reader for its English training data")
    return _ENGLISH[name](Path(root), target)


def load_target(name: str, root: Path, language: str) -> pd.DataFrame:
    """The evaluation table of one language of a target, from ``root`` (where its official archive was
    extracted, laid out as :attr:`XtremeTarget.layout` says). Refused, before anything is read, when the
    target's pin is unresolved; files the pin names a sha256 for are checked against it (a Hub pin's
    ``root`` is a snapshot of the repo at its revision, taken as given)."""
    target = TARGETS[name]
    check_language(name, language)
    if not target.upstream.resolved:
        raise BenchmarkError(f"{target.display_name}: upstream {target.upstream.source} is unresolved "
                             f"({target.upstream.unresolved}); refusing to load an unpinned copy")
    return _LOADERS[name](Path(root), target, language)
