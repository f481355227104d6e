"""The encoder as a stack split in two: a frozen bottom and a trained top.

When intermediate training updates only the top ``k`` transformer layers, everything below them
(embeddings and the first ``L - k`` layers) is the pretrained encoder for every arm. So the bottom's
output for an evaluation text is computed once (stage ``frozen``) and each arm runs only its own top
layers over it: a ``k/L`` share of a full pass per arm instead of all of it.

Running the layers one by one with an additive mask gives the same bits as ``BertModel.forward``
(checked in ``tests/test_models.py``), so the split changes cost, not results.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def num_layers(model: nn.Module) -> int:
    return len(model.encoder.layer)


def frozen_layers(model: nn.Module, train_top_layers: int | None) -> int:
    """How many transformer layers sit below the trained ones (``None``: all train, 0 frozen)."""
    if train_top_layers is None:
        return 0
    if not 1 <= train_top_layers <= num_layers(model):
        raise ValueError(f"train_top_layers={train_top_layers} but the encoder has {num_layers(model)} layers")
    return num_layers(model) - train_top_layers


def additive_mask(mask: Tensor, dtype: torch.dtype) -> Tensor:
    """``[B, T]`` 0/1 -> ``[B, 1, 1, T]`` with 0 where attended and the dtype's minimum elsewhere."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers: Sequence[nn.Module], hidden: Tensor, mask: Tensor) -> Tensor:
    ext = additive_mask(mask, hidden.dtype)
    for layer in layers:
        out = layer(hidden, attention_mask=ext)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def bottom(model: nn.Module, input_ids: Tensor, mask: Tensor, n_frozen: int) -> Tensor:
    """Hidden states after the embeddings and the first ``n_frozen`` layers."""
    hidden = model.embeddings(input_ids=input_ids)
    return run_layers(model.encoder.layer[:n_frozen], hidden, mask)


def top(model: nn.Module, hidden: Tensor, mask: Tensor, n_frozen: int) -> Tensor:
    """The remaining layers over states that :func:`bottom` produced (plus any prefix)."""
    return run_layers(model.encoder.layer[n_frozen:], hidden, mask)
