"""XTREME's fine-tuned tasks and Belebele (``full``): the seed's third phase, then XTREME's metrics.

For each task of ``targets.xtreme.tasks`` the run's encoder (its intermediate training in place) gets
a fresh head for the task's format and is fine-tuned on the task's *English* training data
(:attr:`benchmark.data.xtreme.XtremeTarget.train_task` / ``train_source``: MNLI for XNLI, PAWS for
PAWS-X, SQuAD v1.1 for XQuAD and MLQA, ...) through the one training loop, then applied unchanged
to the test set of every language (zero-shot), scored as XTREME scores it
(:mod:`benchmark.targets.xtreme_metrics`, in points). Each task starts again from the run's
encoder, never from another task's fine-tuned weights.

Outputs follow the registry's contract: one per-language row (``language`` and one column per task,
in points; NaN where a task lacks the language), per-item predictions (``task, language, index_id,
label, predicted, value``: ``value`` is the item's score, 1/0 for a class or choice, SQuAD F1 for a
question, token accuracy for a tagged sentence, which is what the analysis resamples), and
``mean_<task>`` (XTREME's task score: the mean over its languages). Its inputs (pins checked, test
tables read) and language groups are :mod:`benchmark.targets.xtreme`'s.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from benchmark import paths
from benchmark.data import xtreme, xtreme_files
from benchmark.data.task_tables import fetched, load_task, validate
from benchmark.determinism import resolve_device
from benchmark.io import BenchmarkError
from benchmark.models.run_encoder import load_run_encoder
from benchmark.schema import Registry
from benchmark.targets import xtreme_metrics
from benchmark.targets.spec import Context, TargetResult
from benchmark.targets.xtreme import Config, budget, extracted, shared_fine_tune, test_tables
from benchmark.training import squad_metric
from benchmark.training.text_data import make_task_data
from benchmark.training.text_objectives import IGNORE, best_spans, make_text_objective
from benchmark.training.trainer import train as run_training

EVAL_BATCH = 32
UNTAGGED = "O"  # a word truncation cut off gets no tag of its own: scored as "O" (wrong for UD-POS)


def english_train(spec: xtreme.XtremeTarget, data_dir: Path) -> pd.DataFrame:
    """The task's English training table (normalized schema of its format), refused in one line when unpinned."""
    if spec.train_task is not None:
        return load_task(spec.train_task, "hub", data_dir)["train"]
    pin = spec.train_source
    assert pin is not None, "XtremeTarget requires one of train_task and train_source"
    if not pin.resolved:
        raise BenchmarkError(f"{spec.display_name}: English training data {pin.source} is not pinned "
                             f"({pin.unresolved}); cannot fine-tune")
    if pin.hub_repo is None:  # a URL's archive, extracted by `benchmark fetch` (benchmark.targets.xtreme.unpack)
        return xtreme_files.load_english_train(spec.name, extracted(data_dir, spec.name)).drop(columns="language")
    import datasets

    where = f"{pin.source}/train"
    local = fetched(data_dir, pin.hub_repo)  # the copy `benchmark fetch` made, else the Hub at the commit
    try:
        df = (datasets.load_dataset(str(local), pin.config, split="train", cache_dir=str(data_dir / "hub"))
              if local.is_dir() else
              datasets.load_dataset(pin.hub_repo, pin.config, revision=pin.commit, split="train",
                                    cache_dir=str(data_dir / "hub"))).to_pandas()
    except Exception as e:  # noqa: BLE001 (network, auth, layout: one line)
        raise BenchmarkError(f"{where}: cannot load from the Hugging Face Hub: {type(e).__name__}") from None
    if spec.format != "pair" or not {"sentence1", "sentence2", "label"} <= set(df.columns):
        raise BenchmarkError(f"{where}: no mapper for this layout (columns {', '.join(df.columns)})")
    table = pd.DataFrame({"id": df.get("id", pd.Series(range(len(df)))).astype(str), "text": df["sentence1"],
                          "text_pair": df["sentence2"], "label": df["label"].astype(int)})
    return validate(spec, table, where)


def _budget(ctx: Context, steps: int, batch: int, lr: float, max_length: int) -> Any:
    return ctx.training.model_copy(update={
        "steps": steps, "batch_size": batch, "lr": lr, "grad_accum": 1,
        "warmup_steps": steps // 10, "max_length": max_length, "head_lr_scale": 1.0,
        "train_top_layers": None, "checkpoint_every": steps, "log_every": max(1, steps // 10)})


def max_length(cfg: Config, spec: xtreme.XtremeTarget, encoder: Any) -> int:
    return min(budget(cfg, spec.name)[2], encoder.max_length)


def finetune(cfg: Config, ctx: Context, encoder: Any, spec: xtreme.XtremeTarget, train: pd.DataFrame,
             device: str) -> Any:
    """A fresh head for ``spec``'s format on ``encoder``, everything fine-tuned on ``train`` (its
    recipe's epochs over these rows, or the block's fixed budget: benchmark.targets.xtreme.budget)."""
    train = train.iloc[: cfg.max_train] if cfg.max_train else train
    steps, batch, length, lr = budget(cfg, spec.name, len(train))
    length = min(length, encoder.max_length)
    objective = make_text_objective(spec.format, encoder.model, len(spec.labels) or None, ctx.seed)
    data = make_task_data(spec.format, train, encoder.tokenizer, length)
    with tempfile.TemporaryDirectory(prefix=f"xtreme-{spec.name}-") as tmp:
        run_training(objective, data, _budget(ctx, steps, batch, lr, length), tmp, seed=ctx.seed,
                     precision=ctx.runtime.precision, device=device)
    return objective.eval()


def _spans(scores: Any, batch: dict[str, Any], data: Any, idx: list[int], table: pd.DataFrame,
           spec: xtreme.XtremeTarget) -> list[Any]:
    start_logits, end_logits = scores.unbind(-1)
    return data.span_texts(idx, best_spans(start_logits, end_logits, batch["context_mask"]).cpu())


def _tags(scores: Any, batch: dict[str, Any], data: Any, idx: list[int], table: pd.DataFrame,
          spec: xtreme.XtremeTarget) -> list[Any]:
    best, out = scores.argmax(-1).cpu(), []
    for row, i in enumerate(idx):
        words = len(table["tokens"].iloc[i])
        kept = best[row][batch["labels"][row].cpu() != IGNORE].tolist()  # first sub-token of each kept word
        out.append([spec.labels[t] for t in kept] + [UNTAGGED] * (words - len(kept)))
    return out


def _labels(scores: Any, batch: dict[str, Any], data: Any, idx: list[int], table: pd.DataFrame,
            spec: xtreme.XtremeTarget) -> list[Any]:
    return [spec.labels[int(k)] for k in scores.argmax(1).cpu()]


def _span_items(table: pd.DataFrame, predicted: list[Any], spec: xtreme.XtremeTarget) -> tuple[list, list[float]]:
    gold = [list(a) for a in table["answers"]]
    return gold, [squad_metric.best_f1(p, g) for p, g in zip(predicted, gold)]


def _tag_items(table: pd.DataFrame, predicted: list[Any], spec: xtreme.XtremeTarget) -> tuple[list, list[float]]:
    gold = [[spec.labels[t] for t in tags] for tags in table["tags"]]
    return gold, [float(np.mean([a == b for a, b in zip(g, p)])) for g, p in zip(gold, predicted)]


def _label_items(table: pd.DataFrame, predicted: list[Any], spec: xtreme.XtremeTarget) -> tuple[list, list[float]]:
    gold = [spec.labels[int(k)] for k in table["label"]]
    return gold, [float(g == p) for g, p in zip(gold, predicted)]


class Decoder(NamedTuple):
    predicted: Callable[..., list[Any]]  # a batch's scores -> each item's prediction
    items: Callable[..., tuple[list, list[float]]]  # (gold, the item score the analysis resamples)


# Each XTREME format's decoding and item score: a span's SQuAD F1, a sentence's token accuracy, a label's 1/0.
DECODERS: Registry[Decoder] = Registry("XTREME format", {
    "span": Decoder(_spans, _span_items),
    "tagging": Decoder(_tags, _tag_items),
    "pair": Decoder(_labels, _label_items),
    "choice": Decoder(_labels, _label_items),
}, names=xtreme.TargetFormat)


def predict(objective: Any, spec: xtreme.XtremeTarget, table: pd.DataFrame, tokenizer: Any, max_length: int,
            device: str) -> pd.DataFrame:
    """``index_id, label, predicted, value`` per item of ``table`` (one language), in table order."""
    import torch

    decoder = DECODERS[spec.format]
    data = make_task_data(spec.format, table, tokenizer, max_length)
    predicted: list[Any] = []
    with torch.no_grad():
        for start in range(0, len(table), EVAL_BATCH):
            idx = list(range(start, min(len(table), start + EVAL_BATCH)))
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in data.batch(idx).items()}
            predicted += decoder.predicted(objective.infer(batch), batch, data, idx, table, spec)
    gold, value = decoder.items(table, predicted, spec)
    return pd.DataFrame({"index_id": np.arange(len(table)), "item": table["id"].astype(str).to_numpy(),
                         "label": pd.Series(gold, dtype=object), "predicted": pd.Series(predicted, dtype=object),
                         "value": value})


# XTREME's score of one language from its gold and predictions, in points: evaluate.py's METRIC_FUNCTION
# (QA: its F1, the number the published rows report).
METRICS: Registry[Callable[[list, list, str], float]] = Registry("XTREME metric", {
    "accuracy": lambda gold, pred, language: xtreme_metrics.accuracy(gold, pred),
    "f1": lambda gold, pred, language: xtreme_metrics.seqeval_scores(gold, pred)["f1"],
    "squad_em_f1": lambda gold, pred, language: xtreme_metrics.squad_scores(gold, pred)["f1"],
    "mlqa_em_f1": lambda gold, pred, language: xtreme_metrics.mlqa_scores(gold, pred, language)["f1"],
}, names=xtreme.TargetMetric)


def task_score(spec: xtreme.XtremeTarget, preds: pd.DataFrame, language: str) -> float:
    """XTREME's score of one language, in points."""
    return METRICS[spec.metric](preds["label"].tolist(), preds["predicted"].tolist(), language)


def predict_task(objective: Any, encoder: Any, spec: xtreme.XtremeTarget, tests: dict[str, pd.DataFrame],
                 cfg: Config, device: str) -> tuple[dict[str, float], pd.DataFrame]:
    """A fine-tuned ``objective`` on every language of ``tests`` (the first ``cfg.max_test`` items of
    each, all if None): (scores in points, predictions)."""
    length = max_length(cfg, spec, encoder)
    cap = cfg.max_test
    scores, preds = {}, []
    for lang, table in tests.items():
        table = table.iloc[:cap].reset_index(drop=True) if cap else table.reset_index(drop=True)
        p = predict(objective, spec, table, encoder.tokenizer, length, device)
        scores[lang] = task_score(spec, p, lang)
        preds.append(p.assign(task=spec.name, language=lang))
    return scores, pd.concat(preds, ignore_index=True)


def run_task(cfg: Config, ctx: Context, load: Callable[[], Any], spec: xtreme.XtremeTarget,
             train: pd.DataFrame, tests: dict[str, pd.DataFrame], device: str = "cpu") -> tuple[dict[str, float], pd.DataFrame]:
    """Fine-tune a fresh copy of the encoder (``load()``) on ``train``, predict every language of ``tests``."""
    encoder = load()
    return predict_task(finetune(cfg, ctx, encoder, spec, train, device), encoder, spec, tests, cfg, device)


def score(cfg: Config, ctx: Context, run: str, emb: dict[str, np.ndarray]) -> TargetResult:
    device = resolve_device(ctx.runtime.device)
    specs = [xtreme.TARGETS[t] for t in cfg.tasks]
    groups: dict[tuple[str, str, int], list[xtreme.XtremeTarget]] = {}
    for spec in specs:
        groups.setdefault(shared_fine_tune(spec), []).append(spec)
    # every input read first: a bad file stops the stage before the first fine-tune
    trains = {key: english_train(members[0], ctx.data_dir) for key, members in groups.items()}
    tests = {s.name: test_tables(s, ctx.data_dir) for s in specs}
    results: dict[str, tuple[dict[str, float], pd.DataFrame]] = {}
    for key, members in groups.items():  # one fine-tune per English training set, from the run's encoder
        encoder = load_run_encoder(paths.model(run), ctx.encoder, ctx.seed, device)
        objective = finetune(cfg, ctx, encoder, members[0], trains[key], device)
        for spec in members:
            results[spec.name] = predict_task(objective, encoder, spec, tests[spec.name], cfg, device)
    per_language: dict[str, dict[str, float]] = {}
    preds = []
    for spec in specs:
        scores, p = results[spec.name]
        for lang, value in scores.items():
            per_language.setdefault(lang, {})[spec.name] = value
        preds.append(p)
    columns = ["task", "language", "index_id", "item", "label", "predicted", "value"]
    table = pd.DataFrame([{"language": lang, **v} for lang, v in sorted(per_language.items())],
                         columns=["language", *(s.name for s in specs)])
    summary = {f"mean_{s.name}": float(table[s.name].mean()) for s in specs}
    predictions = pd.concat(preds, ignore_index=True)[columns] if preds else pd.DataFrame(columns=columns)
    # One parquet column holds a class, a list of gold answers or a tag sequence, by task: JSON text for all.
    predictions[["label", "predicted"]] = predictions[["label", "predicted"]].map(json.dumps)
    return TargetResult(table, predictions, summary)
