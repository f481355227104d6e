"""Stage ``images``: the frozen image encoder's features for every bundled COCO image, computed once.

Every multimodal arm and control reads this one file, so the image encoder runs once per (encoder,
image); across runs the content-addressed :class:`~benchmark.models.image_cache.ImageFeatureCache`
skips unchanged images. The patch grid is average-pooled to ``image.prefix_tokens`` = s x s tokens:
the visual prefix, which counts inside ``training.max_length``.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmark import paths
from benchmark.config import Params
from benchmark.data import coco
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import BenchmarkError, write_json
from benchmark.models.image import load_image_encoder
from benchmark.models.image_cache import ImageFeatureCache
from benchmark.pipeline.embeddings import save_embeddings
from benchmark.tracking import stage_run


def pool_grid(grid: np.ndarray, tokens: int) -> np.ndarray:
    """``[N, P, D]`` patches on a square grid -> ``[N, tokens, D]`` by adaptive average pooling."""
    n, p, d = grid.shape
    side, out = round(p**0.5), round(tokens**0.5)
    if side * side != p:
        raise BenchmarkError(f"image features: {p} patches do not form a square grid")
    if out > side:
        raise BenchmarkError(f"image.prefix_tokens={tokens} exceeds the encoder's {p}-patch grid")
    x = torch.from_numpy(grid).permute(0, 2, 1).reshape(n, d, side, side)
    pooled = F.adaptive_avg_pool2d(x, out).reshape(n, d, out * out).permute(0, 2, 1)
    return np.ascontiguousarray(pooled.numpy(), dtype=np.float32)


def run(params: Params) -> None:
    seed_everything(params.seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    cfg = params.image
    images = coco.load_images(paths.BUNDLE)
    with stage_run("images", params, device, tags={"image_encoder": cfg.source}) as run_:
        encoder = load_image_encoder(cfg.source, cfg.name, cfg.revision, device=device)
        # One image per forward: a cached image's features then never depend on its batch-mates.
        encoder.micro_batch = 1
        cache = ImageFeatureCache.for_encoder(paths.cache_dir().parent / "images", encoder)
        fresh = 0

        def compute(blobs: list[bytes]) -> np.ndarray:
            nonlocal fresh
            fresh = len(blobs)
            return encoder.features([coco.decode_image(b) for b in blobs]).cpu().numpy()

        t0 = time.perf_counter()
        grid = cache.get_or_compute(list(images["jpeg"]), compute)
        seconds = time.perf_counter() - t0
        features = pool_grid(grid, cfg.prefix_tokens)
        save_embeddings(paths.image_features(), {
            "image_ids": images["image_id"].to_numpy(np.int64), "features": features})
        metrics = {"images": len(images), "encoded": fresh, "prefix_tokens": cfg.prefix_tokens,
                   "feature_dim": int(features.shape[-1])}
        run_.log_metrics({**metrics, "encode_s": seconds,
                          "images_per_s": fresh / seconds if fresh and seconds > 0 else 0.0})
        run_.set_tags({"image_encoder.name": encoder.name, "image_encoder.weights_sha256": encoder.weights_sha256()})
        write_json(paths.METRICS / "images.json", {**metrics, "mlflow_run_id": run_.run_id})
