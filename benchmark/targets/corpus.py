"""The texts a run evaluates on: which languages, which items, from the bundle or from upstream.

In ``mini``/``smoke``/``tiny`` the retrieval items *are* the SIB-200 test items (SIB sentences are
FLORES lines), so the evaluate stage embeds them once for both targets. In ``full`` retrieval runs on all 1012
FLORES devtest lines and SIB-200 on its own test items, all read from the upstream snapshot.

The positive control (:data:`benchmark.arms.ARMS` ``parallel-contrastive``) trains on the translations of
the lines no target scores and nothing selects on (:attr:`Corpus.parallel_ids`): in the bundle, the SIB-200
lines outside the evaluated test items, the probe's train/dev items and the selection lines (``mini``: the
second 102 of the 204 test items); upstream, the second half of FLORES dev outside SIB-200 (the first half
is the oracle selection's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.data import flores, sib
from benchmark.io import BenchmarkError
from benchmark.targets.spec import Context

HELDOUT_SHARE = 5  # one article in this many holds the positive control's held-out lines


@dataclass(frozen=True)
class Corpus:
    sentences: pd.DataFrame  # index: FLORES index_id over dev+devtest; one column per language
    labels: pd.DataFrame  # index_id, split, category (SIB-200)
    languages: list[str]
    retrieval_ids: list[int]
    sib_test_ids: list[int]
    # Lines for oracle model selection (benchmark/pipeline/selection.py), disjoint from the evaluated ones.
    selection_ids: list[int]
    # The positive control's training lines: disjoint from every line above and from the SIB probe's.
    parallel_ids: list[int]

    def ids(self, split: str) -> list[int]:
        return self.labels.loc[self.labels["split"] == split, "index_id"].astype(int).tolist()


def select_languages(ctx: Context, available: list[str]) -> list[str]:
    pivot = ctx.pivot
    if ctx.data.languages == "all":
        langs = list(available)
    else:
        langs = list(ctx.data.languages)
        unknown = [lang for lang in langs if lang not in available]
        if unknown:
            raise BenchmarkError(f"data.languages: unknown FLORES-200 language code {unknown[0]!r}")
    if pivot not in langs:
        raise BenchmarkError(f"data.languages: must include the retrieval pivot {pivot!r}")
    return langs


def load_corpus(ctx: Context) -> Corpus:
    data_dir = ctx.data_dir
    if ctx.data.source == "bundle":
        labels = sib.load_labels(data_dir / "bundle")
        langs = select_languages(ctx, list(flores.LANGUAGES))
        sentences = flores.load_sentences(data_dir / "bundle", langs)
        test_ids = labels.loc[labels["split"] == "test", "index_id"].astype(int).tolist()
        test_ids = test_ids[: ctx.data.max_sentences]
        dev_ids = labels.loc[labels["split"] == "dev", "index_id"].astype(int).tolist()
        selection = dev_ids[: ctx.data.max_sentences]
        return Corpus(sentences, labels, langs, retrieval_ids=test_ids, sib_test_ids=test_ids, selection_ids=selection,
                      parallel_ids=_unused(labels["index_id"], labels, test_ids, selection))

    root = require_snapshot(data_dir)
    dev = flores.read_official(root / "flores200", "dev")
    langs = select_languages(ctx, sorted(dev))
    devtest = flores.read_official(root / "flores200", "devtest", langs)
    sentences = pd.DataFrame({lang: dev[lang] + devtest[lang] for lang in langs})
    sentences.index.name = "index_id"
    labels = sib.read_official(root / "sib200")[["index_id", "split", "category"]]
    n_dev = flores.SPLIT_SIZES["dev"]
    retrieval = list(range(n_dev, n_dev + flores.SPLIT_SIZES["devtest"]))[: ctx.data.max_sentences]
    test_ids = labels.loc[labels["split"] == "test", "index_id"].astype(int).tolist()
    half = (n_dev + 1) // 2  # FLORES dev: the first half selects checkpoints, the second trains the positive control
    return Corpus(sentences, labels, langs, retrieval_ids=retrieval, sib_test_ids=test_ids,
                  selection_ids=list(range(half))[: ctx.data.max_sentences],
                  parallel_ids=_unused(range(half, n_dev), labels, retrieval, test_ids, range(half)))


def require_snapshot(data_dir: Path) -> Path:
    """``<data_dir>/full``, the upstream snapshot the ``full`` profile reads; a one-line error if absent."""
    root = data_dir / "full"
    if not (root / "flores200").is_dir():
        raise BenchmarkError(f"{root}: upstream snapshot missing; run `benchmark fetch` or `dvc pull data.dvc`")
    return root


def _unused(candidates: Iterable[int], labels: pd.DataFrame, *taken: Iterable[int]) -> list[int]:
    """``candidates`` less every line in ``taken`` (evaluated, selection) and the SIB probe's train/dev items."""
    probe = labels.loc[labels["split"].isin(["train", "dev"]), "index_id"]
    reserved = {int(i) for ids in (*taken, probe) for i in ids}
    return [int(i) for i in candidates if int(i) not in reserved]


def parallel_split(corpus: Corpus, metadata: pd.DataFrame) -> tuple[list[int], list[int]]:
    """The positive control's (training, held-out) lines, by FLORES article (source URL): lines of an
    article that any target scores are left out (sentences of one article share topic and names), and
    a fifth of the rest, by a hash of the URL, is held out whole for its evidence."""
    evaluated = set(metadata.loc[[*corpus.retrieval_ids, *corpus.sib_test_ids], "url"])
    urls = metadata.loc[corpus.parallel_ids, "url"]
    urls = urls[~urls.isin(evaluated)]
    held = urls.map(lambda url: int(hashlib.sha256(str(url).encode()).hexdigest(), 16) % HELDOUT_SHARE == 0)
    return urls.index[~held].astype(int).tolist(), urls.index[held].astype(int).tolist()


def parallel_lines(ctx: Context) -> tuple[Corpus, list[int], list[int]]:
    """(corpus, training lines, held-out lines) of the positive control; a one-line error when there are too
    few for one batch of distinct lines and a held-out set (``validate`` calls it before anything runs)."""
    corpus = load_corpus(ctx)
    train_ids, heldout_ids = parallel_split(corpus, article_metadata(ctx))
    if len(train_ids) < ctx.training.batch_size or len(heldout_ids) < 2:
        raise BenchmarkError(f"positive control: {len(train_ids)} training and {len(heldout_ids)} held-out FLORES lines "
                             "lie outside the evaluated and selection lines and their articles; it needs "
                             f"training.batch_size ({ctx.training.batch_size}) and 2 (lower data.max_sentences "
                             "or the batch size, or drop parallel-contrastive from arms)")
    return corpus, train_ids, heldout_ids


def article_metadata(ctx: Context) -> pd.DataFrame:
    """The FLORES article (``url``) of every sentence, the bootstrap's cluster: the bundle's table, or
    the upstream snapshot's ``metadata_{dev,devtest}.tsv`` (which cover every line, not SIB's alone)."""
    if ctx.data.source == "bundle":
        return flores.load_metadata(ctx.data_dir / "bundle")
    return flores.read_official_metadata(ctx.data_dir / "full" / "flores200")


def probe_texts(corpus: Corpus, pivot: str) -> dict[str, list[str]]:
    """The SIB probe's training and model-choice texts: ``probe/{train,dev}``, the pivot's SIB lines."""
    return {f"probe/{split}": corpus.sentences.loc[corpus.ids(split), pivot].tolist() for split in ("train", "dev")}


def probe_labels(corpus: Corpus) -> dict[str, np.ndarray]:
    """The SIB categories of :func:`probe_texts`, by split (``train``, ``dev``)."""
    labels = corpus.labels.set_index("index_id")["category"]
    return {split: labels.loc[corpus.ids(split)].to_numpy() for split in ("train", "dev")}
