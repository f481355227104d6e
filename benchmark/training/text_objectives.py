"""Heads of the textual intermediate tasks, one :class:`~benchmark.training.objectives.Objective` per
table format (:data:`HEADS`), over the batches of :mod:`benchmark.training.text_data`.

Each head runs in three steps - ``features`` (parameter-free: mean pooling, or the token states as
they are), ``scores`` (the learned ``head``, a single linear layer) and ``loss`` - so the same head
also fits on cached encoder states (:mod:`benchmark.training.text_evidence`) and serves as one task
of a multi-task objective (:mod:`benchmark.training.multitask`). ``item_scores`` gives the held-out
metric of every item (example, or labelled token for tagging): accuracy, or SQuAD v1.1 F1 / EM.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchmark.data.tasks import Format
from benchmark.io import BenchmarkError
from benchmark.models.encoder import mean_pool
from benchmark.schema import Registry
from benchmark.training import distributed, squad_metric
from benchmark.training.objectives import IGNORE, Batch, Objective, Stats, _seeded

MAX_ANSWER_TOKENS = 30  # the HF/BERT SQuAD recipe's longest predicted span
_HEAD_SEED = 7  # past the offsets objectives.py's heads use


class TextObjective(Objective):
    """Encoder -> ``features`` -> ``scores`` -> ``loss``; subclasses define the three and ``head``."""

    stat_names: tuple[str, ...] = ("loss", "accuracy")
    metrics: tuple[str, ...] = ("accuracy",)
    sized_by_labels: ClassVar[bool] = False  # built as (encoder, num_labels, seed), else (encoder, seed)
    head: nn.Module

    def features(self, hidden: Tensor, mask: Tensor) -> Tensor:
        return hidden

    def scores(self, features: Tensor, batch: Batch) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def loss(self, scores: Tensor, batch: Batch) -> tuple[Tensor, Stats]:  # pragma: no cover - abstract
        raise NotImplementedError

    def item_scores(self, scores: Tensor, batch: Batch, data: Any, indices: list[int]) -> dict[str, Tensor]:
        """Per-item values of each of ``metrics`` (their mean is the held-out score)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def infer(self, batch: Batch) -> Tensor:
        """The head's scores for a batch (logits over classes or choices, span or tag logits)."""
        hidden, mask = self.encode(batch["input_ids"], batch["attention_mask"])
        return self.scores(self.features(hidden, mask), batch)

    def forward(self, batch: Batch) -> tuple[Tensor, Stats]:
        return self.loss(self.infer(batch), batch)


class _PooledChoice(TextObjective):
    """Scores ``[B, C]`` over C classes or choices; cross-entropy against ``labels [B]``."""

    def features(self, hidden: Tensor, mask: Tensor) -> Tensor:
        return mean_pool(hidden, mask)

    def loss(self, scores: Tensor, batch: Batch) -> tuple[Tensor, Stats]:
        loss = F.cross_entropy(scores, batch["labels"])
        accuracy = (scores.argmax(1) == batch["labels"]).float().mean()
        return loss, {"loss": loss.item(), "accuracy": accuracy.item()}

    def item_scores(self, scores: Tensor, batch: Batch, data: Any, indices: list[int]) -> dict[str, Tensor]:
        return {"accuracy": (scores.argmax(1) == batch["labels"]).float()}


class Classification(_PooledChoice):
    """``single`` and ``pair``: mean-pooled final states -> ``Linear(H, num_labels)`` (also SIB-200's
    fine-tuning protocol, over :class:`benchmark.training.datasets.Sentences`)."""

    sized_by_labels = True

    def __init__(self, encoder: nn.Module, num_labels: int, seed: int = 0) -> None:
        super().__init__(encoder, seed=seed)
        self.num_labels = num_labels
        self.head = _seeded(seed + _HEAD_SEED, lambda: nn.Linear(int(encoder.config.hidden_size), num_labels))

    def scores(self, features: Tensor, batch: Batch) -> Tensor:
        return self.head(features).float()


class MultipleChoice(_PooledChoice):
    """``choice``: each (context, choice) row mean-pooled -> ``Linear(H, 1)``; ``[B*k] -> [B, k]``
    (rows are example-major), cross-entropy over the k choices."""

    def __init__(self, encoder: nn.Module, seed: int = 0) -> None:
        super().__init__(encoder, seed=seed)
        self.head = _seeded(seed + _HEAD_SEED, lambda: nn.Linear(int(encoder.config.hidden_size), 1))

    def scores(self, features: Tensor, batch: Batch) -> Tensor:
        return self.head(features).float().view(-1, int(batch["num_choices"]))


def best_spans(start: Tensor, end: Tensor, allowed: Tensor, max_tokens: int = MAX_ANSWER_TOKENS) -> Tensor:
    """``[B, 2]`` token spans maximizing ``start[s] + end[e]`` with ``s <= e < s + max_tokens``, both
    inside ``allowed`` (``[B, T]`` bool: the context)."""
    t = start.shape[1]
    pos = torch.arange(t, device=start.device)
    width = pos[None, :] - pos[:, None]  # [s, e] -> e - s
    ok = (width >= 0) & (width < max_tokens)
    ok = ok[None] & allowed[:, :, None] & allowed[:, None, :]
    total = (start[:, :, None] + end[:, None, :]).masked_fill(~ok, float("-inf"))
    best = total.flatten(1).argmax(1)
    return torch.stack([best // t, best % t], dim=1)


class SpanQA(TextObjective):
    """``span``: per-token ``Linear(H, 2)`` start/end logits, padding masked; the loss is the mean of
    the start and end cross-entropies. Held-out: the best span inside the context (:func:`best_spans`)
    scored by SQuAD v1.1 F1 and exact match against every gold answer."""

    stat_names = ("loss", "start_accuracy")
    metrics = ("squad_f1", "squad_exact_match")  # "squad_f1": benchmark.data.tasks' metric name

    def __init__(self, encoder: nn.Module, seed: int = 0) -> None:
        super().__init__(encoder, seed=seed)
        self.head = _seeded(seed + _HEAD_SEED, lambda: nn.Linear(int(encoder.config.hidden_size), 2))

    def scores(self, features: Tensor, batch: Batch) -> Tensor:
        logits = self.head(features).float()
        padding = ~batch["attention_mask"].bool()[..., None]
        return logits.masked_fill(padding, torch.finfo(logits.dtype).min)  # [B, T, 2]

    def loss(self, scores: Tensor, batch: Batch) -> tuple[Tensor, Stats]:
        start, end = scores.unbind(-1)
        loss = (F.cross_entropy(start, batch["start_positions"]) + F.cross_entropy(end, batch["end_positions"])) / 2
        accuracy = (start.argmax(1) == batch["start_positions"]).float().mean()
        return loss, {"loss": loss.item(), "start_accuracy": accuracy.item()}

    def item_scores(self, scores: Tensor, batch: Batch, data: Any, indices: list[int]) -> dict[str, Tensor]:
        start, end = scores.unbind(-1)
        texts = data.span_texts(indices, best_spans(start, end, batch["context_mask"]).cpu())
        golds = [data.answers[i] for i in indices]
        return {"squad_f1": torch.tensor([squad_metric.best_f1(p, g) for p, g in zip(texts, golds)]),
                "squad_exact_match": torch.tensor([squad_metric.best_exact_match(p, g) for p, g in zip(texts, golds)])}


class Tagging(TextObjective):
    """``tagging``: per-token ``Linear(H, num_labels)``, cross-entropy over the labelled positions
    (each word's first sub-token); accuracy over the same positions."""

    sized_by_labels = True

    def __init__(self, encoder: nn.Module, num_labels: int, seed: int = 0) -> None:
        super().__init__(encoder, seed=seed)
        self.num_labels = num_labels
        self.head = _seeded(seed + _HEAD_SEED, lambda: nn.Linear(int(encoder.config.hidden_size), num_labels))

    def scores(self, features: Tensor, batch: Batch) -> Tensor:
        return self.head(features).float()  # [B, T, L]

    def loss(self, scores: Tensor, batch: Batch) -> tuple[Tensor, Stats]:
        labels = batch["labels"]
        where = labels != IGNORE
        if (n := distributed.sharded_world()) > 1:
            return self._sharded_loss(scores, labels, where, n)
        if not where.any():  # every word cut by truncation: nothing to learn from this batch
            loss = scores.sum() * 0.0
            return loss, {"loss": 0.0, "accuracy": 0.0}
        loss = F.cross_entropy(scores[where], labels[where])
        accuracy = (scores[where].argmax(-1) == labels[where]).float().mean()
        return loss, {"loss": loss.item(), "accuracy": accuracy.item()}

    @staticmethod
    def _sharded_loss(scores: Tensor, labels: Tensor, where: Tensor, n: int) -> tuple[Tensor, Stats]:
        """The mean over the GLOBAL batch's labelled positions (ranks hold different numbers of them):
        this rank's sum over the global count, times ``n`` for DDP's gradient average; its stats
        likewise, so their average over ranks is the single-process value (0 when none is labelled)."""
        per_rank = n / distributed.total(where.sum()).clamp(min=1)
        loss = F.cross_entropy(scores[where], labels[where], reduction="sum") * per_rank
        hits = (scores[where].argmax(-1) == labels[where]).sum()
        return loss, {"loss": loss.item(), "accuracy": (hits * per_rank).item()}

    def item_scores(self, scores: Tensor, batch: Batch, data: Any, indices: list[int]) -> dict[str, Tensor]:
        where = batch["labels"] != IGNORE
        return {"accuracy": (scores[where].argmax(-1) == batch["labels"][where]).float()}


# Each format's head (one entry per name of benchmark.data.tasks' Format). A head with
# ``sized_by_labels`` has one output per class or tag and takes the task's num_labels.
HEADS: Registry[type[TextObjective]] = Registry("task format", {
    "single": Classification,
    "pair": Classification,
    "choice": MultipleChoice,
    "span": SpanQA,
    "tagging": Tagging,
}, names=Format)


def make_text_objective(fmt: str, encoder: nn.Module, num_labels: int | None, seed: int) -> TextObjective:
    """The head of a ``fmt`` task (``num_labels``: classes or tags; ignored for choice and span)."""
    head = HEADS[fmt]
    if not head.sized_by_labels:
        return head(encoder, seed)
    if num_labels is None or num_labels < 2:
        raise BenchmarkError(f"a {fmt} task needs num_labels >= 2, got {num_labels}")
    return head(encoder, num_labels, seed)
