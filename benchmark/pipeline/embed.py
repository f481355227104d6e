"""Stage ``embed@<arm>``: one embedding pass over every text both targets need, for one arm's encoder.

Both targets read the file this stage writes, so each (encoder, text) pair is embedded once per run;
across runs the content-addressed cache (:mod:`benchmark.pipeline.embeddings`) skips unchanged pairs.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from benchmark.config import Params
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import BenchmarkError, sha256_file, write_json
from benchmark.models.encoder import Encoder, load_encoder
from benchmark.pipeline import paths
from benchmark.pipeline.corpus import load_corpus
from benchmark.pipeline.embeddings import EmbeddingCache, save_embeddings
from benchmark.tracking import stage_run


def encoder_for_arm(arm: str, params: Params, device: str) -> Encoder:
    if arm == "baseline":
        return load_encoder(params.encoder, seed=params.seed, device=device)
    raise BenchmarkError(f"arm {arm!r}: no trained checkpoint loader yet")


def run(params: Params, arm: str, use_cache: bool = True) -> None:
    seed_everything(params.seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    corpus = load_corpus(params, paths.DATA)
    with stage_run(f"embed/{arm}", params, device, tags={"arm": arm}) as run_:
        t0 = time.perf_counter()
        encoder = encoder_for_arm(arm, params, device)
        load_s = time.perf_counter() - t0

        ids = corpus.eval_ids
        groups = {f"lang/{lang}": corpus.sentences.loc[ids, lang].tolist() for lang in corpus.languages}
        pivot = params.targets.retrieval.pivot
        for split in ("train", "dev"):
            groups[f"probe/{split}"] = corpus.sentences.loc[corpus.ids(split), pivot].tolist()
        texts = [t for group in groups.values() for t in group]

        cfg = params.encoder
        weights_sha = encoder.weights_sha256()
        key = hashlib.sha256(
            f"{weights_sha}|{cfg.prefix}|{cfg.max_length}|{params.runtime.precision}".encode()
        ).hexdigest()[:24]
        fresh = 0

        def compute(batch: list[str]) -> np.ndarray:
            nonlocal fresh
            fresh = len(batch)
            return encoder.embed(batch, prefix=cfg.prefix, batch_size=cfg.batch_size, batch_tokens=cfg.batch_tokens, progress=f"embed {arm}")

        t1 = time.perf_counter()
        if use_cache:
            flat = EmbeddingCache(paths.cache_dir(), key).get_or_compute(texts, compute)
        else:
            flat = compute(texts)
        embed_s = time.perf_counter() - t1

        tensors: dict[str, np.ndarray] = {"ids": np.asarray(ids, dtype=np.int64)}
        start = 0
        for name, group in groups.items():
            tensors[name] = flat[start : start + len(group)]
            start += len(group)
        out = paths.embeddings(arm)
        save_embeddings(out, tensors)
        metrics = {
            "texts": len(texts),
            "embedded": fresh,
            "languages": len(corpus.languages),
            "items_per_language": len(ids),
        }
        timing = {"load_s": load_s, "embed_s": embed_s,
                  "sentences_per_s": fresh / embed_s if fresh and embed_s > 0 else 0.0}
        run_.log_metrics({**metrics, **timing})
        run_.set_tags({"encoder.weights_sha256": weights_sha, "embeddings.sha256": sha256_file(out),
                       "embeddings.cache_key": key})
        write_json(paths.stage_metrics("embed", arm), {**metrics, "mlflow_run_id": run_.run_id})
