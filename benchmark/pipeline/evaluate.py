"""Stage ``evaluate@<run>``: one run's encoder on every target of the profile, in one process.

The targets come from the registry (:mod:`benchmark.targets.registry`): each says which texts it
embeds; their union is embedded once (identical texts once), then each target scores the run from
those embeddings. The run's encoder is the pretrained one with its trained tensors
(``artifacts/models/<run>``) on top; ``baseline`` has none. With frozen lower layers only the
layers above them run, over the states the ``frozen`` stage stored; otherwise the whole encoder runs
through the content-addressed cache (:mod:`benchmark.pipeline.embeddings`).

Writes, per target: ``artifacts/predictions/<run>/<target>.parquet`` (one row per item: what the
analysis resamples), ``metrics/evaluate/<run>/<target>.json`` and ``.per_language.csv``; and
``metrics/evaluate/<run>/embed.json``. One nested MLflow run per target (``<target>/<run>``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import numpy as np

from benchmark import paths
from benchmark.config import Params
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import atomic_path, write_json
from benchmark.models.frozen_states import FrozenStates
from benchmark.models.run_encoder import load_run_encoder
from benchmark.pipeline.embeddings import EmbeddingCache
from benchmark.targets import registry, scoring
from benchmark.tracking import stage_run


def _embed(params: Params, run_name: str, texts: list[str], use_cache: bool) -> tuple[np.ndarray, dict[str, float]]:
    device = resolve_device(params.runtime.device)
    frozen = FrozenStates.open(paths.frozen())
    t0 = time.perf_counter()
    encoder = load_run_encoder(paths.model(run_name), params.encoder, params.seed, device, frozen)
    load_s = time.perf_counter() - t0
    cfg = params.encoder
    t1 = time.perf_counter()
    if frozen.frozen_layers:
        flat = frozen.embed(encoder.model, texts, cfg.batch_size, progress=f"embed {run_name}")
    else:
        key = hashlib.sha256(f"{encoder.weights_sha256()}|{cfg.prefix}|{cfg.max_length}|"
                             f"{params.runtime.precision}".encode()).hexdigest()[:24]

        def compute(batch: list[str]) -> np.ndarray:
            return encoder.embed(batch, prefix=cfg.prefix, batch_size=cfg.batch_size,
                                 batch_tokens=cfg.batch_tokens, progress=f"embed {run_name}")

        flat = EmbeddingCache(paths.cache_dir(), key).get_or_compute(texts, compute) if use_cache else compute(texts)
    embed_s = time.perf_counter() - t1
    return flat, {"load_s": load_s, "embed_s": embed_s, "sentences_per_s": len(texts) / embed_s if embed_s else 0.0,
                  "layers_run": encoder.model.config.num_hidden_layers - frozen.frozen_layers}


def run(params: Params, run_name: str, targets: Sequence[str] | None = None, use_cache: bool = True) -> None:
    seed_everything(params.seed, params.runtime.threads)
    specs = registry.targets_of(params.profile, targets)
    groups = registry.texts_of(params, specs, paths.DATA)  # every input read and checked before the encoder loads
    unique = sorted({t for texts in groups.values() for t in texts})
    device = resolve_device(params.runtime.device)
    with stage_run(f"embed/{run_name}", params, device, tags={"run": run_name}) as run_:
        flat, timing = _embed(params, run_name, unique, use_cache)
        row = {t: i for i, t in enumerate(unique)}
        emb = {name: flat[[row[t] for t in texts]] for name, texts in groups.items()}
        metrics = {"texts": sum(len(t) for t in groups.values()), "embedded": len(unique),
                   "layers_run": timing.pop("layers_run")}
        run_.log_metrics({**metrics, **timing})
        write_json(paths.evaluation(run_name, "embed"), {**metrics, "targets": [s.name for s in specs],
                                                          "mlflow_run_id": run_.run_id})
    for spec in specs:
        result = scoring.score(spec, params, run_name, emb, paths.DATA)
        table = result.per_language
        with stage_run(f"{spec.name}/{run_name}", params, "cpu", tags={"run": run_name, "target": spec.name}) as run_:
            per_lang = {f"{c}.{r['language']}": float(r[c]) for r in table.to_dict("records")
                        for c in table.columns if c != "language"}
            run_.log_metrics({**result.summary, **per_lang})
            with atomic_path(paths.predictions(spec.name, run_name)) as tmp:
                result.predictions.to_parquet(tmp, index=False)
            with atomic_path(paths.per_language(spec.name, run_name)) as tmp:
                table.to_csv(tmp, index=False, float_format="%.6f")
            write_json(paths.evaluation(run_name, spec.name), {**result.summary, "mlflow_run_id": run_.run_id})
