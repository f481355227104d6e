"""Intermediate-task training: one loop (:mod:`.trainer`), pluggable objectives (:mod:`.objectives`),
atomic resumable checkpoints (:mod:`.checkpoint`)."""

from benchmark.training.objectives import (
    AnswerClassification,
    Contrastive,
    ImageSource,
    MaskedLM,
    Objective,
    derangement,
    tokenize,
)
from benchmark.training.trainer import TrainData, train

__all__ = [
    "AnswerClassification",
    "Contrastive",
    "ImageSource",
    "MaskedLM",
    "Objective",
    "TrainData",
    "derangement",
    "tokenize",
    "train",
]
