"""FLORES-200 bitext retrieval scored as LASER's xsim: error rate of nearest-neighbour retrieval.

Two scorings, as in LASER's ``source/xsim.py`` (facebookresearch/LASER; Artetxe & Schwenk 2019):

* ``cosine`` ("absolute" in LASER): the candidate with the highest cosine.
* ``margin`` (LASER's default, ``ratio``): each query's k nearest candidates by cosine are rescored by
  ``cos(x, y) / (mean_k cos(x, NN_k(x)) / 2 + mean_k cos(y, NN_k(y)) / 2)`` and the best of *those k*
  is retrieved. A candidate outside the query's k cosine neighbours is never retrieved, however high
  its margin: LASER searches the k-NN (faiss) first and takes the argmax over that short list only.
  Taking the argmax of the margin over all candidates is a different metric (it can pick a hub-averse
  candidate that cosine ranks far down); tests/test_retrieval.py holds a case where the two disagree.

Item i in one language is the translation of item i in the other; a query is an error when the
candidate it retrieves is not its translation. Ties (exact, in float64) go to the lower index, where
faiss leaves them unspecified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

Scoring = Literal["cosine", "margin"]
SCORINGS: tuple[Scoring, ...] = ("cosine", "margin")


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def retrieve(queries: np.ndarray, candidates: np.ndarray, scoring: Scoring, k: int = 4) -> np.ndarray:
    """Index of the candidate each query retrieves under ``scoring`` (LASER's xsim rule, see module doc)."""
    if len(queries) != len(candidates):
        raise ValueError(f"xsim needs aligned sets, got {len(queries)} queries and {len(candidates)} candidates")
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}")
    sim = _normalize(queries) @ _normalize(candidates).T  # float64: near-ties are not decided by rounding
    order = np.argsort(-sim, axis=1, kind="stable")  # by cosine, ties to the lower index
    if scoring == "cosine":
        return order[:, 0]
    kq, kc = min(k, sim.shape[1]), min(k, sim.shape[0])
    nearest = order[:, :kq]  # each query's k nearest candidates: the only ones margin may retrieve
    near_sim = np.take_along_axis(sim, nearest, axis=1)
    fwd = near_sim.mean(axis=1)  # query -> its k nearest candidates
    bwd = -np.partition(-sim, kc - 1, axis=0)[:kc, :].mean(axis=0)  # candidate -> its k nearest queries
    margin = near_sim / ((fwd[:, None] + bwd[nearest]) / 2.0)
    return nearest[np.arange(len(nearest)), np.argmax(margin, axis=1)]


def xsim_error(retrieved: np.ndarray) -> float:
    """Fraction of queries whose retrieved index is not their own (LASER's xsim error rate)."""
    retrieved = np.asarray(retrieved)
    return float(np.mean(retrieved != np.arange(len(retrieved))))


DIRECTIONS = ("x2eng", "eng2x")


def bitext(x: np.ndarray, eng: np.ndarray, ids: np.ndarray, k: int) -> tuple[dict[str, float], pd.DataFrame]:
    """One language against its English side, both directions and both scorings.

    Returns the xsim error rates (``xsim_<scoring>_<direction>``) and one prediction row per query,
    direction and scoring: ``direction``, ``scoring``, ``index_id``, ``retrieved_id``, ``correct``.
    XTREME's Tatoeba accuracy and P@1 are ``1 - xsim_cosine_x2eng``: the cosine nearest neighbour.
    """
    import pandas as pd

    errors, rows = {}, []
    for direction, (queries, candidates) in zip(DIRECTIONS, ((x, eng), (eng, x))):
        for scoring in SCORINGS:
            hit = retrieve(queries, candidates, scoring, k)
            errors[f"xsim_{scoring}_{direction}"] = xsim_error(hit)
            rows.append(pd.DataFrame({"direction": direction, "scoring": scoring, "index_id": ids,
                                      "retrieved_id": ids[hit], "correct": hit == np.arange(len(ids))}))
    return errors, pd.concat(rows, ignore_index=True)
