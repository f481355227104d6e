"""Proof that the positive control learned its task: held-out translation retrieval, trained vs pretrained.

On held-out FLORES lines (whole articles the run never trained on), each paired with languages in the
training pool's rotation, every non-English line retrieves its English translation among the held-out
English lines by cosine of the mean-pooled embeddings the targets use (X->eng R@1 over the cells). The same is scored with the pretrained encoder,
and the two are compared cell by cell ((line, language): retrieved right by one and not the other)
with an exact McNemar test. Names: ``heldout.parallel_r1.{trained,frozen_encoder,chance}``,
``heldout.parallel.{lines,cells,trained_only,frozen_only,mcnemar_p,learned}``.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from benchmark.models.encoder import Encoder
from benchmark.training.datasets import Parallel

ALPHA = 0.05  # the gate's level: the trained encoder must beat the pretrained one on the held-out cells


def _hits(encoder: Encoder, data: Parallel, prefix: str, batch_size: int) -> np.ndarray:
    """[items] bool: did each held-out (line, language) retrieve its own English line (R@1)?"""
    queries = [data.other[lang][row] for row, lang in data.items]
    vecs = encoder.embed([*data.english, *queries], prefix=prefix, batch_size=batch_size)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True).clip(1e-12)
    english, queries_v = vecs[: len(data.english)], vecs[len(data.english):]
    truth = np.array([row for row, _ in data.items])
    return (queries_v @ english.T).argmax(axis=1) == truth


def evaluate(trained: Encoder, pretrained: Encoder, data: Parallel, *, prefix: str, batch_size: int) -> dict[str, float]:
    """Held-out evidence of the positive control on ``data`` (held-out lines, each with its languages)."""
    mine = _hits(trained, data, prefix, batch_size)
    base = _hits(pretrained, data, prefix, batch_size)
    trained_only, frozen_only = int((mine & ~base).sum()), int((base & ~mine).sum())
    discordant = trained_only + frozen_only
    p = binomtest(trained_only, discordant, 0.5).pvalue if discordant else 1.0
    return {"heldout.parallel_r1.trained": float(mine.mean()), "heldout.parallel_r1.frozen_encoder": float(base.mean()),
            "heldout.parallel_r1.chance": 1.0 / len(data.english), "heldout.parallel.lines": float(len(data.english)),
            "heldout.parallel.cells": float(mine.size), "heldout.parallel.trained_only": float(trained_only),
            "heldout.parallel.frozen_only": float(frozen_only), "heldout.parallel.mcnemar_p": float(p),
            "heldout.parallel.learned": float(p < ALPHA and trained_only > frozen_only)}
