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

**The gate** (:func:`paired_evidence`), on the same held-out examples for both models:

* 0/1 items (accuracy of a classification or choice head): ``trained_only`` / ``frozen_only`` count
  the discordant items (right for one model only); ``mcnemar_p`` is the exact two-sided McNemar test
  (binomial test of ``trained_only`` out of the discordant items at 1/2; 1.0 without any);
  ``diff_ci_low/high`` is the 95% interval on trained minus frozen accuracy that is exact conditional
  on the number of discordant items (Clopper-Pearson on the trained-only share of them, times
  discordant/n; dual to that McNemar test, so it excludes 0 exactly when the test rejects; [0, 0]
  without discordant items); ``trained_ci_low/high`` is the Clopper-Pearson 95% interval on the
  trained accuracy; ``chance_p`` the exact two-sided binomial test of the trained correct count
  against ``chance``.
* other metrics (per-item SQuAD F1; tagging, whose items are a sentence's tokens, so the example
  is the sentence and the metric the token-weighted mean): ``trained_only`` / ``frozen_only`` count
  the examples each model scores higher; ``mcnemar_p`` is the two-sided paired sign-flip
  permutation test of the summed per-example differences (every flip enumerated when at most
  :data:`EXACT_FLIPS` examples differ, else :data:`PERMUTATIONS` random flips seeded with the run's
  seed; on 0/1 items this test IS McNemar's exact test); ``diff_ci`` and ``trained_ci`` are
  Student-t 95% intervals (n - 1 df) with the ratio estimator's linearised standard error, examples
  independent (tokens of one sentence are not), clipped to the metric's range; ``chance_p`` is the
  same sign-flip test of the trained score minus ``chance`` (a test of symmetry about chance).
* ``learned``: 1.0 iff ``mcnemar_p`` < :data:`ALPHA` and the trained score is above the frozen one.
  Chance does not enter it; ``chance_p`` is reported beside it.

Names: ``heldout.<metric>.{trained,frozen_encoder,chance}`` (means), ``heldout.<metric>.{trained_only,
frozen_only,mcnemar_p,diff_ci_low,diff_ci_high,trained_ci_low,trained_ci_high,chance_p,learned}``
and ``heldout.examples``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from scipy import stats
from scipy.stats import binomtest
from torch import Tensor, nn

from benchmark.blocks import TrainingConfig
from benchmark.io import BenchmarkError
from benchmark.models import layers
from benchmark.training.objectives import IGNORE, Batch
from benchmark.training.text_objectives import TextObjective, make_text_objective
from benchmark.training.trainer import Sampler, lr_factor, make_optimizer

EVAL_EXAMPLES = 32  # examples per gradient-free forward pass
ALPHA = 0.05  # level of the learned-its-task gate (two-sided paired test, trained above frozen)
PERMUTATIONS = 20_000  # random sign flips of the paired test for non-0/1 metrics (more than EXACT_FLIPS)
EXACT_FLIPS = 16  # up to this many differing examples every one of the 2**n sign flips is enumerated


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


def _per_example(values: Tensor, batch: Batch, k: int) -> tuple[Tensor, Tensor]:
    """Per-example sums of ``values`` (one per item_scores unit) and their unit counts: units are the
    examples themselves, or a tagging example's labelled tokens (token-level ``labels [B, T]``)."""
    labels = batch.get("labels")
    tokens = isinstance(labels, Tensor) and labels.dim() == 2
    if not tokens and len(values) == k:
        return values.float().cpu(), torch.ones(k)
    counts = (labels != IGNORE).sum(1).cpu() if tokens else None
    if counts is None or len(counts) != k or int(counts.sum()) != len(values):
        raise BenchmarkError(f"{len(values)} item scores for {k} examples: cannot pair them by example")
    ends = counts.cumsum(0).tolist()
    starts = [0, *ends[:-1]]
    values = values.float().cpu()
    return torch.stack([values[a:b].sum() for a, b in zip(starts, ends)]), counts.float()


def _heldout(trained: TextObjective, fresh: TextObjective, data: Any, n: int, shared: int,
             metric: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-example sums of ``metric`` of both objectives over the first ``n`` examples of ``data``,
    and each example's units (1, or its labelled tokens for tagging)."""
    items: dict[str, list[Tensor]] = {"trained": [], "frozen_encoder": []}
    units: list[Tensor] = []
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
                sums, counts = _per_example(obj.item_scores(scores, batch, data, chunk)[metric], batch, len(chunk))
                items[name].append(sums)
            units.append(counts)
    return {name: torch.cat(v).double().numpy() for name, v in items.items()}, torch.cat(units).double().numpy()


def _sign_flip_p(d: np.ndarray, seed: int = 0) -> float:
    """Two-sided p of the paired sign-flip permutation test of ``sum(d)``: exact up to
    :data:`EXACT_FLIPS` values, else :data:`PERMUTATIONS` seeded random flips (with the +1 rule)."""
    d = d[d != 0]
    if not len(d):
        return 1.0
    observed = abs(d.sum()) * (1 - 1e-12)  # ties with the observed sum count as extreme
    if len(d) <= EXACT_FLIPS:
        signs = 1 - 2 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)
        return float(np.mean(np.abs(signs @ d) >= observed))
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, PERMUTATIONS, 1000):
        signs = rng.choice(np.array([-1.0, 1.0]), size=(min(1000, PERMUTATIONS - start), len(d)))
        extreme += int((np.abs(signs @ d) >= observed).sum())
    return (extreme + 1) / (PERMUTATIONS + 1)


def _t_interval(values: np.ndarray, units: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """95% Student-t interval of ``sum(values) / sum(units)`` with the linearised standard error of a
    ratio over independent examples, clipped to [low, high] (the whole range with one example)."""
    n, total = len(values), units.sum()
    if n < 2:
        return low, high
    mean = values.sum() / total
    se = np.sqrt(n / (n - 1) * np.sum((values - mean * units) ** 2)) / total
    half = stats.t.ppf(0.975, n - 1) * se
    return float(max(low, mean - half)), float(min(high, mean + half))


def paired_evidence(trained: np.ndarray, frozen: np.ndarray, chance: float, units: np.ndarray | None = None,
                    *, seed: int = 0) -> dict[str, float]:
    """The learned-its-task gate on paired held-out examples (the module docstring): ``trained`` and
    ``frozen`` are per-example sums of the metric (0/1 for accuracy items), ``units`` the units per
    example (ones when None; a tagging sentence's tokens). Returns the keys without ``heldout.<metric>.``."""
    trained, frozen = np.asarray(trained, dtype=float), np.asarray(frozen, dtype=float)
    units = np.ones(len(trained)) if units is None else np.asarray(units, dtype=float)
    if not len(trained) == len(frozen) == len(units) or not len(trained):
        raise BenchmarkError(f"paired evidence needs one value per example for both models, got "
                             f"{len(trained)}, {len(frozen)} and {len(units)} units")
    n, total = len(trained), units.sum()
    mean_t, mean_f = trained.sum() / total, frozen.sum() / total
    binary = bool(np.all(units == 1) and np.isin(trained, (0.0, 1.0)).all() and np.isin(frozen, (0.0, 1.0)).all())
    trained_only, frozen_only = int(np.sum(trained > frozen)), int(np.sum(trained < frozen))
    if binary:
        discordant = trained_only + frozen_only
        if discordant:
            test = binomtest(trained_only, discordant, 0.5)
            p = test.pvalue
            share = test.proportion_ci(0.95, method="exact")
            diff_ci = (discordant / n * (2 * share.low - 1), discordant / n * (2 * share.high - 1))
        else:
            p, diff_ci = 1.0, (0.0, 0.0)
        correct = int(trained.sum())
        exact = binomtest(correct, n, chance) if 0.0 < chance < 1.0 else None
        chance_p = exact.pvalue if exact else float(correct != round(chance * n))
        ci = binomtest(correct, n).proportion_ci(0.95, method="exact")
        trained_ci = (ci.low, ci.high)
    else:
        p = _sign_flip_p(trained - frozen, seed)
        diff_ci = _t_interval(trained - frozen, units, -1.0, 1.0)
        chance_p = _sign_flip_p(trained - chance * units, seed)
        trained_ci = _t_interval(trained, units, 0.0, 1.0)
    return {"trained_only": float(trained_only), "frozen_only": float(frozen_only), "mcnemar_p": float(p),
            "diff_ci_low": float(diff_ci[0]), "diff_ci_high": float(diff_ci[1]),
            "trained_ci_low": float(trained_ci[0]), "trained_ci_high": float(trained_ci[1]),
            "chance_p": float(chance_p), "learned": float(p < ALPHA and mean_t > mean_f)}


def task_evidence(trained: TextObjective, pretrained_encoder: nn.Module, train_data: Any, heldout_data: Any,
                  fmt: str, metric: str, chance: float, *, budget: TrainingConfig, seed: int,
                  max_heldout: int = 500) -> dict[str, float]:
    """Held-out ``metric`` of ``trained`` and of a fresh same-class head (same ``seed``) fitted on the
    frozen ``pretrained_encoder`` over the first ``max_heldout`` held-out examples in table order,
    beside ``chance``, and the paired gate on those examples (:func:`paired_evidence`); the cost rule
    and the names are the module's docstring. Changes no weight of either model."""
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
        per_example, units = _heldout(trained, fresh, heldout_data, n, shared, metric)
    means = {name: float(v.sum() / units.sum()) for name, v in per_example.items()}
    gate = paired_evidence(per_example["trained"], per_example["frozen_encoder"], chance, units, seed=seed)
    return {f"heldout.{metric}.{name}": v for name, v in (means | gate).items()} | {
        f"heldout.{metric}.chance": float(chance), "heldout.examples": float(n)}
