"""SIB-200 zero-shot topic accuracy, trained on English only, tested in every language: what it reads
and embeds, and how its languages group. The scoring (a probe, and optionally SIB-200's fine-tuning,
which runs the training loop) is :mod:`benchmark.targets.sib_score`: only stage ``evaluate`` runs it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.config import Params
from benchmark.models.coverage import language_groups as flores_groups
from benchmark.targets.corpus import load_corpus, probe_texts


def check(params: Params, data_dir: Path) -> None:
    """Read and validate every input (stage ``validate`` calls this before any output is deleted)."""
    texts(params, data_dir)


def texts(params: Params, data_dir: Path) -> dict[str, list[str]]:
    corpus = load_corpus(params, data_dir)
    ids = corpus.sib_test_ids
    groups = {f"sib/{lang}": corpus.sentences.loc[ids, lang].tolist() for lang in corpus.languages}
    pivot = params.targets.retrieval.pivot
    return groups | {f"sib/{name}": t for name, t in probe_texts(corpus, pivot).items()}


def describe(params: Params) -> str:
    cfg = params.targets.sib
    return (f"SIB-200 logistic-regression probe on frozen embeddings, trained on English train only, C from "
            f"{list(cfg.c_grid)} chosen by English dev log-loss"
            + ("; SIB-200's fine-tuning protocol beside it" if cfg.finetune
               else "; SIB-200's fine-tuning protocol is off in this profile (`targets.sib.finetune`)"))


def language_groups(params: Params, languages: list[str], data_dir: Path) -> pd.DataFrame:
    return flores_groups(languages, data_dir / "bundle", workers=params.runtime.threads)
