"""`benchmark params --plan`: the cost model (the step itself is timed by the command, not here)."""

from __future__ import annotations

from benchmark.config import resolve
from benchmark.plan import XLMR_LARGE, phases, train_flops_per_token


def test_xlmr_large_flops_per_token_follow_kaplan() -> None:
    # 24 layers x (4 d^2 attention + 2 d x 4d feed-forward) = 302M non-embedding parameters.
    non_embedding = 24 * (4 * 1024**2 + 2 * 1024 * 4096)
    assert non_embedding == 301_989_888
    assert train_flops_per_token(XLMR_LARGE, 128) == 6 * non_embedding + 6 * 24 * 128 * 1024


def test_full_phases_are_the_profiles_budget() -> None:
    full = resolve({"profile": "full"})
    got = {p.name: (p.runs, p.steps, p.rows, p.length, p.tokens) for p in phases(full)}
    assert got == {
        "intermediate task": (60, 5000, 128, 128, 81_920_000),
        "SIB-200 fine-tuning": (61, 200, 32, 512, 3_276_800),
        "XTREME fine-tuning (8 tasks)": (61, 192_000, 32, 384, 2_359_296_000),
    }
    off = resolve({"profile": "full", "targets": {"xtreme": {"tasks": []}}})
    assert [p.name for p in phases(off)] == ["intermediate task", "SIB-200 fine-tuning"]
