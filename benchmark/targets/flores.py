"""FLORES-200 bitext retrieval: every language against the pivot (eng_Latn), LASER's xsim both ways.

Items are parallel: index_id i is one sentence in every language, so a run's errors form one
language x item grid and the bootstrap draws FLORES articles jointly across languages.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.config import Params
from benchmark.models.coverage import language_groups as flores_groups
from benchmark.targets.corpus import article_metadata, load_corpus
from benchmark.targets.registry import TargetResult
from benchmark.targets.retrieval import bitext

XSIM = ("xsim_cosine_x2eng", "xsim_cosine_eng2x", "xsim_margin_x2eng", "xsim_margin_eng2x")
COLUMNS = [*XSIM, "p_at_1_x2eng", "p_at_1_eng2x"]  # P@1: accuracy of cosine retrieval (Tatoeba/XTREME style)


def check(params: Params, data_dir: Path) -> None:
    """Read and validate every input (stage ``validate`` calls this before any output is deleted)."""
    texts(params, data_dir)
    article_metadata(params, data_dir)  # the analysis's bootstrap clusters


def texts(params: Params, data_dir: Path) -> dict[str, list[str]]:
    corpus = load_corpus(params, data_dir)
    ids = corpus.retrieval_ids
    return {f"flores/{lang}": corpus.sentences.loc[ids, lang].tolist() for lang in corpus.languages}


def xsim_table(emb: dict[str, np.ndarray], ids: np.ndarray, pivot: str, k: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-language xsim and P@1 of every ``emb[lang]`` against ``emb[pivot]``, and per-item predictions."""
    rows, preds = [], []
    for lang in sorted(emb):
        if lang == pivot:
            continue
        errors, pred = bitext(emb[lang], emb[pivot], ids, k)
        rows.append({"language": lang, **errors, "p_at_1_x2eng": 1.0 - errors["xsim_cosine_x2eng"],
                     "p_at_1_eng2x": 1.0 - errors["xsim_cosine_eng2x"]})
        preds.append(pred.assign(language=lang))
    table = pd.DataFrame(rows, columns=["language", *COLUMNS])
    predictions = pd.concat(preds, ignore_index=True)
    return table, predictions[["language", *[c for c in predictions.columns if c != "language"]]]


def score(params: Params, run: str, emb: dict[str, np.ndarray], data_dir: Path) -> TargetResult:
    corpus = load_corpus(params, data_dir)
    cfg = params.targets.retrieval
    vectors = {lang: emb[f"flores/{lang}"] for lang in corpus.languages}
    table, preds = xsim_table(vectors, np.asarray(corpus.retrieval_ids), cfg.pivot, cfg.margin_k)
    summary = {f"mean_{c}": float(table[c].mean()) for c in COLUMNS}
    return TargetResult(table, preds, {**summary, "languages": len(table), "items": len(corpus.retrieval_ids)})


def describe(params: Params) -> str:
    cfg = params.targets.retrieval
    return (f"xsim error (LASER) with cosine and ratio-margin scoring (k={cfg.margin_k}) against "
            f"`{cfg.pivot}`")


def language_groups(params: Params, languages: list[str], data_dir: Path) -> pd.DataFrame:
    return flores_groups(languages, data_dir / "bundle", workers=params.runtime.threads)
