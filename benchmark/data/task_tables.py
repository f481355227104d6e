"""The tables of the textual tasks (:mod:`benchmark.data.tasks`): read, normalized, validated, split.

**Normalized schema** (:data:`COLUMNS`), the same whichever source a table came from; rows keep
upstream order (train pins first, in pin order), so a load is deterministic:

* ``single``: ``id``, ``text``, ``label`` · ``pair``: ``id``, ``text``, ``text_pair``, ``label``
* ``choice``: ``id``, ``context`` (first segment), ``choices`` (each choice's full second segment),
  ``label``; HellaSwag: ``"activity_label: ctx"`` + the 4 endings; Cosmos QA: ``context`` +
  ``question + " " + answer_i``; CommonsenseQA: ``question`` + the 5 answer texts
* ``span`` (SQuAD v1.1 style): ``id``, ``context``, ``question``, ``answer_start`` (char offset),
  ``answer_text`` (first gold answer, for training), ``answers`` (every gold answer, for F1)
* ``tagging``: ``id``, ``tokens``, ``tags``

**Groups** (``TaskSpec.group_by``, one rule per task): items that share a source are one group, and a
split never cuts a group, so no held-out item shares its source with a training item.
``item``: every item is its own group; ``premise``: pair items with the same premise (``text``);
``passage``: items with the same ``context`` (Cosmos QA's passage, SQuAD's paragraph); ``clip``
(HellaSwag, whose normalized rows keep no ``source_id``): items of one activity label linked by the
same first :data:`CLIP_PREFIX_WORDS` words of the context or by a shared complete sentence of at
least :data:`CLIP_SENTENCE_WORDS` words (ActivityNet windows of one video overlap by a sentence;
WikiHow items of one article share its "How to ..." title), joined transitively. Texts are compared
lowercased with whitespace collapsed (:func:`group_links`, :func:`group_keys`).

**Sources.** ``bundle`` reads the ``mini`` files (HellaSwag and Cosmos QA validation sets only,
verified against ``MANIFEST.json``); each has a single upstream split, so ``heldout`` is a fixed
share of *groups*: a group is held out iff the sha256 of its smallest item id says so
(:func:`split_of`), so a one-item group keeps the split of its id. Held-out items are never trained on.
``hub`` loads each :class:`HubPin` with ``datasets.load_dataset(repo, config, revision=...)`` and
maps the official columns with one small function per upstream layout (:data:`MAPPERS`). Both paths
go through :func:`build_tables`, which only differs in where a table comes from; a pin whose full
commit SHA is not known is refused. Every table is validated (:func:`validate`, a row by its format's
:data:`ROW_CHECKS`); a bad row is one ``BenchmarkError`` naming the file (or ``repo@revision/split``)
and the row. Loaders write nothing.
"""

from __future__ import annotations

import bz2
import csv
import math
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from benchmark.data.spec import BUNDLE_DIR, verify_file
from benchmark.data.tasks import (
    COLUMNS,
    SPLITS,
    TASKS,
    Format,
    HubPin,
    Layout,
    Source,
    TaskSpec,
    group_keys,
    split_of,
)
from benchmark.io import BenchmarkError
from benchmark.schema import Registry

# --- validation ----------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_label(value: Any, n: int, row: Any, where: str) -> None:
    if _missing(value):
        raise BenchmarkError(f"{where}: row {row}: label missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise BenchmarkError(f"{where}: row {row}: label {value!r} is not an integer")
    if not 0 <= value < n:
        raise BenchmarkError(f"{where}: row {row}: label {value} out of range 0..{n - 1}")


def _check_text(value: Any, what: str, row: Any, where: str) -> None:
    if not _is_text(value):
        raise BenchmarkError(f"{where}: row {row}: {what} empty")


def _check_labelled(texts: tuple[str, ...], r: dict[str, Any], n: int, row: Any, where: str) -> None:
    for column in texts:
        _check_text(r[column], column, row, where)
    _check_label(r["label"], n, row, where)


def _check_choice(r: dict[str, Any], n: int, row: Any, where: str) -> None:
    _check_text(r["context"], "context", row, where)
    choices = r["choices"]
    if not isinstance(choices, list) or len(choices) != n:
        got = len(choices) if isinstance(choices, list) else type(choices).__name__
        raise BenchmarkError(f"{where}: row {row}: {got} choices, expected {n}")
    for k, choice in enumerate(choices):
        _check_text(choice, f"choice {k}", row, where)
    _check_label(r["label"], n, row, where)


def _check_span(r: dict[str, Any], n: int, row: Any, where: str) -> None:
    context, text, start = r["context"], r["answer_text"], r["answer_start"]
    _check_text(context, "context", row, where)
    _check_text(r["question"], "question", row, where)
    _check_text(text, "answer_text", row, where)
    if isinstance(start, bool) or not isinstance(start, int):
        raise BenchmarkError(f"{where}: row {row}: answer_start {start!r} is not an integer")
    if start < 0 or start + len(text) > len(context):
        raise BenchmarkError(
            f"{where}: row {row}: answer {text!r} at {start} lies outside the context ({len(context)} chars)"
        )
    if context[start : start + len(text)] != text:
        raise BenchmarkError(
            f"{where}: row {row}: context[{start}:{start + len(text)}] is "
            f"{context[start : start + len(text)]!r}, not the answer {text!r}"
        )
    if not r["answers"] or not all(_is_text(a) for a in r["answers"]):
        raise BenchmarkError(f"{where}: row {row}: answers empty")


def _check_tagging(r: dict[str, Any], n: int, row: Any, where: str) -> None:
    tokens, tags = r["tokens"], r["tags"]
    if not tokens or not all(_is_text(t) for t in tokens):
        raise BenchmarkError(f"{where}: row {row}: empty token or no tokens")
    if len(tokens) != len(tags):
        raise BenchmarkError(f"{where}: row {row}: {len(tokens)} tokens but {len(tags)} tags")
    for tag in tags:
        if isinstance(tag, bool) or not isinstance(tag, int) or not 0 <= tag < n:
            raise BenchmarkError(f"{where}: row {row}: tag {tag!r} out of range 0..{n - 1}")


# Each format's row check, (row values, num_labels, row number, where) -> None or a BenchmarkError:
# one entry per name of Format.
ROW_CHECKS: Registry[Callable[[dict[str, Any], int, Any, str], None]] = Registry("task format", {
    "single": partial(_check_labelled, ("text",)),
    "pair": partial(_check_labelled, ("text", "text_pair")),
    "choice": _check_choice,
    "span": _check_span,
    "tagging": _check_tagging,
}, names=Format)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (as parquet and ``Dataset.to_pandas`` give them) to Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def validate(spec: TaskSpec, df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check every row of a normalized table; return it with plain Python values, index reset.

    Row numbers in messages are ``df.index``: the mapping functions keep the upstream row position
    there, so a message points at the row of the upstream file even after rows were dropped."""
    columns = COLUMNS[spec.format]
    if tuple(df.columns) != columns:
        raise BenchmarkError(f"{where}: expected columns {list(columns)}, found {list(df.columns)}")
    records = [{c: _plain(v) for c, v in zip(columns, values)} for values in df.itertuples(index=False, name=None)]
    seen: set[str] = set()
    check_row = ROW_CHECKS[spec.format]
    for row, r in zip(df.index, records):
        if not _is_text(r["id"]):
            raise BenchmarkError(f"{where}: row {row}: id empty")
        if r["id"] in seen:
            raise BenchmarkError(f"{where}: row {row}: duplicate id {r['id']!r}")
        seen.add(r["id"])
        check_row(r, spec.num_labels, row, where)
    out = pd.DataFrame.from_records(records, columns=list(columns))
    for col in ("label", "answer_start"):
        if col in out:
            out[col] = out[col].astype("int64")
    return out


# --- upstream layouts -> normalized rows (one small function each) --------------------------------


def _need(df: pd.DataFrame, cols: Iterable[str], layout: str, where: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise BenchmarkError(f"{where}: missing columns {missing} of the official {layout} layout")


def _label(value: Any) -> Any:
    """Upstream labels as int; HellaSwag stores them as digit strings, '' where there is none."""
    value = _plain(value)
    if _missing(value) or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)  # an integer column with a null in it arrives as float
    if isinstance(value, str):
        return int(value) if value.isdigit() else value
    return value


def _ids(values: Iterable[Any]) -> list[str]:
    return [str(_plain(v)) for v in values]


def _labels(values: Iterable[Any], index: pd.Index) -> pd.Series:
    # object dtype: a single None would otherwise turn every label into a float
    return pd.Series([_label(v) for v in values], index=index, dtype=object)


def map_glue_mnli(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("premise", "hypothesis", "label", "idx"), "glue/mnli", where)
    return pd.DataFrame({"id": _ids(df["idx"]), "text": df["premise"], "text_pair": df["hypothesis"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_glue_qqp(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("question1", "question2", "label", "idx"), "glue/qqp", where)
    return pd.DataFrame({"id": _ids(df["idx"]), "text": df["question1"], "text_pair": df["question2"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_glue_sst2(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("sentence", "label", "idx"), "glue/sst2", where)
    return pd.DataFrame({"id": _ids(df["idx"]), "text": df["sentence"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_anli(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("uid", "premise", "hypothesis", "label", "reason"), "facebook/anli", where)
    return pd.DataFrame({"id": _ids(df["uid"]), "text": df["premise"], "text_pair": df["hypothesis"],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_snli(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """SNLI has no id column: the id is the row position in its split. Label -1 means the annotators
    reached no gold label; such items have no answer to learn or score, so they are dropped."""
    _need(df, ("premise", "hypothesis", "label"), "stanfordnlp/snli", where)
    labels = _labels(df["label"], df.index)
    out = pd.DataFrame({"id": [str(i) for i in range(len(df))], "text": df["premise"],
                        "text_pair": df["hypothesis"], "label": labels}, index=df.index)  # fmt: skip
    return out[[v != -1 for v in labels]]


def map_commonsense_qa(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("id", "question", "question_concept", "choices", "answerKey"), "tau/commonsense_qa", where)
    choices, labels = [], []
    for row, c, key in zip(df.index, df["choices"], df["answerKey"]):
        keys, texts = list(_plain(c["label"])), list(_plain(c["text"]))
        if len(keys) != len(texts):
            raise BenchmarkError(f"{where}: row {row}: {len(keys)} choice labels but {len(texts)} texts")
        choices.append(texts)
        if _missing(key) or key == "":
            labels.append(None)
        elif key in keys:
            labels.append(keys.index(key))
        else:
            raise BenchmarkError(f"{where}: row {row}: answerKey {key!r} not among the choice labels {keys}")
    return pd.DataFrame({"id": _ids(df["id"]), "context": df["question"], "choices": choices,
                         "label": pd.Series(labels, index=df.index, dtype=object)}, index=df.index)  # fmt: skip


def map_cosmos_qa(df: pd.DataFrame, where: str) -> pd.DataFrame:
    answers = [f"answer{k}" for k in range(4)]
    _need(df, ("id", "context", "question", *answers, "label"), "allenai/cosmos_qa", where)
    choices = []
    for row, r in zip(df.index, df[["question", *answers]].itertuples(index=False, name=None)):
        question, opts = r[0], r[1:]
        for k, opt in enumerate(opts):
            # The question prefix would hide an empty answer from the choice-level check.
            if not _is_text(opt):
                raise BenchmarkError(f"{where}: row {row}: choice {k} empty (answer{k})")
        choices.append([f"{question} {opt}" for opt in opts])
    return pd.DataFrame({"id": _ids(df["id"]), "context": df["context"], "choices": choices,
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_hellaswag(df: pd.DataFrame, where: str) -> pd.DataFrame:
    cols = ("ind", "activity_label", "ctx_a", "ctx_b", "ctx", "endings", "source_id", "split", "split_type", "label")
    _need(df, cols, "Rowan/hellaswag", where)
    return pd.DataFrame({"id": _ids(df["ind"]), "context": df["activity_label"] + ": " + df["ctx"],
                         "choices": [list(_plain(e)) for e in df["endings"]],
                         "label": _labels(df["label"], df.index)}, index=df.index)  # fmt: skip


def map_squad(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("id", "title", "context", "question", "answers"), "rajpurkar/squad", where)
    starts, texts, golds = [], [], []
    for row, a in zip(df.index, df["answers"]):
        a_text, a_start = list(_plain(a["text"])), list(_plain(a["answer_start"]))
        if not a_text or len(a_text) != len(a_start):
            raise BenchmarkError(f"{where}: row {row}: {len(a_text)} answer texts and {len(a_start)} starts")
        texts.append(a_text[0])
        starts.append(a_start[0])
        golds.append(a_text)
    return pd.DataFrame({"id": _ids(df["id"]), "context": df["context"], "question": df["question"],
                         "answer_start": starts, "answer_text": texts, "answers": golds}, index=df.index)  # fmt: skip


def map_ccg_tokens_tags(df: pd.DataFrame, where: str) -> pd.DataFrame:
    _need(df, ("tokens", "tags"), "CCG tokens/tags", where)
    return pd.DataFrame({"id": [str(i) for i in range(len(df))],
                         "tokens": [list(_plain(t)) for t in df["tokens"]],
                         "tags": [list(_plain(t)) for t in df["tags"]]}, index=df.index)  # fmt: skip


MAPPERS: Registry[Callable[[pd.DataFrame, str], pd.DataFrame]] = Registry("Hub layout", {
    "glue_mnli": map_glue_mnli,
    "glue_qqp": map_glue_qqp,
    "glue_sst2": map_glue_sst2,
    "anli": map_anli,
    "snli": map_snli,
    "commonsense_qa": map_commonsense_qa,
    "cosmos_qa": map_cosmos_qa,
    "hellaswag": map_hellaswag,
    "squad": map_squad,
    "ccg_tokens_tags": map_ccg_tokens_tags,
}, names=Layout)  # every layout a pin may name has its mapper, and no other


# --- loading -------------------------------------------------------------------------------------

# (pin, split) -> (the upstream table as a datasets.Dataset, where it came from, for messages)
Fetch = Callable[[HubPin, str], tuple[Any, str]]


def map_upstream(spec: TaskSpec, pin: HubPin, dataset: Any, where: str) -> pd.DataFrame:
    """One upstream split (a ``datasets.Dataset``) in its official layout -> a validated table."""
    df = dataset.to_pandas()
    out = validate(spec, MAPPERS[pin.layout](df, where), where)
    if len(spec.upstream) > 1:
        out["id"] = pin.name + ":" + out["id"]  # ids of different sources may collide
    return out


def build_tables(spec: TaskSpec, fetch: Fetch) -> dict[str, pd.DataFrame]:
    """``train`` / ``heldout`` of a task from its pins, in pin order; ``fetch`` is the only part that
    differs between the Hub and local files in the official layout (tests)."""
    parts: dict[str, list[pd.DataFrame]] = {s: [] for s in SPLITS}
    for pin in spec.upstream:
        for split, name in (("train", pin.train_split), ("heldout", pin.heldout_split)):
            if name is not None:
                dataset, where = fetch(pin, name)
                parts[split].append(map_upstream(spec, pin, dataset, where))
    tables = {s: pd.concat(parts[s], ignore_index=True) for s in SPLITS}
    for split, table in tables.items():
        dup = table["id"][table["id"].duplicated()]
        if len(dup):
            raise BenchmarkError(f"task {spec.name!r}: duplicate id {dup.iloc[0]!r} in {split}")
    return tables


def fetched(data_dir: Path, repo: str) -> Path:
    """Where ``benchmark fetch`` puts a Hub repository at its locked commit: inside the DVC-tracked
    upstream snapshot (``data/full``), so every stage reads it offline."""
    return Path(data_dir) / "full" / "hub" / repo


def hub_fetch(pin: HubPin, split: str, data_dir: Path | None = None) -> tuple[Any, str]:
    """Load one split of a resolved pin (parquet repos only): from the copy ``benchmark fetch`` made
    under ``data_dir`` where there is one (offline, verified against the lock), else from the Hugging
    Face Hub at the pinned or locked commit; ``data_dir/hub`` is the ``datasets`` cache."""
    where = pin.where(split)
    if not pin.resolved:
        raise BenchmarkError(f"{where}: no commit pinned ({pin.revision_unresolved}); cannot load from the hub")
    import datasets  # heavy, and only the hub path needs it

    cache = str(Path(data_dir) / "hub") if data_dir is not None else None
    local = fetched(data_dir, pin.copy_name) if data_dir is not None else None
    if pin.repo is None and not (local is not None and local.is_dir()):  # a licensed copy: only as fetched
        raise BenchmarkError(f"{where}: no fetched copy at {local}; `benchmark fetch --profile full` makes one")
    try:
        if local is not None and local.is_dir():
            return datasets.load_dataset(str(local), pin.config, split=split, cache_dir=cache), where
        return datasets.load_dataset(pin.repo, pin.config, revision=pin.commit, split=split, cache_dir=cache), where
    except Exception as e:  # noqa: BLE001 (network, auth, missing split, script repo: all one line)
        first = str(e).splitlines()[0] if str(e) else ""
        raise BenchmarkError(f"{where}: cannot load from the Hugging Face Hub: {type(e).__name__}: {first}") from None


def _load_bundle(spec: TaskSpec, data_dir: Path) -> dict[str, pd.DataFrame]:
    if spec.bundled is None or spec.heldout_share is None:
        bundled = sorted(t.name for t in TASKS.values() if t.bundled)
        raise BenchmarkError(f"task {spec.name!r} is not bundled (bundled: {', '.join(bundled)}); use source 'hub'")
    path = verify_file(data_dir, spec.bundled)
    table = pq.read_table(path, columns=list(COLUMNS[spec.format])).to_pandas()
    df = validate(spec, table, str(path))
    share = spec.heldout_share
    split = group_keys(spec, df).map(lambda key: split_of(key, share))
    return {s: df[split == s].reset_index(drop=True) for s in SPLITS}


def load_task(name: str, source: Source, data_dir: Path = BUNDLE_DIR) -> dict[str, pd.DataFrame]:
    """``{"train": ..., "heldout": ...}`` of one task in the normalized schema of its format.

    ``source="bundle"``: the bundled file in ``data_dir`` (verified against its manifest);
    ``source="hub"``: every pin from the data folder ``data_dir``: the copy ``benchmark fetch`` made
    (``full/hub/<repo>``), else the Hub, cached by ``datasets`` in ``hub/`` (refused, before any
    download, if a pin is neither pinned nor locked)."""
    spec = TASKS[name]
    if source == "bundle":
        return _load_bundle(spec, Path(data_dir))
    if source == "hub":
        for pin in spec.upstream:
            if not pin.resolved:
                raise BenchmarkError(
                    f"task {name!r}: upstream {pin.repo or pin.name} is not pinned to a commit "
                    f"({pin.revision_unresolved}); cannot load from the hub (`benchmark lock` resolves it)"
                )
        return build_tables(spec, lambda pin, split: hub_fetch(pin, split, Path(data_dir)))
    raise BenchmarkError(f"unknown source {source!r}; expected 'bundle' or 'hub'")


# --- readers of the local copies the bundle is built from (scripts/build_bundle.py) --------------


def read_hellaswag_text(path: Path) -> pd.DataFrame:
    """HellaSwag validation as text (klosax/hellaswag_text_data): 6 lines per item,
    ``activity_label: ctx``, the gold label 0-3, then the four endings; bz2 if the name ends in .bz2.

    The text file keeps no ``ind``: an item's id is ``val-`` + its 0-based position (5 digits) in
    the official validation order. Returns the normalized choice table (index = item position)."""
    path = Path(path)
    raw = path.read_bytes()
    text = (bz2.decompress(raw) if path.suffix == ".bz2" else raw).decode("utf-8")
    # Split on "\n" only: str.splitlines would also split on U+2028 etc. inside a line.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 6:
        raise BenchmarkError(f"{path}: {len(lines)} lines, not a multiple of 6")
    rows = []
    for i in range(len(lines) // 6):
        context, label, *endings = lines[6 * i : 6 * i + 6]
        rows.append({"id": f"val-{i:05d}", "context": context, "choices": endings,
                     "label": int(label) if label.isdigit() else (label or None)})  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS["choice"]))


def read_cosmosqa_csv(path: Path) -> pd.DataFrame:
    """Cosmos QA ``valid.csv`` (id, context, question, answer0..3, label), read with the csv module
    (quoted fields hold commas and newlines), mapped like the Hub layout. Returns the normalized
    choice table plus ``question``."""
    path = Path(path)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = ["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"]
    if not rows or list(rows[0]) != expected:
        raise BenchmarkError(f"{path}: expected columns {expected}")
    raw = pd.DataFrame(rows, columns=expected)
    out = map_cosmos_qa(raw, str(path))
    out.insert(2, "question", raw["question"])
    return out
