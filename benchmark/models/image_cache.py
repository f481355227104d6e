"""The image encoder's features, each image encoded once per encoder (a :class:`~benchmark.cache.ContentCache`).

Rows live under ``root/<encoder weights sha256>/<kind>.<preprocessing>.<storage dtype>/``, keyed by
the sha256 of the image file's bytes, so a changed encoder, preprocessing or image simply misses.
MobileNetV2's grid is 49 x 1280 floats (250 KB per image in float32): rows are read on demand and
may be stored as float16.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

from benchmark.cache import ContentCache, StorageDtype

if TYPE_CHECKING:
    from benchmark.models.image import ImageEncoder

FeatureKind = Literal["grid", "pooled"]


def image_key(data: bytes) -> bytes:
    """sha256 of an image file's bytes (not of its decoded pixels: decoding is not hashed twice)."""
    return hashlib.sha256(data).digest()


class ImageFeatureCache:
    """Features by image file bytes, under ``root/<encoder key>/<variant>.<dtype>/``."""

    def __init__(self, root: Path, encoder_key: str, variant: str = "grid", dtype: StorageDtype = "float32") -> None:
        self.store = ContentCache(root / encoder_key / f"{variant}.{dtype}", dtype)

    @classmethod
    def for_encoder(
        cls, root: Path, encoder: ImageEncoder, kind: FeatureKind = "grid", dtype: StorageDtype = "float32"
    ) -> ImageFeatureCache:
        """The cache of ``encoder``'s ``kind`` features: keyed by its weights and its preprocessing."""
        return cls(root, encoder.weights_sha256(), f"{kind}.{encoder.preprocess_id}", dtype)

    def __len__(self) -> int:
        return len(self.store)

    def __contains__(self, data: bytes) -> bool:
        return image_key(data) in self.store

    def get_or_compute(self, images: Sequence[bytes], compute: Callable[[list[bytes]], np.ndarray]) -> np.ndarray:
        """Features of each image (file bytes), float32 ``[len(images), ...]``, in input order."""
        return self.store.get_or_compute([image_key(b) for b in images], images, compute)


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
