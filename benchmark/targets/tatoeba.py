"""Tatoeba bitext retrieval (LASER v1 test set, as XTREME uses it): each language against its own English.

Unlike FLORES, every language pair has its own English side, so retrieval runs within the pair: the
queries of language X are scored against the English sentences of the X-eng file only.

Scores. **XTREME's accuracy** is eng→X: google-research/xtreme ``third_party/run_retrieval.py``
(task ``tatoeba``, @22b13c6e) calls ``similarity_search(x, y)`` with ``x`` the non-English embeddings
and ``y`` the English ones, and ``utils_retrieve.similarity_search`` adds ``x`` to a faiss
``IndexFlatL2`` of unit vectors and searches it with ``y``: each English sentence retrieves its
nearest non-English sentence (cosine order), and ``evaluate.py`` counts the share that is its
translation. MTEB's Tatoeba accuracy (and the published numbers for multilingual-e5-small) goes the
other way, X→eng (``accuracy_x2eng`` here); the two differ (tests/test_targets.py holds a case).
LASER's xsim margin error both ways completes the set (:mod:`benchmark.targets.retrieval`). Items are
the pairs of one language and no other, so the analysis resamples pairs within each language.

``targets.tatoeba.max_pairs`` keeps the same seeded sample of each language's pairs in every run
(:func:`benchmark.data.tatoeba.sample_ids`, seed :data:`benchmark.data.tatoeba.SAMPLE_SEED`, not the
run's seed), from the bundle and from the upstream files alike; ``index_id`` stays the line number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.config import Params
from benchmark.data import tatoeba
from benchmark.io import BenchmarkError
from benchmark.models.coverage import UNK_THRESHOLD, unk_rate
from benchmark.targets.registry import TargetResult
from benchmark.targets.retrieval import bitext

COLUMNS = ["accuracy", "accuracy_x2eng", "xsim_cosine_x2eng", "xsim_cosine_eng2x", "xsim_margin_x2eng", "xsim_margin_eng2x", "pairs"]


def languages(params: Params) -> list[str]:
    chosen = params.targets.tatoeba.languages
    if chosen == "xtreme":
        return sorted(tatoeba.XTREME_LANGUAGES)
    return list(tatoeba.LANGUAGES) if chosen == "all" else list(chosen)


def pairs(params: Params, data_dir: Path) -> pd.DataFrame:
    """``language, index_id, text, eng``: the bundle's copy (mini/smoke/tiny) or the upstream files (full),
    with ``max_pairs`` the seeded sample of :func:`benchmark.data.tatoeba.sample_ids` (the same for every run)."""
    cfg = params.targets.tatoeba
    if params.data.source == "bundle":
        return tatoeba.load_bundle(data_dir / "bundle", languages(params), cfg.max_pairs)
    folder = data_dir / "full" / "tatoeba"
    if not folder.is_dir():
        raise BenchmarkError(f"{folder}: upstream Tatoeba missing; run `benchmark fetch` (or --mirror)")
    return tatoeba.sample(tatoeba.read_official(folder, languages(params)), cfg.max_pairs)


def check(params: Params, data_dir: Path) -> None:
    """Read and validate every input (stage ``validate`` calls this before any output is deleted)."""
    texts(params, data_dir)


def texts(params: Params, data_dir: Path) -> dict[str, list[str]]:
    table = pairs(params, data_dir)
    out = {}
    for lang, rows in table.groupby("language", sort=True):
        out[f"tatoeba/{lang}"] = rows["text"].tolist()
        out[f"tatoeba/{lang}/eng"] = rows["eng"].tolist()
    return out


def score(params: Params, run: str, emb: dict[str, np.ndarray], data_dir: Path) -> TargetResult:
    table = pairs(params, data_dir)
    k = params.targets.tatoeba.margin_k
    rows, preds = [], []
    for lang, items in table.groupby("language", sort=True):
        ids = items["index_id"].to_numpy()
        errors, pred = bitext(emb[f"tatoeba/{lang}"], emb[f"tatoeba/{lang}/eng"], ids, k)
        rows.append({"language": lang, "accuracy": 1.0 - errors["xsim_cosine_eng2x"],
                     "accuracy_x2eng": 1.0 - errors["xsim_cosine_x2eng"], **errors, "pairs": len(ids)})
        preds.append(pred.assign(language=lang))
    per_language = pd.DataFrame(rows, columns=["language", *COLUMNS])
    predictions = pd.concat(preds, ignore_index=True)
    predictions = predictions[["language", *[c for c in predictions.columns if c != "language"]]]
    summary = {f"mean_{c}": float(per_language[c].mean()) for c in COLUMNS if c != "pairs"}
    xtreme = per_language[per_language["language"].isin(list(tatoeba.XTREME_LANGUAGES))]
    if len(xtreme):
        summary["mean_accuracy_xtreme"] = float(xtreme["accuracy"].mean())
    return TargetResult(per_language, predictions,
                        {**summary, "languages": len(per_language), "items": int(per_language["pairs"].sum())})


def language_groups(params: Params, languages: list[str], data_dir: Path) -> pd.DataFrame:
    """Script and CC-100 membership from :data:`benchmark.data.tatoeba.INFO`; coverage measured on the
    evaluated non-English sentences, with the same <unk> rule as FLORES."""

    table = pairs(params, data_dir)
    info = tatoeba.language_table(languages)
    rates = [unk_rate(table.loc[table["language"] == lang, "text"].tolist()) for lang in languages]
    return pd.DataFrame({"script": info.loc[languages, "script"].to_numpy(), "unk_rate": rates,
                         "covered": np.asarray(rates) < UNK_THRESHOLD,
                         "in_cc100": info.loc[languages, "in_cc100"].to_numpy(bool)},
                        index=pd.Index(languages, name="language"))
