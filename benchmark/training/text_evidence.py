"""Proof that a textual arm learned its task: held-out scores of the trained objective beside a fresh
head of the same class fitted on the frozen PRETRAINED encoder (what the task's head alone gets from
the encoder before intermediate training) and chance.

Cost rule (it runs inside every textual arm's training stage, on CPU):

* the frozen-encoder head sees the same training budget (``steps`` x ``batch_size`` rows at
  ``lr x head_lr_scale``, AdamW, the loop's linear decay without warm-up) but no encoder gradient:
  the pretrained encoder's features of the training examples the fit visits (at most the training
  set) are computed once, without grad, and cached - pooled ``[H]`` per row, or the row's
  ``[tokens, H]`` states for spans and tagging. When the trained objective has a frozen bottom
  (``frozen_layers > 0``) identical to the pretrained one, its memo of the training rows' bottom
  states (if filled) is reused and only the pretrained top layers run;
* held-out: the first ``max_heldout`` examples in table order. With a shared frozen bottom, their
  bottom states are computed ONCE and both the trained and the pretrained top run over them (two
  top passes instead of two full ones); otherwise each encoder runs in full.

Names: ``heldout.<metric>.{trained,frozen_encoder,chance}`` and ``heldout.examples``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from benchmark.io import BenchmarkError
from benchmark.models import layers
from benchmark.training.objectives import Batch
from benchmark.training.text_objectives import TextObjective, make_text_objective
from benchmark.config import TrainingConfig
from benchmark.training.trainer import Sampler, lr_factor, make_optimizer

EVAL_EXAMPLES = 32  # examples per gradient-free forward pass


def _same_bottom(a: nn.Module, b: nn.Module, n_frozen: int) -> bool:
    """Whether embeddings and the first ``n_frozen`` layers of ``a`` and ``b`` hold the same weights."""
    if n_frozen == 0:
        return False
    pa = [p for m in (a.embeddings, *a.encoder.layer[:n_frozen]) for p in m.parameters()]
    pb = [p for m in (b.embeddings, *b.encoder.layer[:n_frozen]) for p in m.parameters()]
    return len(pa) == len(pb) and all(p.shape == q.shape and torch.equal(p, q) for p, q in zip(pa, pb))


def _states(encoder: nn.Module, batch: Batch, n_frozen: int, bottom: Tensor | None = None) -> Tensor:
    """Final hidden states, the bottom ``n_frozen`` layers' output given or computed."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if bottom is None:  # rows of similar length together: held-out rows come in table order
        bottom = layers.bottom_by_length(encoder, ids, mask, n_frozen)
    return layers.top(encoder, bottom, mask, n_frozen)


def _to(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}


@contextlib.contextmanager
def _inference(*modules: nn.Module) -> Iterator[None]:
    """Modules in eval mode with frozen parameters; both restored afterwards."""
    saved = [(m, m.training, [p.requires_grad for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval().requires_grad_(False)
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)


def _fit_head(head: TextObjective, data: Any, n_frozen: int, memo: Any, *, budget: TrainingConfig,
              seed: int) -> None:
    """Fit ``head``'s own parameters on cached features of its (frozen) encoder's final states."""
    steps, batch_size = budget.steps, budget.batch_size
    k = data.rows_per_example
    if batch_size < k:
        raise BenchmarkError(f"batch_size {batch_size} (rows) holds no example of {k} rows")
    sampler = Sampler(len(data), batch_size // k, torch.Generator().manual_seed(seed))
    plan = [sampler.next() for _ in range(steps)]
    needed = sorted({i for step in plan for i in step})
    device = next(head.parameters()).device
    cache: dict[int, list[Tensor]] = {}  # example -> its rows' features
    with torch.no_grad():
        for start in range(0, len(needed), EVAL_EXAMPLES):
            chunk = needed[start : start + EVAL_EXAMPLES]
            batch = _to(data.batch(chunk), device)
            bottom = memo.lookup(batch["input_ids"], batch["attention_mask"]) if memo is not None else None
            feats = head.features(_states(head.encoder, batch, n_frozen, bottom), batch["attention_mask"])
            lengths = batch["attention_mask"].sum(1).tolist()
            rows = [f[:n].clone() if feats.dim() == 3 else f for f, n in zip(feats, lengths)]  # padding dropped
            for e, i in enumerate(chunk):
                cache[i] = rows[e * k : (e + 1) * k]

    # The loop's optimizer and schedule without warm-up (a linear head needs none); the encoder is
    # frozen, so only head parameters enter.
    cfg = budget.model_copy(update={"warmup_steps": 0})
    optimizer = make_optimizer(head, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, cfg))
    for step in plan:
        batch = _to(data.batch(step), device)
        rows = [r for i in step for r in cache[i]]
        feats = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True) if rows[0].dim() == 2 else torch.stack(rows)
        loss, _ = head.loss(head.scores(feats, batch), batch)
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)


def _heldout(trained: TextObjective, fresh: TextObjective, data: Any, n: int, shared: int,
             metric: str) -> dict[str, float]:
    """Mean ``metric`` of both objectives over the first ``n`` examples of ``data``."""
    items: dict[str, list[Tensor]] = {"trained": [], "frozen_encoder": []}
    device = next(trained.parameters()).device
    with torch.no_grad():
        for start in range(0, n, EVAL_EXAMPLES):
            chunk = list(range(start, min(n, start + EVAL_EXAMPLES)))
            batch = _to(data.batch(chunk), device)
            bottom = None
            if shared:  # once, for both tops (precomputed when the memo holds these rows)
                memo = trained.memo.lookup(batch["input_ids"], batch["attention_mask"]) if trained.memo else None
                bottom = memo if memo is not None else layers.bottom_by_length(
                    trained.encoder, batch["input_ids"], batch["attention_mask"], shared)
            for name, obj, n_frozen in (("trained", trained, trained.frozen_layers), ("frozen_encoder", fresh, shared)):
                hidden = _states(obj.encoder, batch, n_frozen, bottom)
                scores = obj.scores(obj.features(hidden, batch["attention_mask"]), batch)
                items[name].append(obj.item_scores(scores, batch, data, chunk)[metric])
    return {name: float(torch.cat(v).float().mean()) for name, v in items.items()}


def task_evidence(trained: TextObjective, pretrained_encoder: nn.Module, train_data: Any, heldout_data: Any,
                  fmt: str, metric: str, chance: float, *, budget: TrainingConfig, seed: int,
                  max_heldout: int = 500) -> dict[str, float]:
    """Held-out ``metric`` of ``trained`` and of a fresh same-class head (same ``seed``) fitted on the
    frozen ``pretrained_encoder`` over the first ``max_heldout`` held-out examples in table order,
    beside ``chance``; the cost rule is the module's docstring. Changes no weight of either model."""
    if metric not in trained.metrics:
        raise BenchmarkError(f"{type(trained).__name__} reports {', '.join(trained.metrics)}, not {metric!r}")
    n = min(max_heldout, len(heldout_data))
    if n == 0:
        raise BenchmarkError("task evidence needs at least one held-out example")
    fresh = make_text_objective(fmt, pretrained_encoder, getattr(trained, "num_labels", None), seed)
    if type(fresh) is not type(trained):
        raise BenchmarkError(f"a {fmt} task has a {type(fresh).__name__} head, not {type(trained).__name__}")
    fresh.head.to(next(pretrained_encoder.parameters()).device)
    # Frozen layers are the pretrained ones, so one bottom pass serves both models.
    shared = trained.frozen_layers if _same_bottom(trained.encoder, pretrained_encoder, trained.frozen_layers) else 0
    with _inference(trained, pretrained_encoder):
        _fit_head(fresh, train_data, shared, trained.memo if shared else None, budget=budget, seed=seed)
        scores = _heldout(trained, fresh, heldout_data, n, shared, metric)
    return {f"heldout.{metric}.{name}": v for name, v in scores.items()} | {
        f"heldout.{metric}.chance": float(chance), "heldout.examples": float(n)}
