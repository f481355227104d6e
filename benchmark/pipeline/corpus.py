"""The texts a run evaluates on: which languages, which items, from the bundle or from upstream.

In ``mini``/``smoke``/``tiny`` the retrieval items *are* the SIB-200 test items (SIB sentences are
FLORES lines), so the evaluate stage embeds them once for both targets. In ``full`` retrieval runs on all 1012
FLORES devtest lines and SIB-200 on its own test items, all read from the upstream snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.config import Params
from benchmark.data import flores, sib
from benchmark.io import BenchmarkError


@dataclass(frozen=True)
class Corpus:
    sentences: pd.DataFrame  # index: FLORES index_id over dev+devtest; one column per language
    labels: pd.DataFrame  # index_id, split, category (SIB-200)
    languages: list[str]
    retrieval_ids: list[int]
    sib_test_ids: list[int]
    # Lines for oracle model selection (benchmark/pipeline/selection.py), disjoint from the evaluated ones.
    selection_ids: list[int]

    def ids(self, split: str) -> list[int]:
        return self.labels.loc[self.labels["split"] == split, "index_id"].astype(int).tolist()


def select_languages(params: Params, available: list[str]) -> list[str]:
    pivot = params.targets.retrieval.pivot
    if params.data.languages == "all":
        langs = list(available)
    else:
        langs = list(params.data.languages)
        unknown = [lang for lang in langs if lang not in available]
        if unknown:
            raise BenchmarkError(f"data.languages: unknown FLORES-200 language code {unknown[0]!r}")
    if pivot not in langs:
        raise BenchmarkError(f"data.languages: must include the retrieval pivot {pivot!r}")
    return langs


def load_corpus(params: Params, data_dir: Path) -> Corpus:
    if params.data.source == "bundle":
        labels = sib.load_labels(data_dir / "bundle")
        langs = select_languages(params, list(flores.LANGUAGES))
        sentences = flores.load_sentences(data_dir / "bundle", langs)
        test_ids = labels.loc[labels["split"] == "test", "index_id"].astype(int).tolist()
        test_ids = test_ids[: params.data.max_sentences]
        dev_ids = labels.loc[labels["split"] == "dev", "index_id"].astype(int).tolist()
        return Corpus(sentences, labels, langs, retrieval_ids=test_ids, sib_test_ids=test_ids,
                      selection_ids=dev_ids[: params.data.max_sentences])

    root = data_dir / "full"
    if not (root / "flores200").is_dir():
        raise BenchmarkError(f"{root}: upstream snapshot missing; run `benchmark fetch` or `dvc pull data.dvc`")
    dev = flores.read_official(root / "flores200", "dev")
    langs = select_languages(params, sorted(dev))
    devtest = flores.read_official(root / "flores200", "devtest", langs)
    sentences = pd.DataFrame({lang: dev[lang] + devtest[lang] for lang in langs})
    sentences.index.name = "index_id"
    labels = sib.read_official(root / "sib200")[["index_id", "split", "category"]]
    n_dev = flores.SPLIT_SIZES["dev"]
    retrieval = list(range(n_dev, n_dev + flores.SPLIT_SIZES["devtest"]))[: params.data.max_sentences]
    test_ids = labels.loc[labels["split"] == "test", "index_id"].astype(int).tolist()
    return Corpus(sentences, labels, langs, retrieval_ids=retrieval, sib_test_ids=test_ids,
                  selection_ids=list(range(n_dev))[: params.data.max_sentences])


def article_metadata(params: Params, data_dir: Path) -> pd.DataFrame:
    """The FLORES article (``url``) of every sentence, the bootstrap's cluster: the bundle's table, or
    the upstream snapshot's ``metadata_{dev,devtest}.tsv`` (which cover every line, not SIB's alone)."""
    if params.data.source == "bundle":
        return flores.load_metadata(data_dir / "bundle")
    return flores.read_official_metadata(data_dir / "full" / "flores200")


def probe_texts(corpus: Corpus, pivot: str) -> dict[str, list[str]]:
    """The SIB probe's training and model-choice texts: ``probe/{train,dev}``, the pivot's SIB lines."""
    return {f"probe/{split}": corpus.sentences.loc[corpus.ids(split), pivot].tolist() for split in ("train", "dev")}


def probe_labels(corpus: Corpus) -> dict[str, np.ndarray]:
    """The SIB categories of :func:`probe_texts`, by split (``train``, ``dev``)."""
    labels = corpus.labels.set_index("index_id")["category"]
    return {split: labels.loc[corpus.ids(split)].to_numpy() for split in ("train", "dev")}
