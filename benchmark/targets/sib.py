"""SIB-200 zero-shot topic accuracy, trained on English only, tested in every language: what it reads
and embeds, and how its languages group. The scoring (a probe, and optionally SIB-200's fine-tuning,
which runs the training loop) is :mod:`benchmark.targets.sib_score`: only stage ``evaluate`` runs it.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from pydantic import Field

from benchmark.blocks import Count
from benchmark.data import sib
from benchmark.models.coverage import language_groups as flores_groups
from benchmark.profiles import PROFILES
from benchmark.schema import declare
from benchmark.targets.corpus import load_corpus, probe_texts
from benchmark.targets.spec import Context, English, FineTuning, Score, TargetConfig, TargetSpec


class Config(TargetConfig):
    c_grid: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)]
    max_iter: Annotated[int, Field(ge=10)]
    finetune: bool
    finetune_steps: Count
    finetune_batch_size: Annotated[int, Field(ge=2)]
    finetune_lr: Annotated[float, Field(gt=0)]


SPEC = declare(
    TargetSpec,
    name="sib", display="SIB-200 topic probe", dataset=sib.SIB200,
    embeds="the SIB-200 test sentences in every language, and English train/dev for the probe",
    protocol="frozen-encoder probe trained on English",
    predictions=("language", "index_id", "label", "predicted"),
    scores=(Score(name="sib_accuracy", display="SIB-200 probe accuracy", column="accuracy",
                  higher_is_better=True, item="label_match"),),
    main_score="sib_accuracy", items="parallel",
    resampled="FLORES articles (every sentence of a source URL together), the same draw in every language",
    profiles=PROFILES, module=__name__, scorer="benchmark.targets.sib_score", config=Config,
    summary_extra=("english_test_accuracy", "english_dev_accuracy"),
    english=English(short="SIB", keys={"eng dev": "english_dev_accuracy", "eng test": "english_test_accuracy"}),
)


def check(cfg: Config, ctx: Context) -> None:
    """Read and validate every input (stage ``validate`` calls this before any output is deleted)."""
    texts(cfg, ctx)


def texts(cfg: Config, ctx: Context) -> dict[str, list[str]]:
    corpus = load_corpus(ctx)
    ids = corpus.sib_test_ids
    groups = {f"sib/{lang}": corpus.sentences.loc[ids, lang].tolist() for lang in corpus.languages}
    return groups | {f"sib/{name}": t for name, t in probe_texts(corpus, ctx.pivot).items()}


def describe(cfg: Config) -> str:
    return (f"SIB-200 logistic-regression probe on frozen embeddings, trained on English train only, C from "
            f"{list(cfg.c_grid)} chosen by English dev log-loss"
            + ("; SIB-200's fine-tuning protocol beside it" if cfg.finetune
               else "; SIB-200's fine-tuning protocol is off in this profile (`targets.sib.finetune`)"))


def fine_tuning(cfg: Config, ctx: Context) -> list[FineTuning]:
    return [FineTuning("SIB-200 fine-tuning", cfg.finetune_steps, cfg.finetune_batch_size,
                       ctx.encoder.max_length)] if cfg.finetune else []


def language_groups(cfg: Config, ctx: Context, languages: list[str]) -> pd.DataFrame:
    return flores_groups(languages, ctx.data_dir / "bundle", workers=ctx.runtime.threads)
