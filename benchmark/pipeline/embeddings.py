"""Embedding files (safetensors, never pickles) and a content-addressed cache of sentence embeddings.

The cache is keyed by (encoder weights sha256, prefix, max length) and then by the sha256 of each
text, so an unchanged (encoder, text) pair is embedded once across stages, arms and runs; a changed
encoder or text simply misses. It lives outside DVC's outputs (``cache/``), like a model hub cache:
it can never serve a stale value, only save time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from benchmark.io import BenchmarkError, atomic_path


def save_embeddings(path: Path, tensors: dict[str, np.ndarray]) -> None:
    # No safetensors ``metadata``: its key order is not stable across processes, and these files
    # must be byte-identical for identical inputs. Provenance goes to the stage's MLflow run instead.
    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp))


def load_embeddings(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise BenchmarkError(f"{path}: embeddings missing; run the embed stage first")
    return load_file(str(path))


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Append-only shards of (text sha256, embedding) under ``root/<encoder key>/``."""

    def __init__(self, root: Path, encoder_key: str) -> None:
        self.dir = root / encoder_key
        self._table: dict[bytes, np.ndarray] = {}
        for shard in sorted(self.dir.glob("shard-*.safetensors")):
            data = load_file(str(shard))
            for digest, row in zip(data["keys"], data["embeddings"], strict=True):
                self._table[digest.tobytes()] = row

    def __len__(self) -> int:
        return len(self._table)

    def get_or_compute(self, texts: Sequence[str], compute: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._table:
                missing.setdefault(key, text)
        if missing:
            fresh = compute(list(missing.values()))
            self._store(list(missing), fresh)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._table[k] for k in keys])

    def _store(self, keys: list[bytes], embeddings: np.ndarray) -> None:
        for key, row in zip(keys, embeddings, strict=True):
            self._table[key] = row
        self.dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(b"".join(keys)).hexdigest()[:16]
        arrays = {
            "keys": np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32),
            "embeddings": np.ascontiguousarray(embeddings, dtype=np.float32),
        }
        with atomic_path(self.dir / f"shard-{name}.safetensors") as tmp:
            save_file(arrays, str(tmp))
