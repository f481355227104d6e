"""Several textual tasks trained at once: one shared encoder, one head per task (jiant's layout).

Every optimizer micro-batch comes from ONE task, drawn with probability proportional to
``min(n_task_examples, cap)`` - jiant's examples-proportional mixing with an examples cap (no cap:
proportional to the task sizes) - and holds ``batch_size // rows_per_example`` of that task's
examples from its own epoch permutation (the trainer's rule: ``batch_size`` counts encoder rows).
"""

from __future__ import annotations

import bisect
from typing import Any

import torch
from torch import Tensor, nn

from benchmark.io import BenchmarkError
from benchmark.training.objectives import Batch, Objective, Stats
from benchmark.training.text_data import TaskData
from benchmark.training.text_objectives import TextObjective
from benchmark.training.trainer import Sampler


class MultiTaskSampler:
    """:class:`~benchmark.training.trainer.Sampler`'s interface over several tasks.

    Task draws and every task's epoch permutations come from the one ``generator`` (checkpointed by
    the trainer); :meth:`state_dict` holds each task's epoch, position and order, so a resumed run
    draws exactly what an uninterrupted one would.
    """

    def __init__(self, data: MultiTaskData, batch_size: int, generator: torch.Generator) -> None:
        self.names, self.offsets, self.generator = data.names, data.offsets, generator
        self.weights = torch.tensor([data.weights[t] for t in data.names], dtype=torch.float64)
        self.samplers = {}
        for t in data.names:
            k = data.tasks[t].rows_per_example
            if batch_size < k:
                raise BenchmarkError(f"batch_size {batch_size} (rows) holds no example of task {t} ({k} rows each)")
            self.samplers[t] = Sampler(len(data.tasks[t]), batch_size // k, generator)

    def next(self) -> list[int]:
        task = int(torch.multinomial(self.weights, 1, generator=self.generator))
        offset = self.offsets[task]
        return [offset + i for i in self.samplers[self.names[task]].next()]

    def state_dict(self) -> dict[str, Any]:
        return {"tasks": {t: s.state_dict() for t, s in self.samplers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state["tasks"]) != set(self.samplers):
            raise BenchmarkError(f"checkpoint samples tasks {sorted(state['tasks'])}, not {self.names}")
        for t, s in self.samplers.items():
            s.load_state_dict(state["tasks"][t])


class MultiTaskData:
    """Tasks side by side under global indices (task after task, in name order); a batch holds
    indices of one task only and carries its name in ``batch["task"]``."""

    def __init__(self, tasks: dict[str, TaskData], cap: int | None) -> None:
        if not tasks:
            raise BenchmarkError("multi-task data needs at least one task")
        if cap is not None and cap < 1:
            raise BenchmarkError(f"multi-task examples cap must be >= 1, got {cap}")
        self.names = sorted(tasks)
        self.tasks = tasks
        sizes = [len(tasks[t]) for t in self.names]
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self.weights = {t: min(n, cap) if cap is not None else n for t, n in zip(self.names, sizes)}

    @property
    def example_sizes(self) -> tuple[int, ...]:
        """Rows per example of each task (the trainer checks a data-parallel split against each)."""
        return tuple(self.tasks[t].rows_per_example for t in self.names)

    def probabilities(self) -> dict[str, float]:
        total = sum(self.weights.values())
        return {t: w / total for t, w in self.weights.items()}

    def __len__(self) -> int:
        return sum(len(d) for d in self.tasks.values())

    def make_sampler(self, batch_size: int, generator: torch.Generator) -> MultiTaskSampler:
        return MultiTaskSampler(self, batch_size, generator)

    def batch(self, indices: list[int]) -> Batch:
        task = bisect.bisect_right(self.offsets, indices[0]) - 1
        offset, name = self.offsets[task], self.names[task]
        local = [i - offset for i in indices]
        if not all(0 <= i < len(self.tasks[name]) for i in local):
            raise ValueError("a multi-task batch mixes tasks")
        return self.tasks[name].batch(local) | {"task": name}

    def token_rows(self) -> list[list[int]]:
        return [row for t in self.names for row in self.tasks[t].token_rows()]


class MultiTaskObjective(Objective):
    """One encoder, one head per task; a batch goes through the head of ``batch["task"]``.

    ``heads`` are :class:`TextObjective` s built on this same ``encoder``; only their ``head``
    modules are registered here (``heads.<task>.*`` in checkpoints), so the encoder is stored once.

    Stats, every micro-batch and for every task, so that the trainer's interval means are exact:
    ``loss`` (the drawn task's), ``share.<task>`` (1 for the drawn task, else 0) and
    ``<task>.<stat>`` (the drawn task's value, 0 for the others). A task's own mean over an interval
    is ``<task>.<stat> / share.<task>``.
    """

    def __init__(self, encoder: nn.Module, heads: dict[str, TextObjective], seed: int = 0) -> None:
        super().__init__(encoder, seed=seed)
        for t, h in heads.items():
            if h.encoder is not encoder:
                raise ValueError(f"the head of task {t} is built on another encoder")
            if "." in t:
                raise ValueError(f"task name {t!r} contains a '.'")
        self.heads = nn.ModuleDict({t: heads[t].head for t in sorted(heads)})
        self._tasks = dict(heads)  # a plain dict: registering them would register the encoder again

    def task(self, name: str) -> TextObjective:
        """Task ``name``'s objective, sharing this one's encoder split and frozen-bottom memo."""
        obj = self._tasks[name]
        obj.frozen_layers, obj.memo = self.frozen_layers, self.memo
        return obj

    def prepare(self, batch: Batch) -> Batch:
        return self.task(batch["task"]).prepare(batch)

    def forward(self, batch: Batch) -> tuple[Tensor, Stats]:
        name = batch["task"]
        obj = self.task(name)
        hidden, mask = self.encode(batch["input_ids"], batch["attention_mask"])
        loss, stats = obj.loss(obj.scores(obj.features(hidden, mask), batch), batch)
        out = {"loss": stats["loss"]}
        for t, h in self._tasks.items():
            out[f"share.{t}"] = float(t == name)
            out |= {f"{t}.{k}": stats[k] if t == name else 0.0 for k in h.stat_names}
        return loss, out
