"""Stage ``task-states``: the pretrained bottom of the encoder over the training rows of the textual
runs and of the positive control, once for all of their seeds.

With ``training.train_top_layers = k`` the layers below the top k are the pretrained encoder's in
every run, so a training row's bottom states are the same in every run that sees it. A textual run
visits each row of its task pool about once, so computing them inside the run saves nothing; computed
here once (:class:`benchmark.models.layers.BottomMemo`, the same fixed batches whichever run asks),
they serve every seed and the multi-task arm, and each run trains only its top layers. Rows: each
task's pool (which holds the items its evidence head is fitted on) and its held-out items
(:mod:`.task_data`); the positive control's training pairs (:mod:`.parallel_data`), which each of
its seeds would otherwise compute again (≈ 20 s a run in ``mini``).

Writes ``artifacts/task_states/<name>.safetensors`` for every task of a textual run in ``arms`` and,
with a positive-control run, ``parallel`` (nothing when no layer is frozen), and ``meta.json``
(``sets``: the names it holds).
"""

from __future__ import annotations

import json
import time

from benchmark import paths
from benchmark.arms import parse_run
from benchmark.armspec import ArmSpec
from benchmark.config import Params
from benchmark.data.tasks import TASKS
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import atomic_dir, write_json
from benchmark.models import layers
from benchmark.models.encoder import Encoder, load_encoder
from benchmark.pipeline.parallel_data import MEMO, parallel_data
from benchmark.pipeline.task_data import task_tables
from benchmark.pipeline.task_memo import META
from benchmark.tracking import stage_run
from benchmark.training.text_data import make_task_data


def sets_of(specs: list[ArmSpec]) -> list[str]:
    """The row sets these arms train on from precomputed frozen states: their English tasks, and the
    positive control's pairs."""
    tasks = sorted({task for spec in specs for task in spec.tasks})
    return tasks + ([MEMO] if any(spec.kind == "positive" for spec in specs) else [])


def _rows(params: Params, encoder: Encoder, name: str) -> list[list[int]]:
    tok, max_length = encoder.tokenizer, params.training.max_length
    if name == MEMO:
        return parallel_data(params, tok)[0].token_rows()
    fmt, tables = TASKS[name].format, task_tables(params, name)
    # "fit" is the pool's head (task_data), so its rows are among the pool's already.
    return [r for part in ("train", "heldout") for r in make_task_data(fmt, tables[part], tok, max_length).token_rows()]


def run(params: Params) -> None:
    seed_everything(params.seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    sets = sets_of([parse_run(run)[0] for run in params.arms])
    with stage_run("task-states", params, device) as run_:
        encoder = load_encoder(params.encoder, seed=params.seed, device=device)
        n_frozen = layers.frozen_layers(encoder.model, params.training.train_top_layers)
        meta = {"sets": sets if n_frozen else [], "frozen_layers": n_frozen, "weights_sha256": encoder.weights_sha256()}
        counts = {}
        t0 = time.perf_counter()
        with atomic_dir(paths.task_states()) as tmp:
            for name in meta["sets"]:
                memo = layers.BottomMemo()
                memo.fill(encoder.model.eval(), _rows(params, encoder, name), n_frozen, encoder.tokenizer.pad_token_id)
                memo.save(tmp / f"{name}.safetensors")
                counts[name] = len(memo.rows)
            (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        seconds = time.perf_counter() - t0
        run_.log_metrics({"seconds": seconds, **{f"rows.{t}": n for t, n in counts.items()}})
        write_json(paths.METRICS / "task_states.json", {**meta, "rows": counts, "mlflow_run_id": run_.run_id})
