"""Which of a run's checkpoints it exports: model selection by one of two protocols.

With ``training.selection: final`` (``mini`` and below) the final checkpoint is the model and nothing
is chosen. Otherwise every checkpoint (one each ``training.checkpoint_every`` steps) is a candidate
and each is scored both ways, whichever protocol then picks the exported model:

* ``english_dev`` - the zero-shot protocol: SIB-200 English dev accuracy of the probe fit on English
  train (the target stage's own probe); no target-language text is seen.
* ``oracle_dev`` - the upper bound that peeks at the targets: X->eng xsim error (margin scoring) on
  FLORES lines disjoint from the evaluated ones (``Corpus.selection_ids``: FLORES dev in ``full``,
  the SIB-200 dev items elsewhere), macro-averaged over every target language.

Both scores of every candidate go to the run's metrics, so the report shows both protocols' choices
side by side; the other protocol's test numbers are one ``dvc exp run -S training.selection=...``
away (it resumes from the kept checkpoints instead of retraining).
"""

from __future__ import annotations

import numpy as np

from benchmark.config import Params
from benchmark.models.encoder import Encoder
from benchmark.pipeline.embeddings import split_rows
from benchmark.targets.corpus import Corpus, probe_labels, probe_texts
from benchmark.targets.retrieval import retrieve, xsim_error
from benchmark.targets.sib_probe import english_probe

PROTOCOLS = ("english_dev", "oracle_dev")


def dev_scores(encoder: Encoder, params: Params, corpus: Corpus) -> dict[str, float]:
    """Both protocols' scores of ``encoder`` as it is now (higher is better for both), and the
    English dev log-loss of the probe."""
    pivot, cfg = params.pivot, params.encoder
    groups = probe_texts(corpus, pivot)
    groups |= {lang: corpus.sentences.loc[corpus.selection_ids, lang].tolist() for lang in corpus.languages}
    flat = encoder.embed([t for g in groups.values() for t in g], prefix=cfg.prefix, batch_size=cfg.batch_size,
                         batch_tokens=cfg.batch_tokens)
    emb = split_rows(flat, groups)
    sib = params.targets.sib
    probe = english_probe(emb, probe_labels(corpus), sib.c_grid, sib.max_iter, params.seed)
    k = params.targets.retrieval.margin_k
    errors = [xsim_error(retrieve(emb[lang], emb[pivot], "margin", k)) for lang in corpus.languages if lang != pivot]
    # The log-loss rides along: continuous, it shows candidates apart when their accuracies tie.
    return {"english_dev": probe.dev_accuracy, "oracle_dev": 1.0 - float(np.mean(errors)),
            "english_dev_log_loss": probe.dev_log_loss}


def choose(candidates: list[dict[str, float]], protocol: str) -> int:
    """The step of the best candidate by ``protocol``; ties go to the earliest step (fewest updates)."""
    best = max(candidates, key=lambda c: (c[protocol], -c["step"]))
    return int(best["step"])

