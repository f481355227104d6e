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
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from torch import Tensor, nn

from benchmark.models import batching


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


@torch.no_grad()
def bottom_by_length(model: nn.Module, input_ids: Tensor, mask: Tensor, n_frozen: int,
                     rows_per_chunk: int = 8) -> Tensor:
    """:func:`bottom` over length-sorted chunks of the batch, each padded to its own longest row.

    A training batch is in random order, so padding to its longest row can double the frozen
    bottom's work (COCO captions: mean 16 tokens, batch maxima up to 39). Chunks of similar length
    cut that; rows' states are unchanged up to kernel blocking, and padding positions come back as
    zeros (masked everywhere downstream). Gradient-free: only for frozen layers.
    """
    lengths = mask.sum(dim=1)
    out = None
    for chunk in torch.argsort(lengths, descending=True, stable=True).split(rows_per_chunk):
        width = int(lengths[chunk].max())
        hidden = bottom(model, input_ids[chunk, :width], mask[chunk, :width], n_frozen)
        hidden = hidden.masked_fill(~mask[chunk, :width, None].bool(), 0.0)
        if out is None:
            out = hidden.new_zeros(*input_ids.shape, hidden.shape[-1])
        out[chunk, :width] = hidden
    assert out is not None, "an empty batch has no states"
    return out


def top(model: nn.Module, hidden: Tensor, mask: Tensor, n_frozen: int) -> Tensor:
    """The remaining layers over states that :func:`bottom` produced (plus any prefix)."""
    return run_layers(model.encoder.layer[n_frozen:], hidden, mask)


class BottomMemo:
    """The frozen bottom's states for a fixed set of training texts, computed once.

    Training revisits the same captions and questions every epoch, and with frozen lower layers
    their states never change, so :meth:`fill` computes them all up front (longest first, in fixed
    batches: the same bits however training is later interrupted and resumed) and a batch made only
    of known rows is assembled from them. Any other batch (e.g. MLM's freshly masked inputs) runs the
    bottom as usual and is not stored, so what a step computes never depends on earlier steps.
    """

    def __init__(self) -> None:
        self.rows: dict[bytes, Tensor] = {}

    @staticmethod
    def key(ids: Tensor) -> bytes:
        return ids.detach().cpu().to(torch.int64).numpy().tobytes()

    @torch.no_grad()
    def fill(self, model: nn.Module, rows: Sequence[Sequence[int]], n_frozen: int, pad_id: int,
             batch_size: int = 64) -> None:
        unique = sorted({tuple(r) for r in rows}, key=lambda r: (-len(r), r))
        device = next(model.parameters()).device
        for start in range(0, len(unique), batch_size):
            chunk = unique[start : start + batch_size]
            ids, mask = batching.pad(chunk, pad_id)
            hidden = bottom(model, ids.to(device), mask.to(device), n_frozen)
            for i, r in enumerate(chunk):
                self.rows[self.key(torch.tensor(r))] = hidden[i, : len(r)].clone()

    def save(self, path: Path) -> None:
        """The memo as safetensors: every row's ids and states back to back, with their offsets."""
        keys = sorted(self.rows)
        ids = [np.frombuffer(k, dtype=np.int64) for k in keys]
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(i) for i in ids])
        hidden = torch.cat([self.rows[k] for k in keys]) if keys else torch.zeros(0, 0)
        save_file({"ids": np.concatenate(ids) if ids else np.zeros(0, np.int64), "offsets": offsets,
                   "hidden": hidden.float().numpy()}, str(path))

    @classmethod
    def load(cls, *paths: Path) -> BottomMemo:
        """The memos :meth:`save` wrote, merged into one."""
        memo = cls()
        for path in paths:
            data = load_file(str(path))
            ids, offsets, hidden = data["ids"], data["offsets"], torch.from_numpy(data["hidden"])
            for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
                memo.rows[ids[a:b].tobytes()] = hidden[a:b]
        return memo

    def lookup(self, input_ids: Tensor, mask: Tensor) -> Tensor | None:
        """``[B, T, H]`` (zeros at padding) if every row is known, else ``None``."""
        lengths = mask.sum(dim=1).tolist()
        found = [self.rows.get(self.key(input_ids[i, :n])) for i, n in enumerate(lengths)]
        if not found or any(f is None for f in found):
            return None
        out = found[0].new_zeros(len(found), input_ids.shape[1], found[0].shape[-1])
        for i, f in enumerate(found):
            out[i, : len(f)] = f
        return out
