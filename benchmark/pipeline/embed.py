"""Stage ``embed@<run>``: one embedding pass over every text both targets need, for one run's encoder.

The run's encoder is the pretrained one with the run's trained tensors (``artifacts/models/<run>``)
loaded on top; ``baseline`` has none. With frozen lower layers, only the layers above them run,
over the states the ``frozen`` stage stored; otherwise the whole encoder runs, through the
content-addressed cache (:mod:`benchmark.pipeline.embeddings`). Both targets read the file written
here, so each (encoder, text) pair is embedded once per run.
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from benchmark.config import Params
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import sha256_file, write_json
from benchmark.models.frozen_states import FrozenStates
from benchmark.models.run_encoder import load_run_encoder
from benchmark.pipeline import paths
from benchmark.pipeline.corpus import eval_texts, load_corpus
from benchmark.pipeline.embeddings import EmbeddingCache, save_embeddings, split_rows
from benchmark.tracking import stage_run


def run(params: Params, run_name: str, use_cache: bool = True) -> None:
    seed_everything(params.seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    corpus = load_corpus(params, paths.DATA)
    with stage_run(f"embed/{run_name}", params, device, tags={"run": run_name}) as run_:
        frozen = FrozenStates.open(paths.frozen())
        t0 = time.perf_counter()
        encoder = load_run_encoder(paths.model(run_name), params.encoder, params.seed, device, frozen)
        load_s = time.perf_counter() - t0

        groups = eval_texts(corpus, params.targets.retrieval.pivot)
        texts = [t for group in groups.values() for t in group]
        cfg = params.encoder
        weights_sha = encoder.weights_sha256()
        t1 = time.perf_counter()
        if frozen.frozen_layers:
            flat = frozen.embed(encoder.model, texts, cfg.batch_size, progress=f"embed {run_name}")
            fresh = len(set(texts))
        else:
            key = hashlib.sha256(
                f"{weights_sha}|{cfg.prefix}|{cfg.max_length}|{params.runtime.precision}".encode()
            ).hexdigest()[:24]
            fresh = 0

            def compute(batch: list[str]) -> np.ndarray:
                nonlocal fresh
                fresh = len(batch)
                return encoder.embed(batch, prefix=cfg.prefix, batch_size=cfg.batch_size,
                                     batch_tokens=cfg.batch_tokens, progress=f"embed {run_name}")

            flat = EmbeddingCache(paths.cache_dir(), key).get_or_compute(texts, compute) if use_cache else compute(texts)
        embed_s = time.perf_counter() - t1

        tensors = {"ids": np.asarray(corpus.eval_ids, dtype=np.int64), **split_rows(flat, groups)}
        out = paths.embeddings(run_name)
        save_embeddings(out, tensors)
        metrics = {"texts": len(texts), "embedded": fresh, "languages": len(corpus.languages),
                   "items_per_language": len(corpus.eval_ids), "layers_run": encoder.model.config.num_hidden_layers
                   - frozen.frozen_layers}
        timing = {"load_s": load_s, "embed_s": embed_s,
                  "sentences_per_s": fresh / embed_s if fresh and embed_s > 0 else 0.0}
        run_.log_metrics({**metrics, **timing})
        run_.set_tags({"encoder.weights_sha256": weights_sha, "embeddings.sha256": sha256_file(out)})
        write_json(paths.stage_metrics("embed", run_name), {**metrics, "mlflow_run_id": run_.run_id})
