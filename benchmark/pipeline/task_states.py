"""Stage ``task-states``: the pretrained bottom of the encoder over the textual runs' English rows,
once for all of them.

With ``training.train_top_layers = k`` the layers below the top k are the pretrained encoder's in
every run, so a training row's bottom states are the same in every run that sees it. A textual run
visits each row of its task pool about once, so computing them inside the run saves nothing; computed
here once (:class:`benchmark.models.layers.BottomMemo`, the same fixed batches whichever run asks),
they serve every seed and the multi-task arm, and each run trains only its top layers. Rows: each
task's pool (which holds the items its evidence head is fitted on) and its held-out items
(:mod:`.task_data`).

Writes ``artifacts/task_states/<task>.safetensors`` for every task of a textual run in ``arms``
(nothing when no layer is frozen) and ``meta.json``.
"""

from __future__ import annotations

import json
import time

from benchmark.arms import parse_run
from benchmark.config import Params
from benchmark.data.tasks import TASKS
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import atomic_dir, write_json
from benchmark.models import layers
from benchmark.models.encoder import load_encoder
from benchmark.pipeline import paths
from benchmark.pipeline.task_data import task_tables
from benchmark.tracking import stage_run
from benchmark.training.text_data import make_task_data

META = "meta.json"


def run(params: Params) -> None:
    seed_everything(params.seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    tasks = sorted({task for run in params.arms for task in parse_run(run)[0].tasks})
    with stage_run("task-states", params, device) as run_:
        encoder = load_encoder(params.encoder, seed=params.seed, device=device)
        n_frozen = layers.frozen_layers(encoder.model, params.training.train_top_layers)
        meta = {"tasks": tasks if n_frozen else [], "frozen_layers": n_frozen, "weights_sha256": encoder.weights_sha256()}
        counts = {}
        t0 = time.perf_counter()
        with atomic_dir(paths.task_states()) as tmp:
            for task in meta["tasks"]:
                fmt, tables = TASKS[task].format, task_tables(params, task)
                # "fit" is the pool's head (task_data), so its rows are among the pool's already.
                rows = [r for part in ("train", "heldout")
                        for r in make_task_data(fmt, tables[part], encoder.tokenizer, params.training.max_length).token_rows()]
                memo = layers.BottomMemo()
                memo.fill(encoder.model.eval(), rows, n_frozen, encoder.tokenizer.pad_token_id)
                memo.save(tmp / f"{task}.safetensors")
                counts[task] = len(memo.rows)
            (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        seconds = time.perf_counter() - t0
        run_.log_metrics({"seconds": seconds, **{f"rows.{t}": n for t, n in counts.items()}})
        write_json(paths.METRICS / "task_states.json", {**meta, "rows": counts, "mlflow_run_id": run_.run_id})
