"""What the training tests share: the tiny encoder, and training configs (the tiny profile's
``training`` block with a test's own budget, plus the keywords of
:func:`benchmark.training.trainer.train` that say how a run executes it)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

from benchmark.blocks import TrainingConfig
from benchmark.config import resolve
from benchmark.models.encoder import Encoder, load_encoder
from benchmark.training.trainer import train

LOOP_KEYS = frozenset({"seed", "precision", "keep_last", "keep_weights", "freeze_word_embeddings"})
# What a test gets unless it says otherwise: the whole encoder trains, no warm-up, no head scaling.
DEFAULTS = {"steps": 20, "batch_size": 32, "grad_accum": 1, "lr": 2e-5, "head_lr_scale": 1.0, "warmup_steps": 0,
            "weight_decay": 0.01, "max_length": 64, "train_top_layers": None, "checkpoint_every": 100, "log_every": 10}


class Budget(NamedTuple):
    training: TrainingConfig
    loop: dict[str, Any]

    def train(self, objective: Any, data: Any, out_dir: Path | str, **kw: Any) -> Path:
        return train(objective, data, self.training, out_dir, **({"seed": 0} | self.loop | kw))

    def update(self, **kw: Any) -> Budget:
        return budget(**(self.training.model_dump() | self.loop | kw))


def budget(**kw: Any) -> Budget:
    """The tiny profile's training block with :data:`DEFAULTS`, updated by ``kw``'s budget keys; the
    loop's keywords (:data:`LOOP_KEYS`) go to ``train``."""
    base = resolve({"profile": "tiny"}).training.model_dump()
    fields = base | DEFAULTS | {k: v for k, v in kw.items() if k not in LOOP_KEYS}
    return Budget(TrainingConfig.model_validate(fields), {k: v for k, v in kw.items() if k in LOOP_KEYS})


_BASE: Encoder | None = None


def tiny_encoder() -> Encoder:
    """A fresh copy of the tiny encoder (built once: its random 250k-row init takes ~1 s)."""
    global _BASE
    if _BASE is None:
        _BASE = load_encoder(resolve({"profile": "tiny"}).encoder, seed=0)
    return dataclasses.replace(_BASE, model=copy.deepcopy(_BASE.model))
