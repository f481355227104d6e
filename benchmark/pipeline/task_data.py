"""What a textual run trains and is judged on, per English task: shared by stage ``task-states``
(which computes these rows' frozen states once) and ``train@<run>`` (which trains and scores on them).

Training items: the task's first ``data.task_pool`` training items (all with ``null``). Held-out items:
the first :data:`HELDOUT_EXAMPLES` of the task's held-out split that share no source group
(``TaskSpec.group_by``, :func:`benchmark.data.tasks.shares_group`) with a training item, never trained
on. The bundled splits already hold out whole groups, so there the guard drops nothing; on the hub
path it drops held-out items whose passage / premise / clip also occurs in the pool of the upstream
training split. The frozen-encoder head of the task-learned evidence is fitted on the first
:data:`FIT_EXAMPLES` training items (part of the pool).
"""

from __future__ import annotations

import pandas as pd

from benchmark import paths
from benchmark.config import Params
from benchmark.data.task_tables import load_task
from benchmark.data.tasks import TASKS, shares_group

FIT_EXAMPLES = 400  # training items the frozen-encoder head is fitted on (the evidence's baseline)
HELDOUT_EXAMPLES = 250  # held-out items every textual run is scored on


def task_tables(params: Params, task: str) -> dict[str, pd.DataFrame]:
    """``train`` (the pool), ``fit`` (the evidence head's items) and ``heldout`` of ``task``."""
    source, root = ("bundle", paths.BUNDLE) if params.data.source == "bundle" else ("hub", paths.DATA)
    tables = load_task(task, source, root)
    pool = tables["train"].head(params.data.task_pool) if params.data.task_pool else tables["train"]
    heldout = tables["heldout"]
    heldout = heldout[~shares_group(TASKS[task], heldout, pool)].reset_index(drop=True)
    return {"train": pool, "fit": pool.head(FIT_EXAMPLES), "heldout": heldout.head(HELDOUT_EXAMPLES)}
