"""Textual intermediate tasks as :class:`~benchmark.training.trainer.TrainData`, one reader per
table format of :mod:`benchmark.data.tasks` (:data:`READERS`: ``single``, ``pair``, ``choice``, ``span``,
``tagging``).

Every table is tokenized once, up front, into compact int32 rows, so batches are deterministic and
cheap, and the truncation counts are known before training starts. An example is ``rows_per_example``
encoder rows (``k`` for a k-way choice, else 1); batch indices are examples, and a choice batch's rows
are example-major (row ``e * k + i`` is choice ``i`` of the batch's ``e``-th example).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import torch
from tokenizers import Encoding

from benchmark.data.tasks import COLUMNS, Format
from benchmark.io import BenchmarkError
from benchmark.models import batching
from benchmark.schema import Registry
from benchmark.training.objectives import IGNORE, Batch

_CHUNK = 4096  # examples per tokenizer call: bounds the peak memory of large tables


def _encode(tokenizer: Any, first: Sequence[Any], second: Sequence[str] | None, max_length: int,
            truncation: str | bool, **kw: Any) -> Iterator[Encoding]:
    """Encodings of ``first[i]`` (with ``second[i]``), in order.

    ``only_first``/``only_second`` fail on a row whose other segment alone exceeds ``max_length``
    (the tokenizer raises for the whole call); such rows fall back to ``longest_first`` rather than
    stopping a run over one odd example.
    """
    def call(a: Sequence[Any], b: Sequence[str] | None, how: str | bool) -> list[Encoding]:
        return tokenizer(list(a), list(b) if b is not None else None, truncation=how, max_length=max_length,
                         return_attention_mask=False, return_token_type_ids=False, **kw).encodings

    def block(a: Sequence[Any], b: Sequence[str] | None) -> list[Encoding]:
        try:
            return call(a, b, truncation)
        except Exception:  # noqa: BLE001 - the Rust tokenizer raises a bare Exception for the whole call
            if len(a) == 1:
                return call(a, b, "longest_first")
            half = len(a) // 2  # halves until the odd rows are found: a few calls, not one per row
            return block(a[:half], b[:half] if b is not None else None) + block(
                a[half:], b[half:] if b is not None else None)

    for start in range(0, len(first), _CHUNK):
        yield from block(first[start : start + _CHUNK], second[start : start + _CHUNK] if second is not None else None)


def _pair_template(tokenizer: Any) -> tuple[list[int], list[int], list[int]]:
    """The special tokens the tokenizer puts before, between and after the two segments of a pair
    (XLM-R: ``<s>`` A ``</s></s>`` B ``</s>``), read off one real pair encoding."""
    a, b = tokenizer(["a", "b"], add_special_tokens=False)["input_ids"]
    full = tokenizer("a", "b")["input_ids"]
    i = next(i for i in range(len(full)) if full[i : i + len(a)] == a)
    j = next(j for j in range(i + len(a), len(full)) if full[j : j + len(b)] == b)
    head, mid, tail = full[:i], full[i + len(a) : j], full[j + len(b) :]
    if head + a + mid + b + tail != full:
        raise BenchmarkError("tokenizer: cannot read its pair template")
    return head, mid, tail


def _column(table: pd.DataFrame, name: str) -> list[Any]:
    return table[name].tolist()


class TaskData:
    """Token rows plus per-example targets; subclasses fill ``rows`` and add their targets to batches."""

    rows_per_example = 1

    def __init__(self, tokenizer: Any) -> None:
        self.pad_id = int(tokenizer.pad_token_id)
        self.rows: list[np.ndarray] = []
        self.truncated = 0

    def _add(self, enc: Encoding) -> None:
        self.rows.append(np.asarray(enc.ids, dtype=np.int32))
        self.truncated += bool(enc.overflowing)  # the tokenizer keeps what max_length cut off

    def __len__(self) -> int:
        return len(self.rows) // self.rows_per_example

    def token_rows(self) -> list[list[int]]:
        """Every token sequence a batch can hold (for :class:`benchmark.models.layers.BottomMemo`)."""
        return [r.tolist() for r in self.rows]

    def truncation(self) -> dict[str, int]:
        """``sequences`` tokenized and how many of them max_length ``truncated``."""
        return {"sequences": len(self.rows), "truncated": self.truncated}

    def _inputs(self, indices: list[int]) -> Batch:
        k = self.rows_per_example
        ids, mask = batching.pad([self.rows[e * k + i] for e in indices for i in range(k)], self.pad_id)
        return {"input_ids": ids, "attention_mask": mask}

    def batch(self, indices: list[int]) -> Batch:  # pragma: no cover - abstract
        raise NotImplementedError


class LabeledTexts(TaskData):
    """``single`` (text) and ``pair`` (text, text_pair) classification; a pair too long for
    ``max_length`` is cut from its longer segment (``longest_first``)."""

    def __init__(self, table: pd.DataFrame, tokenizer: Any, max_length: int, *, pair: bool) -> None:
        super().__init__(tokenizer)
        second = _column(table, "text_pair") if pair else None
        for enc in _encode(tokenizer, _column(table, "text"), second, max_length, "longest_first"):
            self._add(enc)
        self.labels = torch.tensor(_column(table, "label"), dtype=torch.int64)

    def batch(self, indices: list[int]) -> Batch:
        return self._inputs(indices) | {"labels": self.labels[indices]}


class Choices(TaskData):
    """``choice``: k rows per example, (context, choice i); only the context is cut (its end, as the
    tokenizer's ``only_first`` would), so the choices, which differ, survive truncation.

    Contexts and choices are tokenized once each, in batches, and each row is assembled with the
    tokenizer's own pair template: HellaSwag's 40k rows take a second this way, where per-row calls
    (needed when ``only_first`` cannot fit a row and raises) took a minute.
    """

    def __init__(self, table: pd.DataFrame, tokenizer: Any, max_length: int) -> None:
        super().__init__(tokenizer)
        choices = _column(table, "choices")
        ks = {len(c) for c in choices}
        if len(ks) != 1 or min(ks) < 2:
            raise BenchmarkError("choice table: every example needs the same number (>= 2) of choices, "
                                 f"got {sorted(ks)}")
        self.rows_per_example = k = ks.pop()
        plain = {"add_special_tokens": False, "return_attention_mask": False, "return_token_type_ids": False}
        contexts = tokenizer(_column(table, "context"), **plain)["input_ids"]
        endings = tokenizer([c for cs in choices for c in cs], **plain)["input_ids"]
        head, mid, tail = _pair_template(tokenizer)
        room = max_length - len(head) - len(mid) - len(tail)
        for row, full in enumerate(endings):
            context = contexts[row // k]
            ending = full[: room - 1]  # a choice longer than the row keeps its start and one context token
            cut = context[: room - len(ending)]
            self.rows.append(np.asarray(head + cut + mid + ending + tail, dtype=np.int32))
            self.truncated += len(cut) < len(context) or len(ending) < len(full)
        self.labels = torch.tensor(_column(table, "label"), dtype=torch.int64)

    def batch(self, indices: list[int]) -> Batch:
        return self._inputs(indices) | {"labels": self.labels[indices], "num_choices": self.rows_per_example}


def _answer_tokens(offsets: list[tuple[int, int]], first: int, last: int, start_char: int,
                   end_char: int) -> tuple[int, int] | None:
    """Token span of the context chars ``[start_char, end_char)`` (context tokens ``first..last``);
    ``None`` when truncation cut it off."""
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return None
    start = first
    while start <= last and offsets[start][0] <= start_char:
        start += 1
    end = last
    while end >= first and offsets[end][1] >= end_char:
        end -= 1
    return start - 1, end + 1


class Spans(TaskData):
    """``span`` (extractive QA): (question, context), only the context is cut (``only_second``).

    The character answer becomes token ``start_positions``/``end_positions`` through the offsets
    mapping; an answer that truncation cut off points at position 0 (``<s>``), as the HF QA recipe
    does, and is counted in ``answers_lost``. Batches also carry ``context_mask`` (the context's
    tokens: where a predicted span may lie).
    """

    def __init__(self, table: pd.DataFrame, tokenizer: Any, max_length: int) -> None:
        super().__init__(tokenizer)
        self.tokenizer, self.max_length = tokenizer, max_length
        # Some SQuAD questions start with long runs of spaces, which would only eat context room.
        self.questions = [q.lstrip() for q in _column(table, "question")]
        self.contexts = _column(table, "context")
        self.answers = [list(a) for a in _column(table, "answers")]
        starts, texts = _column(table, "answer_start"), _column(table, "answer_text")
        self.positions = torch.zeros(len(table), 2, dtype=torch.int64)
        self.context_span = torch.zeros(len(table), 2, dtype=torch.int64)  # first, last context token
        self.answers_lost = 0
        for i, enc in enumerate(self._encodings(range(len(table)))):
            self._add(enc)
            context = [j for j, s in enumerate(enc.sequence_ids) if s == 1]
            if not context:
                raise BenchmarkError(f"span example {i}: no context token fits max_length={max_length}")
            self.context_span[i] = torch.tensor([context[0], context[-1]])
            start = int(starts[i])
            span = _answer_tokens(enc.offsets, context[0], context[-1], start, start + len(texts[i]))
            if span is None:
                self.answers_lost += 1
            else:
                self.positions[i] = torch.tensor(span)

    def _encodings(self, indices: Sequence[int]) -> Iterator[Encoding]:
        return _encode(self.tokenizer, [self.questions[i] for i in indices], [self.contexts[i] for i in indices],
                       self.max_length, "only_second")

    def truncation(self) -> dict[str, int]:
        return super().truncation() | {"answers_lost": self.answers_lost}

    def batch(self, indices: list[int]) -> Batch:
        batch = self._inputs(indices)
        where = torch.arange(batch["input_ids"].shape[1])[None, :]
        span = self.context_span[indices]
        return batch | {"start_positions": self.positions[indices, 0], "end_positions": self.positions[indices, 1],
                        "context_mask": (where >= span[:, :1]) & (where <= span[:, 1:])}

    def span_texts(self, indices: list[int], spans: torch.Tensor) -> list[str]:
        """The context text of token spans ``[B, 2]`` (inclusive) of examples ``indices``.

        Re-tokenizes those examples for their offsets rather than keeping every example's offsets
        (the training set's would cost more memory than its token ids).
        """
        out = []
        for i, enc, (s, e) in zip(indices, self._encodings(indices), spans.tolist()):
            out.append(self.contexts[i][enc.offsets[s][0] : enc.offsets[e][1]].strip())
        return out


class Tags(TaskData):
    """``tagging``: words tokenized with ``is_split_into_words``; each word's tag labels its first
    sub-token, every other position is ``IGNORE`` (-100). Words past ``max_length`` are cut."""

    def __init__(self, table: pd.DataFrame, tokenizer: Any, max_length: int) -> None:
        super().__init__(tokenizer)
        self.labels: list[np.ndarray] = []
        tags = _column(table, "tags")
        words = [list(w) for w in _column(table, "tokens")]
        if bad := [i for i, (w, t) in enumerate(zip(words, tags)) if len(w) != len(t)]:
            raise BenchmarkError(f"tagging table: {len(bad)} example(s), first row {bad[0]}, "
                                 "have not one tag per word")
        for enc, row_tags in zip(_encode(tokenizer, words, None, max_length, True, is_split_into_words=True), tags):
            self._add(enc)
            labels = np.full(len(enc.ids), IGNORE, dtype=np.int16)
            previous = None
            for j, w in enumerate(enc.word_ids):
                if w is not None and w != previous:
                    labels[j] = row_tags[w]
                previous = w
            self.labels.append(labels)

    def batch(self, indices: list[int]) -> Batch:
        labels, _ = batching.pad([self.labels[i] for i in indices], IGNORE)
        return self._inputs(indices) | {"labels": labels}


# Each format's reader, from (table, tokenizer, max_length): one entry per name of Format.
READERS: Registry[Callable[[pd.DataFrame, Any, int], TaskData]] = Registry("task format", {
    "single": partial(LabeledTexts, pair=False),
    "pair": partial(LabeledTexts, pair=True),
    "choice": Choices,
    "span": Spans,
    "tagging": Tags,
}, names=Format)


def make_task_data(fmt: str, table: pd.DataFrame, tokenizer: Any, max_length: int) -> TaskData:
    """The :class:`TaskData` of a normalized ``fmt`` table (columns: :mod:`benchmark.data.tasks`; the
    ``id`` column is not read)."""
    read = READERS[fmt]
    missing = [c for c in COLUMNS[fmt] if c != "id" and c not in table.columns]
    if missing:
        raise BenchmarkError(f"{fmt} task table lacks column(s) {', '.join(missing)}")
    return read(table, tokenizer, max_length)
