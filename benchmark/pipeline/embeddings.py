"""Embedding files (safetensors, never pickles) and a content-addressed cache of sentence embeddings.

The cache is keyed by (encoder weights sha256, prefix, max length) and then by the sha256 of each
text, so an unchanged (encoder, text) pair is embedded once across stages, arms and runs; a changed
encoder or text simply misses. It lives outside DVC's outputs (``cache/``), like a model hub cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from benchmark.cache import ContentCache
from benchmark.io import atomic_path, text_key


def save_embeddings(path: Path, tensors: dict[str, np.ndarray]) -> None:
    # No safetensors ``metadata``: its key order is not stable across processes, and these files
    # must be byte-identical for identical inputs. Provenance goes to the stage's MLflow run instead.
    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp))


def split_rows(flat: np.ndarray, groups: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The rows of ``flat`` (embedded texts of ``groups``, back to back in their order) by group."""
    out, start = {}, 0
    for name, texts in groups.items():
        out[name], start = flat[start : start + len(texts)], start + len(texts)
    return out


class EmbeddingCache:
    """Sentence embeddings by text, under ``root/<encoder key>/`` (a :class:`~benchmark.cache.ContentCache`)."""

    def __init__(self, root: Path, encoder_key: str) -> None:
        self.store = ContentCache(root / encoder_key)

    def __len__(self) -> int:
        return len(self.store)

    def get_or_compute(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """Embeddings ``[len(texts), H]`` in input order; ``compute`` gets each unseen text once."""
        return self.store.get_or_compute([text_key(t) for t in texts], texts, compute)
