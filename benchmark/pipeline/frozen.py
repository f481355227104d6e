"""Stage ``frozen``: the pretrained bottom of the encoder over every text a target of the profile embeds, once for all arms.

With ``training.train_top_layers = k``, every run's encoder equals the pretrained one below its top
k layers (:mod:`benchmark.models.layers`). This stage stores the bottom's hidden states for each
distinct evaluation text (float32, exactly as the bottom computed them), and ``embed@<run>`` runs
only that run's top layers over them: per run a ``k / L`` share of a full pass.

The layout of ``artifacts/frozen/`` is :mod:`benchmark.models.frozen_states`'s.
"""

from __future__ import annotations

import json
import time

from benchmark import paths
from benchmark.config import Params
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import atomic_dir, write_json
from benchmark.models import layers
from benchmark.models.encoder import load_encoder
from benchmark.models.frozen_states import META, STATES, store
from benchmark.targets import registry
from benchmark.tracking import stage_run


def run(params: Params) -> None:
    seed_everything(params.seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    groups = registry.texts_of(params, registry.active(params.profile), paths.DATA)
    texts = sorted({t for group in groups.values() for t in group})
    with stage_run("frozen", params, device) as run_:
        encoder = load_encoder(params.encoder, seed=params.seed, device=device)
        n_frozen = layers.frozen_layers(encoder.model, params.training.train_top_layers)
        meta = {"frozen_layers": n_frozen, "layers": layers.num_layers(encoder.model), "texts": len(texts),
                "encoder": params.encoder.name, "weights_sha256": encoder.weights_sha256()}
        t0 = time.perf_counter()
        with atomic_dir(paths.frozen()) as tmp:
            if n_frozen:
                meta["tokens"] = store(encoder, texts, n_frozen, params.encoder.prefix, params.encoder.batch_size,
                                       tmp / STATES)
            (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        seconds = time.perf_counter() - t0
        run_.log_metrics({"texts": len(texts), "frozen_layers": n_frozen, "seconds": seconds,
                          "sentences_per_s": len(texts) / seconds if n_frozen else 0.0})
        write_json(paths.METRICS / "frozen.json", {**meta, "mlflow_run_id": run_.run_id})
