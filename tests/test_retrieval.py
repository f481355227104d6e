"""xsim on cases small enough to check by hand, and against LASER's own algorithm written out as loops."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.targets.retrieval import retrieve, xsim_error


def test_cosine_retrieval_hand_case() -> None:
    # Query 1 is closer to candidate 2 than to its own translation: one error in three.
    queries = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    candidates = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.2, 1.0]])
    hit = retrieve(queries, candidates, "cosine")
    assert hit.tolist() == [0, 2, 2]
    assert xsim_error(hit) == pytest.approx(1 / 3)


def _laser_xsim_margin(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """LASER source/xsim.py `_score_knn` with margin="ratio", as loops: k-NN by cosine both ways
    (faiss IndexFlatIP on L2-normalised rows), mean of each side's k cosines, ratio margin scored for
    the k neighbours only, argmax among them."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    cos = xn @ yn.T
    idx_xy = [sorted(range(len(y)), key=lambda j: (-cos[i, j], j))[:k] for i in range(len(x))]
    avg_xy = [np.mean([cos[i, j] for j in idx_xy[i]]) for i in range(len(x))]
    avg_yx = [np.mean(sorted(cos[:, j], reverse=True)[:k]) for j in range(len(y))]
    out = []
    for i in range(len(x)):
        scores = [cos[i, j] / ((avg_xy[i] + avg_yx[j]) / 2) for j in idx_xy[i]]
        out.append(idx_xy[i][int(np.argmax(scores))])
    return np.array(out)


def _all_candidates_margin(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """The plausible variant that is *not* LASER's: argmax of the ratio margin over every candidate."""
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    yn = y / np.linalg.norm(y, axis=1, keepdims=True)
    cos = xn @ yn.T
    fwd = np.sort(cos, axis=1)[:, ::-1][:, :k].mean(axis=1)
    bwd = np.sort(cos, axis=0)[::-1][:k].mean(axis=0)
    return np.argmax(cos / ((fwd[:, None] + bwd[None, :]) / 2), axis=1)


def test_margin_takes_the_best_of_the_k_nearest_only() -> None:
    # Query 3's two nearest candidates by cosine are 3 (its translation) and 1; candidate 0 is third
    # by cosine but has the highest margin (its own neighbours are far), so the all-candidates rule
    # retrieves it - an error - while LASER never looks past the k = 2 nearest and gets it right.
    queries = np.array([[2.0, 0, 0], [1, 0, 3], [0, 3, 2], [1, 1, 3]])
    candidates = np.array([[2.0, 3, 3], [0, 0, 1], [0, 3, 3], [1, 2, 2]])
    cos = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        candidates / np.linalg.norm(candidates, axis=1, keepdims=True)).T
    assert set(np.argsort(-cos[3])[:2]) == {1, 3}
    assert retrieve(queries, candidates, "cosine").tolist() == [0, 1, 2, 1]
    assert retrieve(queries, candidates, "margin", k=2).tolist() == [0, 1, 2, 3]
    assert _all_candidates_margin(queries, candidates, 2).tolist() == [0, 1, 2, 0]
    assert xsim_error(retrieve(queries, candidates, "margin", k=2)) == 0.0


def test_margin_matches_laser_loops_where_the_variants_disagree() -> None:
    rng = np.random.default_rng(0)
    disagreements = 0
    for trial in range(40):
        shared = rng.normal(size=(30, 8))  # translations share a component, plus language noise
        x = shared + rng.normal(scale=1.2, size=shared.shape)
        y = shared + rng.normal(scale=1.2, size=shared.shape) + rng.normal(size=(1, 8))
        ours = retrieve(x, y, "margin", k=4)
        np.testing.assert_array_equal(ours, _laser_xsim_margin(x, y, 4), err_msg=f"trial {trial}")
        disagreements += int((ours != _all_candidates_margin(x, y, 4)).any())
    assert disagreements > 0  # the test can tell LASER's rule from the all-candidates one


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
    with pytest.raises(ValueError, match="scoring"):
        retrieve(x, x, "dot")  # type: ignore[arg-type]
