"""The one training loop every intermediate task shares.

Arms differ only in the objective (:mod:`benchmark.training.objectives`) and the data they feed it;
optimizer, schedule, precision, freezing, checkpointing and logging are the same for all, from the
one ``training`` block of ``params.yaml`` (:class:`benchmark.blocks.TrainingConfig`) - SIB-200
fine-tuning passes the same block with its own steps, batch and learning rate. Read :func:`train`
top to bottom: that is the whole loop, with its four parts below it (``_setup``: seeds, optimizer,
data order; ``_resume``: the newest checkpoint; ``_step``: one optimizer step; ``_save``: a checkpoint).

Determinism: the loop seeds every RNG through :func:`benchmark.determinism.seed_everything`, draws
the data order from one seeded ``torch.Generator``, and checkpoints every RNG state with the
weights, so a run killed at any point and resumed (automatically, from the newest complete
checkpoint in ``out_dir``) ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from benchmark.blocks import TrainingConfig
from benchmark.determinism import bf16_autocast_ok, resolve_device, seed_everything
from benchmark.io import BenchmarkError
from benchmark.models.layers import frozen_layers
from benchmark.training import checkpoint, distributed
from benchmark.training.objectives import Batch, Objective

BETAS = (0.9, 0.98)  # RoBERTa/XLM-R and CLIP
EPS = 1e-6
MAX_GRAD_NORM = 1.0  # gradient clipping, as in BERT/XLM-R fine-tuning
LogFn = Callable[[int, dict[str, float]], None]


# Changing these between a checkpoint and its resumption does not change the result (selection only
# picks among the kept checkpoints afterwards).
_RESUMABLE_CHANGES = {"checkpoint_every", "selection"}


class TrainData(Protocol):
    """What the loop needs from a dataset: its size and a collate of item indices into a batch.

    ``groups`` (optional attribute): a group id per item (e.g. the image of each caption). With it,
    each epoch visits every group once through one randomly drawn member, so a batch never holds two
    items of one group (no false negatives for InfoNCE).
    """

    def __len__(self) -> int: ...

    def batch(self, indices: list[int]) -> Batch: ...


class Sampler:
    """Batches of item indices, epoch after epoch, drawn from ``generator``.

    Each epoch is a permutation (of items, or of groups with one member each); the last incomplete
    batch is dropped so a batch never straddles two epochs. The state (epoch order and position) is
    checkpointed; the generator's own state is checkpointed with the other RNGs.
    """

    def __init__(self, n_items: int, batch_size: int, generator: torch.Generator,
                 groups: Sequence[Hashable] | None = None) -> None:
        self.n_items, self.batch_size, self.generator = n_items, batch_size, generator
        if groups is None:
            self.members: list[torch.Tensor] | None = None
            units = n_items
        else:
            if len(groups) != n_items:
                raise BenchmarkError(f"data.groups has {len(groups)} entries for {n_items} items")
            by_group: dict[Hashable, list[int]] = {}
            for i, g in enumerate(groups):
                by_group.setdefault(g, []).append(i)
            self.members = [torch.tensor(by_group[g]) for g in sorted(by_group)]  # type: ignore[type-var]
            units = len(self.members)
        self.per_epoch = units // batch_size
        if self.per_epoch == 0:
            raise BenchmarkError(f"{units} training units are fewer than one batch of {batch_size}")
        self.epoch, self.position, self.order = -1, 0, torch.empty(0, dtype=torch.int64)

    def _new_epoch(self) -> None:
        g = self.generator
        if self.members is None:
            self.order = torch.randperm(self.n_items, generator=g)
        else:  # groups in random order, each through one uniformly drawn member
            perm = torch.randperm(len(self.members), generator=g)
            pick = torch.rand(len(self.members), generator=g)
            chosen = []
            for k, u in zip(perm.tolist(), pick.tolist()):
                members = self.members[k]
                chosen.append(members[min(int(u * len(members)), len(members) - 1)])
            self.order = torch.stack(chosen)
        self.epoch, self.position = self.epoch + 1, 0

    def next(self) -> list[int]:
        if self.epoch < 0 or self.position == self.per_epoch:
            self._new_epoch()
        start = self.position * self.batch_size
        self.position += 1
        return self.order[start : start + self.batch_size].tolist()

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "order": self.order.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position, self.order = int(state["epoch"]), int(state["position"]), state["order"]


def set_trainable(encoder: torch.nn.Module, top_layers: int | None, freeze_word_embeddings: bool = False) -> None:
    """Freeze the encoder below its top ``top_layers`` transformer layers (embeddings included);
    ``None`` leaves all of it trainable. The objective's heads are not touched (they always train)."""
    layers = encoder.encoder.layer
    if top_layers is not None and top_layers > len(layers):
        raise BenchmarkError(f"train_top_layers={top_layers} but the encoder has {len(layers)} layers")
    for p in encoder.parameters():
        p.requires_grad_(top_layers is None)
    if top_layers:
        for p in layers[len(layers) - top_layers :].parameters():
            p.requires_grad_(True)
    if freeze_word_embeddings:
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)


def make_optimizer(objective: torch.nn.Module, cfg: TrainingConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; matrices decay, biases/LayerNorm/scalars do not.

    The objective's new heads (everything outside ``encoder.``) learn at ``head_lr_scale`` x ``lr``:
    they start from random, the encoder from pretrained weights (the usual fine-tuning split).
    """
    groups = []
    for is_head, scale in ((False, 1.0), (True, cfg.head_lr_scale)):
        params = [p for n, p in objective.named_parameters() if p.requires_grad and (not n.startswith("encoder.")) == is_head]
        groups += [
            {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay, "lr": cfg.lr * scale},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0, "lr": cfg.lr * scale},
        ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=BETAS, eps=EPS)


def lr_factor(step: int, cfg: TrainingConfig) -> float:
    """Linear warm-up to the peak over ``warmup_steps``, then linear decay towards 0 at ``steps``."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    return max(0.0, (cfg.steps - step) / (cfg.steps - cfg.warmup_steps))


def _tokens(batch: Batch) -> int:
    return sum(int(batch[k].sum()) for k in ("attention_mask", "pair_attention_mask") if k in batch)


def _to(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


@dataclass
class _Loop:
    """What the loop carries from one optimizer step to the next, all of it checkpointed: the step, the
    data order (``sampler``), the stats summed over the current log interval and the budget spent."""

    step: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=lambda: {"examples": 0, "rows": 0, "text_tokens": 0,
                                                            "prefix_tokens": 0})


@dataclass
class _Run:
    """One call of :func:`train`: the objective and everything that updates it, and where it runs."""

    objective: Objective
    model: torch.nn.Module  # the objective, or (under torchrun) its DDP wrapper, set once resumed
    data: TrainData
    cfg: TrainingConfig
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    sampler: Any
    generators: dict[str, torch.Generator]
    config: dict[str, Any]  # what a checkpoint must have been written with to be resumed
    device: torch.device
    autocast: Any
    n_ranks: int
    rank: int


def train(objective: Objective, data: TrainData, cfg: TrainingConfig, out_dir: Path | str, *, seed: int,
          precision: Literal["fp32", "bf16"] = "fp32", keep_last: int | None = None, keep_weights: bool = False,
          freeze_word_embeddings: bool = False, device: str = "cpu", log: LogFn | None = None,
          progress: bool = True, data_parallel: bool = False) -> Path:
    """Train ``objective`` on ``data`` for ``cfg.steps`` optimizer steps; return the final checkpoint.

    ``cfg`` is the budget and recipe; the keywords say how this run executes it: its ``seed``,
    ``precision`` (bf16: autocast on the run's device, CUDA or CPU), how many checkpoints keep their
    optimizer state (``keep_last``; None: all) and whether older ones keep their weights as
    model-selection candidates (``keep_weights``), and ``freeze_word_embeddings`` (the 250k x H matrix
    dominates optimizer time on CPU; tests use it). ``cfg.batch_size`` counts encoder rows: a k-choice
    example takes k of them.

    Resumes from the newest complete checkpoint in ``out_dir`` if there is one (and returns at once
    if it is the final one). ``log(step, metrics)`` receives, every ``log_every`` steps, the means
    over that interval of the objective's stats plus ``lr``, ``grad_norm``, ``examples_per_s`` and
    ``tokens_per_s`` (the last two from wall time: the only non-reproducible values).

    ``data_parallel``: under ``torchrun`` (``WORLD_SIZE`` > 1) this call is the run's training on every
    rank, data-parallel with PyTorch's DDP (:mod:`benchmark.training.distributed`): the same global
    batches, each rank computing its share; only rank 0 writes checkpoints, calls ``log`` and shows
    progress; all ranks return together. Off (the default), the call trains in this process alone
    even under torchrun (e.g. SIB-200 fine-tuning on rank 0 after the run's training).
    """
    out_dir = Path(out_dir)
    n_ranks = distributed.world() if data_parallel else 1
    dev = torch.device(resolve_device(distributed.local_device(device) if n_ranks > 1 else device))
    if precision == "bf16" and not bf16_autocast_ok(dev):
        raise BenchmarkError(f"training.precision: bf16 autocast is not supported on device type {dev.type!r}")
    # batch_size counts encoder rows: an example of k rows (a k-way choice) takes k of them.
    if cfg.batch_size < getattr(data, "rows_per_example", 1):
        raise BenchmarkError(f"training.batch_size={cfg.batch_size} rows cannot hold one example of "
                             f"{data.rows_per_example} rows")  # type: ignore[attr-defined]
    distributed.check_divisible(cfg.batch_size, getattr(data, "example_sizes", (getattr(data, "rows_per_example", 1),)),
                                n_ranks)
    owned = distributed.start(dev) if n_ranks > 1 else False
    run = _setup(objective, data, cfg, seed, precision, keep_weights, freeze_word_embeddings, dev, n_ranks)
    loop, final = _resume(run, out_dir)
    if n_ranks > 1 and loop.step < cfg.steps:
        # Buffers never change in training (no BatchNorm), so no per-step broadcast; a head that a
        # step does not use (multi-task) or an encoder pooler that no objective reads gets no grad.
        run.model = DistributedDataParallel(objective, device_ids=[dev] if dev.type == "cuda" else None,
                                            forward_sync_buffers=False, find_unused_parameters=True)
    if loop.step < cfg.steps:
        bar = tqdm(total=cfg.steps, initial=loop.step, desc="train", unit="step", disable=not progress or run.rank != 0)
        seen, tokens, t0 = 0, 0, time.perf_counter()  # throughput since the last log (the global batches)
        with distributed.sharding(n_ranks):
            while loop.step < cfg.steps:
                lr = run.scheduler.get_last_lr()[0]
                rows, step_tokens = _step(run, loop)
                seen, tokens = seen + rows, tokens + step_tokens
                bar.update(1)
                if loop.step % cfg.log_every == 0 or loop.step == cfg.steps:
                    n = (loop.step - 1) % cfg.log_every + 1  # optimizer steps in this interval
                    metrics = {k: v / (n if k == "grad_norm" else n * cfg.grad_accum) for k, v in loop.sums.items()}
                    dt = time.perf_counter() - t0
                    metrics |= {"lr": lr, "examples_per_s": seen / dt, "tokens_per_s": tokens / dt}
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}")
                    if log is not None and run.rank == 0:
                        log(loop.step, metrics)
                    loop.sums, seen, tokens, t0 = {}, 0, 0, time.perf_counter()
                if loop.step % cfg.checkpoint_every == 0 or loop.step == cfg.steps:
                    final = _save(run, loop, out_dir, keep_last, keep_weights)
        bar.close()
    if n_ranks > 1:
        distributed.finish(owned)
    assert final is not None
    return final


def _setup(objective: Objective, data: TrainData, cfg: TrainingConfig, seed: int, precision: str, keep_weights: bool,
           freeze_word_embeddings: bool, dev: torch.device, n_ranks: int) -> _Run:
    """Seeded RNGs, the trainable parameters, optimizer, schedule and data order of a fresh run."""
    rank = distributed.rank() if n_ranks > 1 else 0
    config = {**cfg.model_dump(mode="json"), "seed": seed, "precision": precision, "keep_weights": keep_weights,
              "freeze_word_embeddings": freeze_word_embeddings}
    if n_ranks > 1:  # only then: single-process checkpoints keep their config
        config["world_size"] = n_ranks  # per-rank dropout streams: resumable on the same world only
    generator = seed_everything(seed, torch.get_num_threads())  # data order: the same on every rank
    if rank:  # dropout: rank 0 draws as a single process would, the others their own streams
        torch.manual_seed(distributed.rank_seed(seed, rank))
    generators = {"data": generator, **objective.generators()}
    objective.to(dev).train()
    set_trainable(objective.encoder, cfg.train_top_layers, freeze_word_embeddings)
    objective.frozen_layers = frozen_layers(objective.encoder, cfg.train_top_layers)
    optimizer = make_optimizer(objective, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    sampler = (data.make_sampler(cfg.batch_size, generator) if hasattr(data, "make_sampler")
               else Sampler(len(data), cfg.batch_size // getattr(data, "rows_per_example", 1), generator,
                            getattr(data, "groups", None)))
    # bf16 runs on CPU too, so the full profile's precision path can be rehearsed without a GPU.
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()
    return _Run(objective, objective, data, cfg, optimizer, scheduler, sampler, generators, config, dev, autocast,
                n_ranks, rank)


def _resume(run: _Run, out_dir: Path) -> tuple[_Loop, Path | None]:
    """The loop state of the newest complete checkpoint in ``out_dir`` (and it), or a fresh one."""
    if run.rank == 0:
        checkpoint.remove_partial(out_dir)
    if run.n_ranks > 1:
        torch.distributed.barrier()  # every rank sees the same checkpoints
    last = checkpoint.latest(out_dir)
    if last is None:
        return _Loop(), None
    step, saved = checkpoint.load(last, run.objective, run.optimizer, run.scheduler, run.generators)
    _check_same_config(saved["config"], run.config, last)
    if run.n_ranks > 1:
        distributed.set_rng_state(saved["rank_rng"], run.device)
    run.sampler.load_state_dict(saved["sampler"])
    return _Loop(step, dict(saved["sums"]), dict(saved["totals"])), last


def _step(run: _Run, loop: _Loop) -> tuple[int, int]:
    """One optimizer step over ``grad_accum`` micro-batches; its stats go into ``loop.sums``. Returns
    the rows and tokens it read (the global batches)."""
    cfg, objective, model = run.cfg, run.objective, run.model
    rows_read, tokens_read = 0, 0
    step_sums: dict[str, float] = {}  # sharded: this rank's stats of this step, averaged below
    for micro in range(cfg.grad_accum):
        batch = run.data.batch(run.sampler.next())  # the global batch, on every rank
        rows, prefix = len(batch["input_ids"]), objective.prefix_length(batch)
        rows_read, tokens_read = rows_read + rows, tokens_read + _tokens(batch) + rows * prefix
        loop.totals["examples"] += rows // int(batch.get("num_choices", 1))
        loop.totals["rows"] += rows
        loop.totals["text_tokens"] += _tokens(batch)
        loop.totals["prefix_tokens"] += rows * prefix
        if batch["input_ids"].shape[1] + prefix > cfg.max_length:
            raise BenchmarkError(f"a batch is longer than training.max_length={cfg.max_length}")
        batch = objective.prepare(batch)  # draws over the global batch (MLM masks) before the split
        if run.n_ranks > 1:
            batch = distributed.shard(batch, run.rank, run.n_ranks)
        batch = _to(batch, run.device)
        # Gradients are all-reduced once per optimizer step, after the last micro-batch.
        sync = (model.no_sync() if isinstance(model, DistributedDataParallel) and micro < cfg.grad_accum - 1
                else contextlib.nullcontext())
        with sync:
            with run.autocast:
                loss, stats = model(batch)
            (loss / cfg.grad_accum).backward()
        into = loop.sums if run.n_ranks == 1 else step_sums
        for k, v in stats.items():
            into[k] = into.get(k, 0.0) + v
    last_loss = stats["loss"]
    if run.n_ranks > 1:
        step_sums = distributed.mean_stats(step_sums, run.device)
        for k, v in step_sums.items():
            loop.sums[k] = loop.sums.get(k, 0.0) + v
        last_loss = step_sums["loss"]  # non-finite if any rank's is
    params = [p for group in run.optimizer.param_groups for p in group["params"]]
    norm = torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    loop.step += 1
    loop.sums["grad_norm"] = loop.sums.get("grad_norm", 0.0) + float(norm)
    if not math.isfinite(last_loss):
        raise BenchmarkError(f"training loss is {last_loss} at step {loop.step}")
    return rows_read, tokens_read


def _save(run: _Run, loop: _Loop, out_dir: Path, keep_last: int | None, keep_weights: bool) -> Path:
    """A checkpoint of the weights, optimizer, schedule, every RNG and ``loop`` (rank 0 writes it)."""
    state = {"config": run.config, "sampler": run.sampler.state_dict(), "sums": loop.sums, "totals": loop.totals}
    if run.n_ranks > 1:
        state["rank_rng"] = distributed.rng_states(run.device)  # every rank's dropout stream
    if run.rank != 0:
        return checkpoint.step_dir(out_dir, loop.step)
    saved = checkpoint.save(out_dir, loop.step, run.objective, run.optimizer, run.scheduler, run.generators, state)
    _prune(out_dir, keep_last, keep_weights)
    return saved


def _check_same_config(saved: dict[str, Any], now: dict[str, Any], where: Path) -> None:
    changed = sorted(k for k in now.keys() | saved.keys() if k not in _RESUMABLE_CHANGES and now.get(k) != saved.get(k))
    if changed:
        raise BenchmarkError(f"{where}: was written with a different training config ({', '.join(changed)}); "
                             "remove it or restore the config to resume")


def _prune(out_dir: Path, keep_last: int | None, keep_weights: bool) -> None:
    if keep_last is not None:
        for old in checkpoint.checkpoints(out_dir)[:-keep_last]:
            if keep_weights:
                (old / checkpoint.STATE_FILE).unlink(missing_ok=True)
            else:
                shutil.rmtree(old)
