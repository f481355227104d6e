"""Stage ``embed@<run>``: one embedding pass over every text both targets need, for one run's encoder.

The run's encoder is the pretrained one with the run's trained tensors (``artifacts/models/<run>``)
loaded on top; ``baseline`` has none. With frozen lower layers, only the layers above them run,
over the states the ``frozen`` stage stored; otherwise the whole encoder runs, through the
content-addressed cache (:mod:`benchmark.pipeline.embeddings`). Both targets read the file written
here, so each (encoder, text) pair is embedded once per run.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import torch
from safetensors.torch import load_file

from benchmark.config import Params
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import BenchmarkError, sha256_file, write_json
from benchmark.models.encoder import Encoder, load_encoder
from benchmark.pipeline import paths
from benchmark.pipeline.corpus import eval_texts, load_corpus
from benchmark.pipeline.embeddings import EmbeddingCache, save_embeddings, split_rows
from benchmark.pipeline.frozen import FrozenStates
from benchmark.tracking import stage_run
from benchmark.training.checkpoint import ENCODER_FILE


def load_run_encoder(run: str, params: Params, device: str, frozen_layers: int = 0) -> Encoder:
    """The pretrained encoder with ``run``'s trained tensors in place (strict: every tensor must
    exist in the encoder, and none may lie below ``frozen_layers``, whose states are shared)."""
    path = paths.model(run) / ENCODER_FILE
    if not path.exists():
        raise BenchmarkError(f"{path}: missing; run the train stage of {run!r} first")
    encoder = load_encoder(params.encoder, seed=params.seed, device=device)
    if frozen_layers:  # the shared states must come from this very pretrained encoder
        meta = json.loads((paths.frozen() / "meta.json").read_text(encoding="utf-8"))
        if meta["weights_sha256"] != encoder.weights_sha256():
            raise BenchmarkError(f"{paths.frozen()}: frozen states were computed by another encoder "
                                 "(params changed?); rerun the frozen stage")
    tensors = load_file(str(path))
    own = dict(encoder.model.named_parameters())
    unknown = [k for k in tensors if k not in own]
    below = [k for k in tensors if not any(k.startswith(f"encoder.layer.{i}.")
                                           for i in range(frozen_layers, len(encoder.model.encoder.layer)))]
    if unknown or (frozen_layers and below):
        raise BenchmarkError(f"{path}: tensors do not fit this encoder above {frozen_layers} frozen layers "
                             f"(e.g. {(unknown or below)[0]}); retrain with the current params")
    with torch.no_grad():
        for name, value in tensors.items():
            own[name].copy_(value)
    return encoder


def run(params: Params, run_name: str, use_cache: bool = True) -> None:
    seed_everything(params.seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    corpus = load_corpus(params, paths.DATA)
    with stage_run(f"embed/{run_name}", params, device, tags={"run": run_name}) as run_:
        frozen = FrozenStates.open()
        t0 = time.perf_counter()
        encoder = load_run_encoder(run_name, params, device, frozen.frozen_layers)
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
