"""From an arm's spec to what the loop trains: its objective (with heads) and its data.

The one place where an :class:`~benchmark.arms.ArmSpec` becomes code, so adding an arm means adding
a spec, and adding an objective means its class plus one entry here (:data:`OBJECTIVES`) and one in
:data:`benchmark.training.evidence.EVIDENCE`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from torch import nn

from benchmark.armspec import ArmSpec
from benchmark.armspec import Objective as ObjectiveName
from benchmark.schema import Registry
from benchmark.training.datasets import Captions, FeatureBank, Questions
from benchmark.training.objectives import AnswerClassification, Contrastive, ImageSource, MaskedLM, Objective
from benchmark.training.trainer import TrainData

ANSWER_VOCAB = 3129  # VQAv2's top answers; COCO-QA has fewer distinct answers, so all of them


def _contrastive(encoder: nn.Module, tokenizer: Any, image_dim: int | None, seed: int, num_answers: int | None,
                 vocabulary: list[int] | None) -> Objective:
    return Contrastive(encoder, image_dim=image_dim, seed=seed)


def _masked_lm(encoder: nn.Module, tokenizer: Any, image_dim: int | None, seed: int, num_answers: int | None,
               vocabulary: list[int] | None) -> Objective:
    return MaskedLM(encoder, tokenizer, image_dim=image_dim, vocabulary=vocabulary, seed=seed)


def _answers(encoder: nn.Module, tokenizer: Any, image_dim: int | None, seed: int, num_answers: int | None,
             vocabulary: list[int] | None) -> Objective:
    assert num_answers is not None
    return AnswerClassification(encoder, num_answers=num_answers, image_dim=image_dim, seed=seed)


@dataclass(frozen=True)
class ObjectiveEntry:
    """How an arm's objective is built: its class with fresh heads, from (encoder, tokenizer, image_dim,
    seed, num_answers, vocabulary), and whether an image enters it as a visual prefix of the text
    (its tokens count inside max_length) rather than through a tower of its own."""

    build: Callable[[nn.Module, Any, int | None, int, int | None, list[int] | None], Objective]
    visual_prefix: bool


# Each objective's entry: one per name of armspec's Objective. ``task`` (a textual arm's own head, per
# format) is built from its tasks' formats instead (benchmark.training.text_objectives.HEADS).
OBJECTIVES: Registry[ObjectiveEntry | None] = Registry("objective", {
    "contrastive": ObjectiveEntry(_contrastive, visual_prefix=False),
    "mlm": ObjectiveEntry(_masked_lm, visual_prefix=True),
    "vqa": ObjectiveEntry(_answers, visual_prefix=True),
    "task": None,
}, names=ObjectiveName)


def _entry(spec: ArmSpec) -> ObjectiveEntry:
    entry = OBJECTIVES.get(spec.objective or "")
    if entry is None:
        raise ValueError(f"arm {spec.name} has no objective")
    return entry


def image_source(spec: ArmSpec, image_ids: list[int], seed: int) -> ImageSource:
    """The arm's image source over ``image_ids`` (a derangement among them for ``shuffled``)."""
    return ImageSource(spec.image, sorted(set(image_ids)), seed=seed)


def make_data(spec: ArmSpec, table: pd.DataFrame, tokenizer: Any, max_length: int, bank: FeatureBank,
              source: ImageSource, answers: list[str] | None = None) -> TrainData:
    """The arm's items from ``table`` (captions, or questions for ``qa``)."""
    prefix = bank.tokens if spec.uses_images and _entry(spec).visual_prefix else 0
    if spec.data == "qa":
        assert answers is not None
        return Questions(table, tokenizer, max_length, answers, bank=bank, source=source, reserve=prefix)
    return Captions(table, tokenizer, max_length, pairs=spec.data == "caption_pairs", bank=bank,
                    source=source, reserve=prefix)


def caption_vocabulary(data: TrainData, tokenizer: Any) -> list[int]:
    """Every non-special piece of the training texts: the candidates a caption-MLM decoder scores."""
    special = set(tokenizer.all_special_ids)
    return sorted({t for row in data.token_rows() for t in row} - special)  # type: ignore[attr-defined]


def make_objective(spec: ArmSpec, encoder: nn.Module, tokenizer: Any, bank: FeatureBank, *, seed: int,
                   num_answers: int | None = None, vocabulary: list[int] | None = None) -> Objective:
    """The arm's objective with fresh heads; ``vocabulary``: MLM's candidate pieces (None: all)."""
    image_dim = bank.dim if spec.uses_images else None
    return _entry(spec).build(encoder, tokenizer, image_dim, seed, num_answers, vocabulary)
