"""Stage ``sib@<arm>``: SIB-200 zero-shot topic accuracy with a frozen-encoder probe trained on English."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.config import Params
from benchmark.io import atomic_path, write_json
from benchmark.pipeline import paths
from benchmark.pipeline.corpus import load_corpus
from benchmark.pipeline.embeddings import load_embeddings
from benchmark.targets.sib_probe import fit_probe
from benchmark.tracking import stage_run


def run(params: Params, arm: str) -> None:
    emb = load_embeddings(paths.embeddings(arm))
    corpus = load_corpus(params, paths.DATA)
    labels = corpus.labels.set_index("index_id")["category"]
    y = {split: labels.loc[corpus.ids(split)].to_numpy() for split in ("train", "dev")}
    cfg = params.targets.sib
    probe = fit_probe(emb["probe/train"], y["train"], emb["probe/dev"], y["dev"],
                      cfg.c_grid, cfg.max_iter, params.seed)

    ids = emb["ids"]
    test_mask = np.isin(ids, corpus.sib_test_ids)
    test_ids = ids[test_mask]
    gold = labels.loc[test_ids].to_numpy()
    rows, preds = [], []
    for lang in corpus.languages:
        predicted = probe.predict(emb[f"lang/{lang}"][test_mask])
        rows.append({"language": lang, "accuracy": float(np.mean(predicted == gold))})
        preds.append(pd.DataFrame({"language": lang, "index_id": test_ids, "label": gold, "predicted": predicted}))
    table = pd.DataFrame(rows)
    preds_df = pd.concat(preds, ignore_index=True)
    pivot = params.targets.retrieval.pivot
    summary = {
        "mean_accuracy": float(table["accuracy"].mean()),
        "english_test_accuracy": float(table.set_index("language").loc[pivot, "accuracy"]),
        "english_dev_accuracy": probe.dev_accuracy,
        "english_train_accuracy": probe.train_accuracy,
        "probe_c": probe.c,
        "languages": len(table),
        "items": int(test_mask.sum()),
    }
    with stage_run(f"sib/{arm}", params, "cpu", tags={"arm": arm, "target": "sib200_probe"}) as run_:
        run_.log_metrics({**summary, **{f"accuracy.{r.language}": r.accuracy for r in table.itertuples()}})
        with atomic_path(paths.predictions("sib", arm)) as tmp:
            preds_df.to_parquet(tmp, index=False)
        with atomic_path(paths.per_language("sib", arm)) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")
        write_json(paths.stage_metrics("sib", arm), {**summary, "mlflow_run_id": run_.run_id})
