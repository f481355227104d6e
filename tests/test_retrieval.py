"""xsim on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.targets.retrieval import retrieve, score_matrix, xsim_error


def test_cosine_retrieval_hand_case() -> None:
    # Query 1 is closer to candidate 2 than to its own translation: one error in three.
    queries = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    candidates = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.2, 1.0]])
    hit = retrieve(queries, candidates, "cosine")
    assert hit.tolist() == [0, 2, 2]
    assert xsim_error(hit) == pytest.approx(1 / 3)


def test_margin_ratio_matches_laser_formula() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    k = 2
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    cos = xn @ yn.T
    expected = np.empty_like(cos)
    for i in range(6):
        for j in range(6):
            fwd = np.sort(cos[i])[::-1][:k].mean()
            bwd = np.sort(cos[:, j])[::-1][:k].mean()
            expected[i, j] = cos[i, j] / (fwd / 2 + bwd / 2)
    np.testing.assert_allclose(score_matrix(x, y, "margin", k), expected, rtol=1e-12)


def test_margin_fixes_a_hub() -> None:
    # Candidate 0 is a hub: query 1 prefers it to its own translation under cosine; the margin,
    # which divides by each candidate's mean similarity to its k nearest queries, does not.
    queries = np.array([[-0.5, 0.1], [-0.2, 1.8], [0.2, -1.9]])
    candidates = np.array([[0.4, 1.9], [0.7, 0.9], [0.0, -2.0]])
    assert retrieve(queries, candidates, "cosine").tolist() == [0, 0, 2]
    assert retrieve(queries, candidates, "margin", k=2).tolist() == [0, 1, 2]


def test_perfect_and_misaligned() -> None:
    x = np.eye(4)
    assert xsim_error(retrieve(x, x, "margin")) == 0.0
    with pytest.raises(ValueError, match="aligned"):
        retrieve(x, x[:3], "cosine")
