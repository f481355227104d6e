"""A content-addressed cache of image features: each image is encoded once per encoder.

The same approach as ``benchmark.pipeline.embeddings.EmbeddingCache``: append-only safetensors
shards (never pickles), each written atomically, under a directory named by what determines the
values, here ``root/<encoder weights sha256>/<kind>.<preprocessing>.<storage dtype>/``; within it
each row is keyed by the sha256 of the image file's bytes. A changed encoder, preprocessing or image
simply misses; the cache can never serve a stale value, only save time.

Two differences from the text cache, because image grids are large (MobileNetV2: 49 x 1280 floats,
250 KB per image in float32): opening a cache reads only the shards' key tables, and rows are read
from their shard on demand; and rows may be stored as float16 (``dtype="float16"``: half the disk,
about 3 significant digits). Values are always returned as float32 and always as read back from
the store, so a first (computing) call and a later (cached) call return identical bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image
from safetensors import safe_open
from safetensors.numpy import save_file

from benchmark.io import atomic_path

if TYPE_CHECKING:
    from benchmark.models.image import ImageEncoder

FeatureKind = Literal["grid", "pooled"]
StorageDtype = Literal["float32", "float16"]


def image_key(data: bytes) -> bytes:
    """sha256 of an image file's bytes (not of its decoded pixels: decoding is not hashed twice)."""
    return hashlib.sha256(data).digest()


class ImageFeatureCache:
    """Append-only shards of (image sha256, feature array) under ``root/<encoder key>/<variant>/``."""

    def __init__(self, root: Path, encoder_key: str, variant: str = "grid", dtype: StorageDtype = "float32") -> None:
        if dtype not in ("float32", "float16"):
            raise ValueError(f"storage dtype must be float32 or float16, got {dtype!r}")
        self.dtype = dtype
        self.dir = root / encoder_key / f"{variant}.{dtype}"
        self._where: dict[bytes, tuple[Path, int]] = {}  # digest -> (shard, row)
        for shard in sorted(self.dir.glob("shard-*.safetensors")):
            with safe_open(str(shard), framework="numpy") as f:
                keys = f.get_tensor("keys")
            for row, digest in enumerate(keys):
                self._where.setdefault(digest.tobytes(), (shard, row))

    @classmethod
    def for_encoder(
        cls, root: Path, encoder: ImageEncoder, kind: FeatureKind = "grid", dtype: StorageDtype = "float32"
    ) -> ImageFeatureCache:
        """The cache of ``encoder``'s ``kind`` features: keyed by its weights and its preprocessing."""
        return cls(root, encoder.weights_sha256(), f"{kind}.{encoder.preprocess_id}", dtype)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, data: bytes) -> bool:
        return image_key(data) in self._where

    def get_or_compute(self, images: Sequence[bytes], compute: Callable[[list[bytes]], np.ndarray]) -> np.ndarray:
        """Features of each image (file bytes), float32 ``[len(images), ...]``, in input order.

        ``compute`` gets each missing image once (duplicates within the call included) and returns
        one row per image it was given.
        """
        keys = [image_key(b) for b in images]
        missing: dict[bytes, bytes] = {}
        for key, data in zip(keys, images, strict=True):
            if key not in self._where:
                missing.setdefault(key, data)
        if missing:
            fresh = np.asarray(compute(list(missing.values())))
            if fresh.shape[0] != len(missing):
                raise ValueError(f"compute returned {fresh.shape[0]} rows for {len(missing)} images")
            self._store(list(missing), fresh)
        return self._read(keys)

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

    def _store(self, keys: list[bytes], features: np.ndarray) -> None:
        name = hashlib.sha256(b"".join(keys)).hexdigest()[:16]
        path = self.dir / f"shard-{name}.safetensors"
        arrays = {
            "keys": np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32),
            "features": np.ascontiguousarray(features, dtype=np.dtype(self.dtype)),
        }
        with atomic_path(path) as tmp:
            save_file(arrays, str(tmp))
        for row, key in enumerate(keys):
            self._where[key] = (path, row)


def encode_image_files(
    encoder: ImageEncoder,
    paths: Sequence[Path],
    cache: ImageFeatureCache | None = None,
    *,
    kind: FeatureKind = "grid",
    batch_size: int = 32,
) -> np.ndarray:
    """``kind`` features of image files, float32, through ``cache`` when given (else always computed)."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")

    def compute(blobs: list[bytes]) -> np.ndarray:
        chunks = []
        for start in range(0, len(blobs), batch_size):
            images = [_decode(b) for b in blobs[start : start + batch_size]]
            feats = encoder.pooled(images) if kind == "pooled" else encoder.features(images)
            chunks.append(feats.float().cpu().numpy())
        return np.concatenate(chunks)

    blobs = [Path(p).read_bytes() for p in paths]
    if cache is None:
        return compute(blobs) if blobs else np.zeros((0,), dtype=np.float32)
    return cache.get_or_compute(blobs, compute)


def _decode(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")  # decodes now, into an image that no longer needs the buffer
