"""`benchmark params --plan`: the cost model (the step itself is timed by the command, not here)."""

from __future__ import annotations

from benchmark.config import resolve
from benchmark.plan import XLMR_LARGE, mlm_head_flops_per_token, phases, train_flops_per_token


def test_xlmr_large_flops_per_token_follow_kaplan() -> None:
    # 24 layers x (4 d^2 attention + 2 d x 4d feed-forward) = 302M non-embedding parameters.
    non_embedding = 24 * (4 * 1024**2 + 2 * 1024 * 4096)
    assert non_embedding == 301_989_888
    assert train_flops_per_token(XLMR_LARGE, 128) == 6 * non_embedding + 6 * 24 * 128 * 1024


def test_full_phases_are_the_profiles_budget() -> None:
    full = resolve({"profile": "full"})
    got = {p.name: (p.runs, p.steps, p.rows, p.length, p.tokens) for p in phases(full)}
    assert got == {
        "intermediate task": (54, 5000, 128, 128, 81_920_000),
        "intermediate task (MLM: + its 250k decoder)": (6, 5000, 128, 128, 81_920_000),  # 2 MLM arms x 3 seeds
        "SIB-200 fine-tuning": (61, 200, 32, 512, 3_276_800),
        # XTREME's recipes (benchmark/data/xtreme.py RECIPES): epochs x English train / 32, rounded up;
        # SQuAD's one fine-tune serves XQuAD and MLQA; Belebele (no XTREME recipe: the block's budget) is
        # not in full's list until its English training set has a reader.
        "XTREME fine-tuning: xnli": (61, 61_360, 32, 128, 251_330_560),  # 5 x 392,702 / 32
        "XTREME fine-tuning: pawsx": (61, 7_719, 32, 128, 31_617_024),  # 5 x 49,401 / 32
        "XTREME fine-tuning: udpos": (61, 6_642, 32, 128, 27_205_632),  # 10 x 21,253 / 32
        "XTREME fine-tuning: panx": (61, 6_250, 32, 128, 25_600_000),  # 10 x 20,000 / 32
        "XTREME fine-tuning: xquad+mlqa": (61, 8_213, 32, 384, 100_921_344),  # 3 x 87,599 / 32
        "XTREME fine-tuning: tydiqa": (61, 347, 32, 384, 4_263_936),  # 3 x 3,696 / 32
    }
    belebele = resolve({"profile": "full", "targets": {"xtreme": {"tasks": ["belebele"]}}})
    assert [(p.name, p.steps, p.tokens) for p in phases(belebele) if p.name.startswith("XTREME")] == [
        ("XTREME fine-tuning: belebele", 24_000, 294_912_000)]
    fixed = resolve({"profile": "full", "targets": {"xtreme": {"recipe": "fixed"}}})
    assert {p.steps for p in phases(fixed) if p.name.startswith("XTREME")} == {24_000}
    off = resolve({"profile": "full", "targets": {"xtreme": {"tasks": []}}})
    assert [p.name for p in phases(off)] == ["intermediate task", "intermediate task (MLM: + its 250k decoder)",
                                             "SIB-200 fine-tuning"]


def test_the_mlm_head_is_counted_at_the_masked_tokens() -> None:
    # transform (1024 x 1024) and decoder (1024 x 250,002 pieces), 6 FLOPs per weight, at 15 % of tokens
    assert mlm_head_flops_per_token(XLMR_LARGE) == 6 * (1024**2 + 1024 * 250_002) * 0.15
    assert round(mlm_head_flops_per_token(XLMR_LARGE) / train_flops_per_token(XLMR_LARGE, 128), 3) == 0.126
