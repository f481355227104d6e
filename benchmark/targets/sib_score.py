"""SIB-200's scoring, trained on English only, tested in every language (stage ``evaluate``).

Two protocols: a frozen-encoder probe on the run's embeddings (always), and, with
``targets.sib.finetune``, SIB-200's own recipe: the whole encoder plus a linear head fine-tuned on
English train through the same training loop as the intermediate tasks, then applied to every
language (a full encoder pass per language, hence off on CPU). What it reads and embeds is
:mod:`benchmark.targets.sib`'s.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import torch

from benchmark import paths
from benchmark.determinism import resolve_device
from benchmark.models.run_encoder import load_run_encoder
from benchmark.targets.corpus import Corpus, load_corpus, probe_labels
from benchmark.targets.sib import Config
from benchmark.targets.sib_probe import fit_probe
from benchmark.targets.spec import Context, TargetResult
from benchmark.training.datasets import Sentences
from benchmark.training.text_objectives import Classification
from benchmark.training.trainer import train


def finetune(cfg: Config, ctx: Context, arm: str, corpus: Corpus, labels: pd.Series,
             test_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Fine-tune ``arm``'s encoder on English SIB train; predicted labels of ``test_ids`` per language."""
    pivot = ctx.pivot
    device = resolve_device(ctx.runtime.device)
    categories = sorted(labels.unique())
    encoder = load_run_encoder(paths.model(arm), ctx.encoder, ctx.seed, device)
    objective = Classification(encoder.model, num_labels=len(categories), seed=ctx.seed)
    train_ids = corpus.ids("train")
    data = Sentences(corpus.sentences.loc[train_ids, pivot].tolist(),
                     [categories.index(c) for c in labels.loc[train_ids]], encoder.tokenizer,
                     encoder.max_length, ctx.encoder.prefix)
    # The one training block, with SIB-200's own steps, batch and learning rate: the whole encoder trains.
    budget = ctx.training.model_copy(update={
        "steps": cfg.finetune_steps, "batch_size": cfg.finetune_batch_size, "lr": cfg.finetune_lr, "grad_accum": 1,
        "warmup_steps": cfg.finetune_steps // 10, "max_length": encoder.max_length, "head_lr_scale": 1.0,
        "train_top_layers": None, "checkpoint_every": cfg.finetune_steps, "log_every": cfg.finetune_steps})
    with tempfile.TemporaryDirectory(prefix="sib-finetune-") as tmp:
        train(objective, data, budget, tmp, seed=ctx.seed, precision=ctx.runtime.precision, device=device)
    objective.eval()
    out = {}
    with torch.no_grad():
        for lang in corpus.languages:
            texts = Sentences(corpus.sentences.loc[test_ids, lang].tolist(), [0] * len(test_ids), encoder.tokenizer,
                              encoder.max_length, ctx.encoder.prefix)
            predicted = []
            for start in range(0, len(texts), 64):
                batch = texts.batch(list(range(start, min(len(texts), start + 64))))
                logits = objective.infer({k: v.to(device) for k, v in batch.items()})
                predicted += [categories[i] for i in logits.argmax(1).tolist()]
            out[lang] = np.array(predicted, dtype=object)
    return out


def score(cfg: Config, ctx: Context, run: str, emb: dict[str, np.ndarray]) -> TargetResult:
    corpus = load_corpus(ctx)
    labels = corpus.labels.set_index("index_id")["category"]
    y = probe_labels(corpus)
    probe = fit_probe(emb["sib/probe/train"], y["train"], emb["sib/probe/dev"], y["dev"], cfg.c_grid, cfg.max_iter,
                      ctx.seed)
    test_ids = np.asarray(corpus.sib_test_ids)
    gold = labels.loc[test_ids].to_numpy()
    tuned = finetune(cfg, ctx, run, corpus, labels, test_ids) if cfg.finetune else {}
    rows, preds = [], []
    for lang in corpus.languages:
        predicted = probe.predict(emb[f"sib/{lang}"])
        row = {"language": lang, "accuracy": float(np.mean(predicted == gold))}
        pred = pd.DataFrame({"language": lang, "index_id": test_ids, "label": gold, "predicted": predicted})
        if tuned:
            row["finetune_accuracy"] = float(np.mean(tuned[lang] == gold))
            pred["predicted_finetune"] = tuned[lang]
        rows.append(row)
        preds.append(pred)
    table = pd.DataFrame(rows)
    pivot = ctx.pivot
    summary = {
        "mean_accuracy": float(table["accuracy"].mean()),
        "english_test_accuracy": float(table.set_index("language").loc[pivot, "accuracy"]),
        "english_dev_accuracy": probe.dev_accuracy,
        "english_dev_log_loss": probe.dev_log_loss,
        "english_train_accuracy": probe.train_accuracy,
        "probe_c": probe.c,
        "languages": len(table),
        "items": len(test_ids),
    }
    if tuned:
        summary["mean_finetune_accuracy"] = float(table["finetune_accuracy"].mean())
        summary["english_test_finetune_accuracy"] = float(table.set_index("language").loc[pivot, "finetune_accuracy"])
    return TargetResult(table, pd.concat(preds, ignore_index=True), summary)
