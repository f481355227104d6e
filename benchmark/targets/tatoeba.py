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

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from benchmark.blocks import Count
from benchmark.data import tatoeba
from benchmark.io import BenchmarkError
from benchmark.models.coverage import UNK_THRESHOLD, unk_rate
from benchmark.profiles import PROFILES
from benchmark.schema import declare
from benchmark.targets.retrieval import bitext
from benchmark.targets.spec import (
    RETRIEVAL_PREDICTIONS,
    Context,
    Score,
    TargetConfig,
    TargetResult,
    TargetSpec,
    xsim_score,
)

COLUMNS = ["accuracy", "accuracy_x2eng", "xsim_cosine_x2eng", "xsim_cosine_eng2x", "xsim_margin_x2eng", "xsim_margin_eng2x", "pairs"]


class Config(TargetConfig):
    # "xtreme": XTREME's 36 languages; "all": the 112 of the LASER test set; or a list of LASER codes.
    languages: Literal["xtreme", "all"] | Annotated[list[str], Field(min_length=1)]
    # A seeded sample of n pairs of each language (`benchmark.data.tatoeba.sample_ids`) (None: all, up to 1000). Fewer candidates make retrieval
    # easier: accuracies at different max_pairs are not comparable, nor with published numbers.
    max_pairs: Annotated[int, Field(ge=2)] | None
    margin_k: Count

    @field_validator("languages")
    @classmethod
    def _known(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            for code in value:
                if code not in tatoeba.LANGUAGES:
                    raise ValueError(f"unknown Tatoeba language code {code!r} (LASER's three-letter codes, "
                                     "e.g. 'fra', 'cmn', 'swh')")
            if len(set(value)) != len(value):
                raise ValueError("languages must not repeat")
        return value


SPEC = declare(
    TargetSpec,
    name="tatoeba", display="Tatoeba retrieval", dataset=tatoeba.TATOEBA,
    embeds="both sides of each language's Tatoeba pairs (its own English side), mean-pooled",
    protocol="zero-shot retrieval", predictions=RETRIEVAL_PREDICTIONS,
    # XTREME's accuracy queries with the English side (eng→X): see the module docstring.
    scores=(Score(name="tatoeba_accuracy", display="Tatoeba accuracy (XTREME, eng→X)", column="accuracy",
                  higher_is_better=True, item="correct", where={"direction": "eng2x", "scoring": "cosine"}),
            xsim_score("tatoeba_", "margin", "x2eng", "Tatoeba"), xsim_score("tatoeba_", "margin", "eng2x", "Tatoeba")),
    main_score="tatoeba_accuracy", items="per_language",
    resampled="sentence pairs within each language, independently per language (each language has its own "
              "English side, so no item is shared across languages)",
    profiles=PROFILES, module=__name__, config=Config,
)


def languages(cfg: Config) -> list[str]:
    chosen = cfg.languages
    if chosen == "xtreme":
        return sorted(tatoeba.XTREME_LANGUAGES)
    return list(tatoeba.LANGUAGES) if chosen == "all" else list(chosen)


def pairs(cfg: Config, ctx: Context) -> pd.DataFrame:
    """``language, index_id, text, eng``: the bundle's copy (mini/smoke/tiny) or the upstream files (full),
    with ``max_pairs`` the seeded sample of :func:`benchmark.data.tatoeba.sample_ids` (the same for every run)."""
    if ctx.data.source == "bundle":
        return tatoeba.load_bundle(ctx.data_dir / "bundle", languages(cfg), cfg.max_pairs)
    folder = ctx.data_dir / "full" / "tatoeba"
    if not folder.is_dir():
        raise BenchmarkError(f"{folder}: upstream Tatoeba missing; run `benchmark fetch` (or --mirror)")
    return tatoeba.sample(tatoeba.read_official(folder, languages(cfg)), cfg.max_pairs)


def check(cfg: Config, ctx: Context) -> None:
    """Read and validate every input (stage ``validate`` calls this before any output is deleted)."""
    texts(cfg, ctx)


def texts(cfg: Config, ctx: Context) -> dict[str, list[str]]:
    table = pairs(cfg, ctx)
    out = {}
    for lang, rows in table.groupby("language", sort=True):
        out[f"tatoeba/{lang}"] = rows["text"].tolist()
        out[f"tatoeba/{lang}/eng"] = rows["eng"].tolist()
    return out


def score(cfg: Config, ctx: Context, run: str, emb: dict[str, np.ndarray]) -> TargetResult:
    table = pairs(cfg, ctx)
    k = cfg.margin_k
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


def language_groups(cfg: Config, ctx: Context, languages: list[str]) -> pd.DataFrame:
    """Script and CC-100 membership from :data:`benchmark.data.tatoeba.INFO`; coverage measured on the
    evaluated non-English sentences, with the same <unk> rule as FLORES."""

    table = pairs(cfg, ctx)
    info = tatoeba.language_table(languages)
    rates = [unk_rate(table.loc[table["language"] == lang, "text"].tolist()) for lang in languages]
    return pd.DataFrame({"script": info.loc[languages, "script"].to_numpy(), "unk_rate": rates,
                         "covered": np.asarray(rates) < UNK_THRESHOLD,
                         "in_cc100": info.loc[languages, "in_cc100"].to_numpy(bool)},
                        index=pd.Index(languages, name="language"))
