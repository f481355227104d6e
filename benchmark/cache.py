"""A content-addressed store of arrays: each row keyed by the sha256 of what it was computed from.

Append-only safetensors shards (never pickles), each written atomically, in one directory named by
everything else that determines the values (an encoder's weights hash, its preprocessing, ...). A
changed input or encoder simply misses: the store can never serve a stale value, only save time.
Opening reads only the shards' key tables; rows are read from their shard on demand (image grids are
large), optionally stored as float16 (half the disk, about 3 significant digits), and always returned
as float32 read back from the store, so a computing call and a later cached one give identical bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from benchmark.io import atomic_path

StorageDtype = Literal["float32", "float16"]
Item = TypeVar("Item")


class ContentCache:
    """Append-only shards of (32-byte key, array row) under ``directory``."""

    def __init__(self, directory: Path, dtype: StorageDtype = "float32") -> None:
        if dtype not in ("float32", "float16"):
            raise ValueError(f"storage dtype must be float32 or float16, got {dtype!r}")
        self.dir, self.dtype = Path(directory), dtype
        self._where: dict[bytes, tuple[Path, int]] = {}  # key -> (shard, row)
        for shard in sorted(self.dir.glob("shard-*.safetensors")):
            with safe_open(str(shard), framework="numpy") as f:
                keys = f.get_tensor("keys")
            for row, key in enumerate(keys):
                self._where.setdefault(key.tobytes(), (shard, row))

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: bytes) -> bool:
        return key in self._where

    def get_or_compute(self, keys: Sequence[bytes], items: Sequence[Item],
                       compute: Callable[[list[Item]], np.ndarray]) -> np.ndarray:
        """The row of each key, float32 ``[len(keys), ...]``, in input order; ``compute`` gets the
        items of the missing keys once each (duplicates within the call included), one row per item."""
        missing: dict[bytes, Item] = {}
        for key, item in zip(keys, items, strict=True):
            if key not in self._where:
                missing.setdefault(key, item)
        if missing:
            fresh = np.asarray(compute(list(missing.values())))
            if fresh.shape[0] != len(missing):
                raise ValueError(f"compute returned {fresh.shape[0]} rows for {len(missing)} items")
            self._store(list(missing), fresh)
        return self._read(list(keys))

    def _read(self, keys: list[bytes]) -> np.ndarray:
        by_shard: dict[Path, list[tuple[int, int]]] = {}
        for i, key in enumerate(keys):
            shard, row = self._where[key]
            by_shard.setdefault(shard, []).append((i, row))
        out: np.ndarray | None = None
        for shard, pairs in by_shard.items():
            with safe_open(str(shard), framework="numpy") as f:
                rows = f.get_slice("features")
                for i, row in pairs:
                    value = rows[row : row + 1][0]
                    if out is None:
                        out = np.empty((len(keys), *value.shape), dtype=np.float32)
                    out[i] = value
        return out if out is not None else np.zeros((0,), dtype=np.float32)

    def _store(self, keys: list[bytes], rows: np.ndarray) -> None:
        name = hashlib.sha256(b"".join(keys)).hexdigest()[:16]
        path = self.dir / f"shard-{name}.safetensors"
        arrays = {
            "keys": np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32),
            "features": np.ascontiguousarray(rows, dtype=np.dtype(self.dtype)),
        }
        with atomic_path(path) as tmp:
            save_file(arrays, str(tmp))
        for row, key in enumerate(keys):
            self._where[key] = (path, row)
