"""An independent recomputation of the primary margin and its bootstrap CI, in plain numpy with loops.

Nothing from benchmark.analysis.stats is used here: predictions are read back from the parquet files,
replicates are built by literally concatenating the items of the drawn articles, and seeds are
averaged one draw at a time. Only the RNG protocol is shared (it has to be, for the numbers to agree),
as documented in benchmark/analysis/stats.py:

    rng = np.random.default_rng(seed)
    1. rng.integers(0, n_clusters, size=(n_boot, n_clusters))  # clusters = sorted unique article URLs
    2. rng.integers(0, k_t, size=(n_boot, k_t))   # only if the treatment has k_t > 1 seed runs
    3. rng.integers(0, k_c, size=(n_boot, k_c))   # only if the control has k_c > 1 seed runs

with seed runs in seed order (<arm>, <arm>.s1, <arm>.s2, ...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.analysis.margins import PRIMARY_COMPARISON, compute_margins
from benchmark.data.flores import load_metadata

LANGS = ["deu_Latn", "dzo_Tibt", "fra_Latn", "sat_Olck", "swh_Latn", "zho_Hans"]
COVERED = ["deu_Latn", "fra_Latn", "swh_Latn", "zho_Hans"]  # dzo_Tibt, sat_Olck: ~50% <unk>
TREATMENT = ["coco-contrastive", "coco-contrastive.s1", "coco-contrastive.s2"]
CONTROL = ["caption-contrastive", "caption-contrastive.s1"]
SEED, N_BOOT = 11, 2000


def write_predictions(root: Path) -> None:
    ids = load_metadata().index.to_numpy()
    rng = np.random.default_rng(0)
    (root / "retrieval").mkdir(parents=True)
    for r, run in enumerate(TREATMENT + CONTROL):
        base = 0.10 if run.startswith("coco") else 0.16
        frames = []
        for j, lang in enumerate(LANGS):
            for direction in ("x2eng", "eng2x"):
                for scoring in ("cosine", "margin"):
                    correct = rng.random(len(ids)) >= base + 0.05 * j + 0.01 * r
                    frames.append(pd.DataFrame({
                        "language": lang, "direction": direction, "scoring": scoring, "index_id": ids,
                        "retrieved_id": np.where(correct, ids, -1), "correct": correct}))
        # Shuffled rows: the loaders must align by (language, index_id), not by position.
        df = pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=r)
        df.to_parquet(root / "retrieval" / f"{run}.parquet", index=False)


def plain_bootstrap(root: Path, langs: list[str]) -> tuple[float, float, float, dict[str, float]]:
    """(macro margin, ci_low, ci_high, per-language margins), text error - multimodal error."""
    urls = load_metadata()["url"]
    errors: dict[str, dict[str, np.ndarray]] = {}
    for run in TREATMENT + CONTROL:
        df = pd.read_parquet(root / "retrieval" / f"{run}.parquet")
        df = df[(df["direction"] == "x2eng") & (df["scoring"] == "margin")]
        errors[run] = {}
        for lang in langs:
            one = df[df["language"] == lang].set_index("index_id").sort_index()
            assert list(one.index) == sorted(urls.index)
            errors[run][lang] = np.array([0.0 if ok else 1.0 for ok in one["correct"]])
    item_ids = sorted(urls.index)
    articles = sorted(set(urls))
    members = {a: [] for a in articles}
    for pos, index_id in enumerate(item_ids):
        members[urls[index_id]].append(pos)
    cluster_items = [np.array(members[a]) for a in articles]

    per_lang = {}
    for lang in langs:
        t = np.mean([errors[run][lang].mean() for run in TREATMENT])
        c = np.mean([errors[run][lang].mean() for run in CONTROL])
        per_lang[lang] = c - t
    point = float(np.mean([per_lang[lang] for lang in langs]))

    rng = np.random.default_rng(SEED)
    cluster_draws = rng.integers(0, len(articles), size=(N_BOOT, len(articles)))
    treatment_draws = rng.integers(0, len(TREATMENT), size=(N_BOOT, len(TREATMENT)))
    control_draws = rng.integers(0, len(CONTROL), size=(N_BOOT, len(CONTROL)))
    replicates = []
    for r in range(N_BOOT):
        items = np.concatenate([cluster_items[c] for c in cluster_draws[r]])
        margins = []
        for lang in langs:
            t = np.mean([errors[TREATMENT[s]][lang][items].mean() for s in treatment_draws[r]])
            c = np.mean([errors[CONTROL[s]][lang][items].mean() for s in control_draws[r]])
            margins.append(c - t)
        replicates.append(np.mean(margins))
    low, high = np.percentile(replicates, [2.5, 97.5])
    return point, float(low), float(high), per_lang


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    root = tmp_path_factory.mktemp("predictions")
    write_predictions(root)
    summary, per_lang = compute_margins([PRIMARY_COMPARISON], TREATMENT + CONTROL, root=root,
                                        targets=["xsim_margin_x2eng"], n_boot=N_BOOT, seed=SEED)
    return root, summary, per_lang


def test_primary_margin_and_ci_match_plain_numpy(tables: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    root, summary, per_lang = tables
    # The package measured coverage with the real tokenizer; the plain path takes the known answer.
    assert sorted(per_lang.loc[per_lang["covered"], "language"]) == COVERED
    row = summary[summary["role"] == "primary"].iloc[0]
    assert (row["grouping"], row["group"], row["n_languages"]) == ("overall", "covered", 4)
    assert (row["treatment_runs"], row["control_runs"]) == (3, 2)
    point, low, high, by_lang = plain_bootstrap(root, COVERED)
    assert row["margin"] == pytest.approx(point, abs=1e-6)
    assert row["ci_low"] == pytest.approx(low, abs=1e-6)
    assert row["ci_high"] == pytest.approx(high, abs=1e-6)
    assert low < point < high and point > 0.03  # the coco runs err ~6 points less, by construction
    for lang, margin in by_lang.items():
        assert per_lang.set_index("language").loc[lang, "margin"] == pytest.approx(margin, abs=1e-12)


def test_all_languages_macro_matches_plain_numpy(tables: tuple[Path, pd.DataFrame, pd.DataFrame]) -> None:
    root, summary, _ = tables
    row = summary[summary["group"] == "all"].iloc[0]
    point, low, high, _ = plain_bootstrap(root, LANGS)
    assert (row["margin"], row["ci_low"], row["ci_high"]) == pytest.approx((point, low, high), abs=1e-6)
