"""Stage ``retrieval@<arm>``: FLORES-200 xsim against the pivot (eng_Latn), both directions, both scorings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.config import Params
from benchmark.io import atomic_path, write_json
from benchmark.pipeline import paths
from benchmark.pipeline.embeddings import load_embeddings
from benchmark.targets.retrieval import SCORINGS, retrieve, xsim_error
from benchmark.tracking import stage_run

# Column names of the per-language table; P@1 is Tatoeba/XTREME-style accuracy of cosine retrieval.
COLUMNS = [f"xsim_{s}_{d}" for s in SCORINGS for d in ("x2eng", "eng2x")] + ["p_at_1_x2eng", "p_at_1_eng2x"]
PRIMARY = "xsim_margin_x2eng"


def evaluate(emb: dict[str, np.ndarray], pivot: str, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-language scores and per-item predictions (retrieved index_id for every query)."""
    ids = emb["ids"]
    langs = sorted(name.removeprefix("lang/") for name in emb if name.startswith("lang/"))
    eng = emb[f"lang/{pivot}"]
    rows, preds = [], []
    for lang in langs:
        if lang == pivot:
            continue
        x = emb[f"lang/{lang}"]
        row: dict[str, object] = {"language": lang}
        for direction, (queries, candidates) in {"x2eng": (x, eng), "eng2x": (eng, x)}.items():
            for scoring in SCORINGS:
                hit = retrieve(queries, candidates, scoring, k)
                row[f"xsim_{scoring}_{direction}"] = xsim_error(hit)
                preds.append(pd.DataFrame({
                    "language": lang, "direction": direction, "scoring": scoring,
                    "index_id": ids, "retrieved_id": ids[hit], "correct": hit == np.arange(len(ids)),
                }))
            row[f"p_at_1_{direction}"] = 1.0 - float(row[f"xsim_cosine_{direction}"])
        rows.append(row)
    return pd.DataFrame(rows, columns=["language", *COLUMNS]), pd.concat(preds, ignore_index=True)


def run(params: Params, arm: str) -> None:
    emb = load_embeddings(paths.embeddings(arm))
    cfg = params.targets.retrieval
    table, preds = evaluate(emb, cfg.pivot, cfg.margin_k)
    macro = {f"mean_{c}": float(table[c].mean()) for c in COLUMNS}
    with stage_run(f"retrieval/{arm}", params, "cpu", tags={"arm": arm, "target": "flores_retrieval"}) as run_:
        per_lang = {f"{c}.{r.language}": float(getattr(r, c)) for r in table.itertuples() for c in COLUMNS}
        run_.log_metrics({**macro, **per_lang, "languages": len(table), "items": len(emb["ids"])})
        with atomic_path(paths.predictions("retrieval", arm)) as tmp:
            preds.to_parquet(tmp, index=False)
        with atomic_path(paths.per_language("retrieval", arm)) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6f")
        write_json(paths.stage_metrics("retrieval", arm),
                   {**macro, "languages": len(table), "items": int(len(emb["ids"])), "mlflow_run_id": run_.run_id})
