"""From an arm's spec to what the loop trains: its objective (with heads) and its data.

The one place where an :class:`~benchmark.arms.ArmSpec` becomes code, so adding an arm means adding
a spec, and adding a kind of task means one branch here plus an objective.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from torch import nn

from benchmark.armspec import ArmSpec
from benchmark.training.datasets import Captions, FeatureBank, Questions
from benchmark.training.objectives import AnswerClassification, Contrastive, ImageSource, MaskedLM, Objective
from benchmark.training.trainer import TrainData

ANSWER_VOCAB = 3129  # VQAv2's top answers; COCO-QA has fewer distinct answers, so all of them


def image_source(spec: ArmSpec, image_ids: list[int], seed: int) -> ImageSource:
    """The arm's image source over ``image_ids`` (a derangement among them for ``shuffled``)."""
    return ImageSource(spec.image, sorted(set(image_ids)), seed=seed)


def make_data(spec: ArmSpec, table: pd.DataFrame, tokenizer: Any, max_length: int, bank: FeatureBank,
              source: ImageSource, answers: list[str] | None = None) -> TrainData:
    """The arm's items from ``table`` (captions, or questions for ``qa``)."""
    prefix = bank.tokens if spec.uses_images and spec.objective != "contrastive" else 0
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
    if spec.objective == "contrastive":
        return Contrastive(encoder, image_dim=image_dim, seed=seed)
    if spec.objective == "mlm":
        return MaskedLM(encoder, tokenizer, image_dim=image_dim, vocabulary=vocabulary, seed=seed)
    if spec.objective == "vqa":
        assert num_answers is not None
        return AnswerClassification(encoder, num_answers=num_answers, image_dim=image_dim, seed=seed)
    raise ValueError(f"arm {spec.name} has no objective")
