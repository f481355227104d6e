"""A toy target, declared outside the package the way a plugin declares one (tests/test_extending.py
installs it under the entry-point group ``benchmark.targets``): its spec, its params block, what it
embeds and how it scores, all in this one module, and its block ``targets.toy`` in the conf.

What it measures: on the first ``lines`` evaluated FLORES lines, whether each language's sentence
finds its pivot translation as the cosine nearest neighbour (P@1, X→pivot); items are parallel, so
the analysis's bootstrap draws FLORES articles jointly across languages, as for FLORES retrieval.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from pydantic import Field

from benchmark.data import flores
from benchmark.models.coverage import language_groups as flores_groups
from benchmark.profiles import PROFILES
from benchmark.schema import declare
from benchmark.targets.corpus import load_corpus
from benchmark.targets.retrieval import retrieve
from benchmark.targets.spec import Context, Score, TargetConfig, TargetResult, TargetSpec


class Config(TargetConfig):
    lines: Annotated[int, Field(ge=2)]


SPEC = declare(
    TargetSpec,
    name="toy", display="Toy pivot P@1", dataset=flores.FLORES200,
    embeds="the first `lines` evaluated FLORES lines in every language",
    protocol="zero-shot retrieval", predictions=("language", "index_id", "retrieved_id", "correct"),
    scores=(Score(name="toy_p_at_1", display="Toy P@1 X→pivot", column="p_at_1", higher_is_better=True,
                  item="correct"),),
    main_score="toy_p_at_1", items="parallel",
    resampled="FLORES articles (every sentence of a source URL together), the same draw in every language",
    profiles=PROFILES, module=__name__, config=Config,
)


def _ids(cfg: Config, ctx: Context) -> tuple[list[str], list[int], pd.DataFrame]:
    corpus = load_corpus(ctx)
    return corpus.languages, corpus.retrieval_ids[: cfg.lines], corpus.sentences


def check(cfg: Config, ctx: Context) -> None:
    texts(cfg, ctx)


def texts(cfg: Config, ctx: Context) -> dict[str, list[str]]:
    languages, ids, sentences = _ids(cfg, ctx)
    return {f"toy/{lang}": sentences.loc[ids, lang].tolist() for lang in languages}


def score(cfg: Config, ctx: Context, run: str, emb: dict[str, np.ndarray]) -> TargetResult:
    languages, ids, _ = _ids(cfg, ctx)
    rows, preds = [], []
    for lang in languages:
        if lang == ctx.pivot:
            continue
        hit = retrieve(emb[f"toy/{lang}"], emb[f"toy/{ctx.pivot}"], "cosine")
        correct = hit == np.arange(len(ids))
        rows.append({"language": lang, "p_at_1": float(correct.mean())})
        preds.append(pd.DataFrame({"language": lang, "index_id": ids, "retrieved_id": np.asarray(ids)[hit],
                                   "correct": correct}))
    table = pd.DataFrame(rows)
    return TargetResult(table, pd.concat(preds, ignore_index=True),
                        {"mean_p_at_1": float(table["p_at_1"].mean()), "languages": len(table), "items": len(ids)})


def language_groups(cfg: Config, ctx: Context, languages: list[str]) -> pd.DataFrame:
    return flores_groups(languages, ctx.data_dir / "bundle", workers=ctx.runtime.threads)
