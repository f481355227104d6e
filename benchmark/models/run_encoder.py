"""A run's encoder: the pretrained one with the run's trained tensors (``artifacts/models/<run>``) in place.

Shared by every stage that reads a trained run (``embed``, ``sib`` fine-tuning), so none of them
imports another stage.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file

from benchmark.blocks import EncoderConfig
from benchmark.io import BenchmarkError
from benchmark.models.encoder import Encoder, load_encoder
from benchmark.models.frozen_states import FrozenStates
from benchmark.paths import ENCODER_FILE


def load_run_encoder(model_dir: Path, cfg: EncoderConfig, seed: int, device: str,
                     frozen: FrozenStates | None = None) -> Encoder:
    """The pretrained encoder with the trained tensors of ``model_dir`` in place (strict: every
    tensor must exist in the encoder, and none may lie below ``frozen``'s layers, whose states are
    shared)."""
    path = model_dir / ENCODER_FILE
    if not path.exists():
        raise BenchmarkError(f"{path}: missing; run the train stage of {model_dir.name!r} first")
    encoder = load_encoder(cfg, seed=seed, device=device)
    frozen_layers = frozen.frozen_layers if frozen else 0
    if frozen and frozen_layers:  # the shared states must come from this very pretrained encoder
        if frozen.weights_sha256 != encoder.weights_sha256():
            raise BenchmarkError(f"{frozen.path.parent}: frozen states were computed by another encoder "
                                 "(params changed?); rerun the frozen stage")
    tensors = load_file(str(path))
    own = dict(encoder.model.named_parameters())
    unknown = [k for k in tensors if k not in own]
    below = [k for k in tensors if not any(k.startswith(f"encoder.layer.{i}.")
                                           for i in range(frozen_layers, len(encoder.model.encoder.layer)))]
    if unknown or (frozen_layers and below):
        raise BenchmarkError(f"{path}: tensors do not fit this encoder above {frozen_layers} frozen layers "
                             f"(e.g. {(unknown or below)[0]}); retrain with the current params")
    with torch.no_grad():
        for name, value in tensors.items():
            own[name].copy_(value)
    return encoder
