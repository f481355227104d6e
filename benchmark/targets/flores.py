"""FLORES-200 bitext retrieval: every language against the pivot (eng_Latn), LASER's xsim both ways.

Items are parallel: index_id i is one sentence in every language, so a run's errors form one
language x item grid and the bootstrap draws FLORES articles jointly across languages.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmark.blocks import Count
from benchmark.data import flores
from benchmark.models.coverage import language_groups as flores_groups
from benchmark.profiles import PROFILES
from benchmark.schema import declare
from benchmark.targets.corpus import article_metadata, load_corpus
from benchmark.targets.retrieval import bitext
from benchmark.targets.spec import RETRIEVAL_PREDICTIONS, Context, TargetConfig, TargetResult, TargetSpec, xsim_score

XSIM = ("xsim_cosine_x2eng", "xsim_cosine_eng2x", "xsim_margin_x2eng", "xsim_margin_eng2x")
COLUMNS = [*XSIM, "p_at_1_x2eng", "p_at_1_eng2x"]  # P@1: accuracy of cosine retrieval (Tatoeba/XTREME style)


class Config(TargetConfig):
    pivot: str  # checked against FLORES-200's codes and data.languages by benchmark.config.Params
    margin_k: Count


SPEC = declare(
    TargetSpec,
    # Named ``retrieval`` (its outputs' folder) since before Tatoeba joined: read "FLORES-200 retrieval".
    name="retrieval", display="FLORES-200 retrieval", dataset=flores.FLORES200,
    embeds="the evaluated FLORES-200 lines in every language (in mini/smoke/tiny: the SIB-200 test "
           "sentences), mean-pooled",
    protocol="zero-shot retrieval", predictions=RETRIEVAL_PREDICTIONS,
    scores=tuple(xsim_score("", scoring, direction, "FLORES")
                 for scoring in ("margin", "cosine") for direction in ("x2eng", "eng2x")),
    main_score="xsim_margin_x2eng", items="parallel",
    resampled="FLORES articles (every sentence of a source URL together), the same draw in every language",
    profiles=PROFILES, module=__name__, config=Config,
)


def check(cfg: Config, ctx: Context) -> None:
    """Read and validate every input (stage ``validate`` calls this before any output is deleted)."""
    texts(cfg, ctx)
    article_metadata(ctx)  # the analysis's bootstrap clusters


def texts(cfg: Config, ctx: Context) -> dict[str, list[str]]:
    corpus = load_corpus(ctx)
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


def score(cfg: Config, ctx: Context, run: str, emb: dict[str, np.ndarray]) -> TargetResult:
    corpus = load_corpus(ctx)
    vectors = {lang: emb[f"flores/{lang}"] for lang in corpus.languages}
    table, preds = xsim_table(vectors, np.asarray(corpus.retrieval_ids), cfg.pivot, cfg.margin_k)
    summary = {f"mean_{c}": float(table[c].mean()) for c in COLUMNS}
    return TargetResult(table, preds, {**summary, "languages": len(table), "items": len(corpus.retrieval_ids)})


def describe(cfg: Config) -> str:
    return (f"xsim error (LASER) with cosine and ratio-margin scoring (k={cfg.margin_k}) against "
            f"`{cfg.pivot}`")


def language_groups(cfg: Config, ctx: Context, languages: list[str]) -> pd.DataFrame:
    return flores_groups(languages, ctx.data_dir / "bundle", workers=ctx.runtime.threads)
