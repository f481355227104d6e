"""Stage ``sib@<run>``: SIB-200 zero-shot topic accuracy, trained on English only, tested in every language.

Two protocols: a frozen-encoder probe on the run's embeddings (always), and, with
``targets.sib.finetune``, SIB-200's own recipe: the whole encoder plus a linear head fine-tuned on
English train through the same training loop as the intermediate tasks, then applied to every
language (a full encoder pass per language, hence off on CPU).
"""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd

from benchmark.config import Params
from benchmark.io import atomic_path, write_json
from benchmark.pipeline import paths
from benchmark.pipeline.corpus import Corpus, load_corpus, probe_labels
from benchmark.pipeline.embeddings import load_embeddings
from benchmark.targets.sib_probe import english_probe
from benchmark.tracking import stage_run


def finetune(params: Params, arm: str, corpus: Corpus, labels: pd.Series,
             test_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Fine-tune ``arm``'s encoder on English SIB train; predicted labels of ``test_ids`` per language."""
    # Imported here: the probe alone needs neither torch nor transformers (seconds per stage).
    import torch

    from benchmark.determinism import resolve_device
    from benchmark.models.run_encoder import load_run_encoder
    from benchmark.training.datasets import Sentences
    from benchmark.training.text_objectives import Classification
    from benchmark.training.trainer import train

    cfg, pivot = params.targets.sib, params.targets.retrieval.pivot
    device = resolve_device(params.runtime.device)
    categories = sorted(labels.unique())
    encoder = load_run_encoder(paths.model(arm), params.encoder, params.seed, device)
    objective = Classification(encoder.model, num_labels=len(categories), seed=params.seed)
    train_ids = corpus.ids("train")
    data = Sentences(corpus.sentences.loc[train_ids, pivot].tolist(),
                     [categories.index(c) for c in labels.loc[train_ids]], encoder.tokenizer,
                     encoder.max_length, params.encoder.prefix)
    # The one training block, with SIB-200's own steps, batch and learning rate: the whole encoder trains.
    budget = params.training.model_copy(update={
        "steps": cfg.finetune_steps, "batch_size": cfg.finetune_batch_size, "lr": cfg.finetune_lr, "grad_accum": 1,
        "warmup_steps": cfg.finetune_steps // 10, "max_length": encoder.max_length, "head_lr_scale": 1.0,
        "train_top_layers": None, "checkpoint_every": cfg.finetune_steps, "log_every": cfg.finetune_steps})
    with tempfile.TemporaryDirectory(prefix="sib-finetune-") as tmp:
        train(objective, data, budget, tmp, seed=params.seed, precision=params.runtime.precision, device=device)
    objective.eval()
    out = {}
    with torch.no_grad():
        for lang in corpus.languages:
            texts = Sentences(corpus.sentences.loc[test_ids, lang].tolist(), [0] * len(test_ids), encoder.tokenizer,
                              encoder.max_length, params.encoder.prefix)
            predicted = []
            for start in range(0, len(texts), 64):
                batch = texts.batch(list(range(start, min(len(texts), start + 64))))
                logits = objective.infer({k: v.to(device) for k, v in batch.items()})
                predicted += [categories[i] for i in logits.argmax(1).tolist()]
            out[lang] = np.array(predicted, dtype=object)
    return out


def run(params: Params, arm: str) -> None:
    emb = load_embeddings(paths.embeddings(arm))
    corpus = load_corpus(params, paths.DATA)
    labels = corpus.labels.set_index("index_id")["category"]
    cfg = params.targets.sib
    probe = english_probe(emb, probe_labels(corpus), cfg.c_grid, cfg.max_iter, params.seed)

    ids = emb["ids"]
    test_mask = np.isin(ids, corpus.sib_test_ids)
    test_ids = ids[test_mask]
    gold = labels.loc[test_ids].to_numpy()
    tuned = finetune(params, arm, corpus, labels, test_ids) if cfg.finetune else {}
    rows, preds = [], []
    for lang in corpus.languages:
        predicted = probe.predict(emb[f"lang/{lang}"][test_mask])
        row = {"language": lang, "accuracy": float(np.mean(predicted == gold))}
        pred = pd.DataFrame({"language": lang, "index_id": test_ids, "label": gold, "predicted": predicted})
        if tuned:
            row["finetune_accuracy"] = float(np.mean(tuned[lang] == gold))
            pred["predicted_finetune"] = tuned[lang]
        rows.append(row)
        preds.append(pred)
    table = pd.DataFrame(rows)
    preds_df = pd.concat(preds, ignore_index=True)
    pivot = params.targets.retrieval.pivot
    summary = {
        "mean_accuracy": float(table["accuracy"].mean()),
        "english_test_accuracy": float(table.set_index("language").loc[pivot, "accuracy"]),
        "english_dev_accuracy": probe.dev_accuracy,
        "english_dev_log_loss": probe.dev_log_loss,
        "english_train_accuracy": probe.train_accuracy,
        "probe_c": probe.c,
        "languages": len(table),
        "items": int(test_mask.sum()),
    }
    if tuned:
        summary["mean_finetune_accuracy"] = float(table["finetune_accuracy"].mean())
        summary["english_test_finetune_accuracy"] = float(table.set_index("language").loc[pivot, "finetune_accuracy"])
    with stage_run(f"sib/{arm}", params, "cpu", tags={"arm": arm, "target": "sib200_probe"}) as run_:
        per_lang = {f"{c}.{r['language']}": r[c] for r in table.to_dict("records") for c in table.columns if c != "language"}
        run_.log_metrics({**summary, **per_lang})
        with atomic_path(paths.predictions("sib", arm)) as tmp:
            preds_df.to_parquet(tmp, index=False)
        with atomic_path(paths.per_language("sib", arm)) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")
        write_json(paths.stage_metrics("sib", arm), {**summary, "mlflow_run_id": run_.run_id})
