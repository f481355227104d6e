"""Reading back what stage ``task-states`` stored: the frozen bottom's states of named training row sets
(an English task's rows, the positive control's pairs), checked to come from the run's encoder.

Layout of ``artifacts/task_states``: ``<name>.safetensors`` per set
(:meth:`benchmark.models.layers.BottomMemo.save`) and ``meta.json`` (``sets``, ``frozen_layers``,
``weights_sha256`` of the encoder that computed them). Kept apart from the stage's module so that a
training run reads them without importing the arm registry the stage consults.
"""

from __future__ import annotations

import json

from benchmark import paths
from benchmark.io import BenchmarkError
from benchmark.models import layers
from benchmark.models.encoder import Encoder

META = "meta.json"


def load_memo(encoder: Encoder, names: list[str]) -> layers.BottomMemo:
    """The stored frozen states of ``names``; a one-line error when stage task-states has not computed
    them from this encoder (a rerun of it fixes that)."""
    meta = paths.task_states() / META
    known = json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}
    if known.get("weights_sha256") != encoder.weights_sha256() or not set(names) <= set(known.get("sets", [])):
        raise BenchmarkError(f"{paths.task_states()}: no frozen states of {', '.join(names)} from this encoder; "
                             "run the task-states stage first")
    return layers.BottomMemo.load(*(paths.task_states() / f"{name}.safetensors" for name in names))
