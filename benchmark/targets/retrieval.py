"""FLORES-200 bitext retrieval scored as LASER's xsim: error rate of nearest-neighbour retrieval.

Two scorings (Artetxe & Schwenk 2019): plain cosine, and the margin *ratio*
``cos(x, y) / (mean_k cos(x, NN_k(x)) / 2 + mean_k cos(y, NN_k(y)) / 2)`` with k = 4, which
discounts "hub" sentences that are close to everything. Item i in one language is the translation of
item i in the other; a query is an error when its top candidate is not its translation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Scoring = Literal["cosine", "margin"]
SCORINGS: tuple[Scoring, ...] = ("cosine", "margin")


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def score_matrix(queries: np.ndarray, candidates: np.ndarray, scoring: Scoring, k: int = 4) -> np.ndarray:
    """Scores [n_queries, n_candidates]; float64 so that near-ties are not decided by rounding."""
    sim = _normalize(queries) @ _normalize(candidates).T
    if scoring == "cosine":
        return sim
    if scoring != "margin":
        raise ValueError(f"unknown scoring {scoring!r}")
    kq = min(k, sim.shape[1])
    kc = min(k, sim.shape[0])
    # Mean similarity of each query to its k nearest candidates, and of each candidate to its k
    # nearest queries (np.partition: order within the top k is irrelevant for a mean).
    knn_q = -np.partition(-sim, kq - 1, axis=1)[:, :kq].mean(axis=1)
    knn_c = -np.partition(-sim, kc - 1, axis=0)[:kc, :].mean(axis=0)
    return sim / ((knn_q[:, None] + knn_c[None, :]) / 2.0)


def retrieve(queries: np.ndarray, candidates: np.ndarray, scoring: Scoring, k: int = 4) -> np.ndarray:
    """Index of the best candidate for every query (first index on exact ties)."""
    if len(queries) != len(candidates):
        raise ValueError(f"xsim needs aligned sets, got {len(queries)} queries and {len(candidates)} candidates")
    return np.argmax(score_matrix(queries, candidates, scoring, k), axis=1)


def xsim_error(retrieved: np.ndarray) -> float:
    """Fraction of queries whose retrieved index is not their own (LASER's xsim error rate)."""
    retrieved = np.asarray(retrieved)
    return float(np.mean(retrieved != np.arange(len(retrieved))))
