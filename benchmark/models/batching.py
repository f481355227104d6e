"""Rows of different lengths into padded batches: one order and one padding for every pass over texts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def length_order(ids: Sequence[Sequence[int]]) -> list[int]:
    """Indices of ``ids``, longest first.

    Longest first, so each batch pads little and memory peaks at once. Ties break on the token ids
    themselves, so batch composition (hence every bit of the output) depends on the multiset of
    inputs, not on their order.
    """
    return sorted(range(len(ids)), key=lambda i: (-len(ids[i]), list(ids[i])))


def cut(order: Sequence[int], lengths: Sequence[int], batch_size: int,
        batch_tokens: int | None = None) -> list[list[int]]:
    """Consecutive runs of ``order`` (longest first), cut by row count, or, with ``batch_tokens``,
    by padded size (rows x longest row <= budget, at least one row)."""
    if batch_size < 1 or (batch_tokens is not None and batch_tokens < 1):
        raise ValueError("batch_size and batch_tokens must be >= 1")
    if batch_tokens is None:
        return [list(order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        if current and (len(current) + 1) * width > batch_tokens:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def pad_flat(flat: np.ndarray, lengths: Sequence[int], value: float | int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows stored back to back (``flat [sum(lengths), ...]``) -> ``[B, W, ...]`` padded with ``value``
    (W the longest row) and the 0/1 attention mask ``[B, W]`` (int64)."""
    lengths_ = np.asarray(lengths, dtype=np.int64)
    width = int(lengths_.max()) if len(lengths_) else 0
    mask = np.arange(width)[None, :] < lengths_[:, None]
    out = np.full((len(lengths_), width, *flat.shape[1:]), value, dtype=flat.dtype)
    out[mask] = flat  # row-major: row 0's positions, then row 1's, ... exactly the order of ``flat``
    return torch.from_numpy(out), torch.from_numpy(mask.astype(np.int64))


def pad(rows: Sequence[Sequence[int]] | Sequence[np.ndarray], value: float | int,
        dtype: np.dtype | type = np.int64) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows (token ids, or per-token state arrays) -> padded ``[B, W, ...]`` and mask ``[B, W]``."""
    flat = np.concatenate([np.asarray(r, dtype=dtype) for r in rows])
    return pad_flat(flat, [len(r) for r in rows], value)
