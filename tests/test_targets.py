"""The target registry and what it promises: specs validated at import, XTREME's Tatoeba direction,
Tatoeba's seeded max_pairs sample, and the per-language bootstrap for targets whose items are not
shared across languages."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from benchmark.analysis import margins as mg
from benchmark.analysis.stats import paired_stratified_bootstrap
from benchmark.io import BenchmarkError
from benchmark.schema import declare
from benchmark.targets import registry
from benchmark.targets.retrieval import bitext
from benchmark.targets.spec import TargetSpec


def test_registry_is_the_one_list_of_targets() -> None:
    assert list(registry.TARGETS) == ["retrieval", "sib", "tatoeba", "xtreme"]
    assert list(registry.SCORES)[:1] == ["xsim_margin_x2eng"]  # the primary endpoint's score
    for spec in registry.TARGETS.values():
        assert spec.main_score in registry.SCORES and spec.runner().__name__ == spec.module
        for name in ("check", "texts", "language_groups"):
            assert callable(getattr(spec.runner(), name)), (spec.name, name)
        assert callable(importlib.import_module(spec.scorer or spec.module).score), spec.name
        # a separate scorer holds the scoring alone (what only stage evaluate must depend on)
        assert spec.scorer is None or not hasattr(spec.runner(), "score"), spec.name
    assert [t.name for t in registry.active("mini")] == ["retrieval", "sib", "tatoeba"]
    assert [t.name for t in registry.active("full")] == ["retrieval", "sib", "tatoeba", "xtreme"]


def test_a_bad_spec_is_one_line() -> None:
    good = registry.TARGETS["tatoeba"].model_dump()
    with pytest.raises(BenchmarkError, match="^invalid TargetSpec 'tatoeba': main_score 'nope' is not one of"):
        declare(TargetSpec, **{**good, "main_score": "nope"})
    with pytest.raises(BenchmarkError, match="selects on \\['split'\\], not prediction columns"):
        declare(TargetSpec, **{**good, "scores": [{**good["scores"][0], "where": {"split": "test"}}]})
    with pytest.raises(BenchmarkError, match="unknown target 'xnli'"):
        registry.targets_of("mini", ["xnli"])


def test_xtreme_tatoeba_accuracy_queries_with_english() -> None:
    """A pair of languages where the two directions disagree: every X sentence finds its English
    translation (MTEB's X→eng accuracy 1.0), but English sentence 1 finds X sentence 0 (XTREME's
    eng→X accuracy 0.5: its faiss index holds the X side and is searched with the English side)."""
    x = np.array([[1.0, 0.0], [0.0, 1.0]])
    eng = np.array([[1.0, 0.1], [0.8, 0.6]])
    errors, preds = bitext(x, eng, np.array([0, 1]), k=1)
    assert errors["xsim_cosine_x2eng"] == 0.0 and errors["xsim_cosine_eng2x"] == 0.5
    score = registry.SCORES["tatoeba_accuracy"][1]
    rows = preds[(preds["direction"] == score.where["direction"]) & (preds["scoring"] == score.where["scoring"])]
    assert rows["correct"].tolist() == [True, False]


def test_stratified_bootstrap_resamples_each_language_alone() -> None:
    rng = np.random.default_rng(3)
    sizes = [5, 9, 4]
    t = [rng.integers(0, 2, size=(3, n)).astype(float) for n in sizes]
    c = [rng.integers(0, 2, size=(1, n)).astype(float) for n in sizes]
    boot = paired_stratified_bootstrap(t, c, higher_is_better=True, n_boot=300, seed=7)
    for li, n in enumerate(sizes):
        diff = t[li].mean(axis=0) - c[li].mean(axis=0)
        assert boot.margins[li] == pytest.approx(diff.mean())
        draws = np.random.default_rng([7, li]).integers(0, n, size=(300, n))
        np.testing.assert_allclose(boot.replicates[:, li], diff[draws].mean(axis=1), atol=1e-12)
    low, high = boot.language_ci()
    assert (low <= boot.margins).all() and (boot.margins <= high).all()


def _tatoeba_preds(tmp_path, run: str, correct: dict[str, list[bool]]) -> None:
    rows = [pd.DataFrame({"language": lang, "direction": d, "scoring": s, "index_id": np.arange(len(v)),
                          "retrieved_id": np.arange(len(v)), "correct": v})
            for lang, v in correct.items() for d in ("x2eng", "eng2x") for s in ("cosine", "margin")]
    (tmp_path / run).mkdir(parents=True, exist_ok=True)
    pd.concat(rows, ignore_index=True).to_parquet(tmp_path / run / "tatoeba.parquet", index=False)


def test_tatoeba_margins_keep_each_language_its_own_items(tmp_path) -> None:
    """Languages with 3 and 5 pairs: the macro average weighs languages equally, and no language is
    padded with the other's items."""
    _tatoeba_preds(tmp_path, "coco-contrastive", {"fra": [True, True, False], "kab": [True] * 5})
    _tatoeba_preds(tmp_path, "caption-contrastive", {"fra": [True, False, False], "kab": [False] * 5})
    groups = pd.DataFrame({"script": ["Latn", "Latn"], "covered": [True, True], "in_cc100": [True, False]},
                          index=pd.Index(["fra", "kab"], name="language"))
    summary, per_lang = mg.compute_margins([("coco-contrastive", "caption-contrastive")],
                                           ["coco-contrastive", "caption-contrastive"], root=tmp_path,
                                           targets=["tatoeba_accuracy"], groups=groups)
    assert per_lang.set_index("language")["margin"].to_dict() == pytest.approx({"fra": 1 / 3, "kab": 1.0})
    row = summary[(summary["group"] == "all")].iloc[0]
    assert row["margin"] == pytest.approx((1 / 3 + 1.0) / 2)
    _tatoeba_preds(tmp_path, "caption-contrastive", {"fra": [True, False, False], "kab": [False] * 4})
    with pytest.raises(BenchmarkError, match="tatoeba_accuracy: run 'caption-contrastive' does not cover"):
        mg.compute_margins([("coco-contrastive", "caption-contrastive")], ["coco-contrastive", "caption-contrastive"],
                           root=tmp_path, targets=["tatoeba_accuracy"], groups=groups)


def test_upstream_inputs_are_checked_before_any_output_is_deleted(tmp_path) -> None:
    """In `full` the validate stage reads every target's upstream files: a Tatoeba pair with mismatched
    line counts, or an XTREME task whose files are not pinned, stops the pipeline in one line there."""
    from benchmark.config import resolve
    from benchmark.targets import tatoeba as tatoeba_target
    from benchmark.targets import xtreme as xtreme_target

    params = resolve({"profile": "full", "targets": {"tatoeba": {"languages": ["fra"]}}})
    folder = tmp_path / "full" / "tatoeba"
    folder.mkdir(parents=True)
    (folder / "tatoeba.fra-eng.fra").write_text("Bonjour.\nMerci.\n", encoding="utf-8")
    (folder / "tatoeba.fra-eng.eng").write_text("Hello.\n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"tatoeba\.fra-eng\.fra: 2 lines, but .*tatoeba\.fra-eng\.eng has 1") as e:
        tatoeba_target.check(params.block("tatoeba"), params.context(tmp_path))
    assert "\n" not in str(e.value)
    with pytest.raises(BenchmarkError, match="English training data .* is not pinned|unresolved"):
        xtreme_target.check(params.block("xtreme"), params.context(tmp_path))


def test_xtreme_measures_only_the_tasks_it_fine_tunes() -> None:
    """`targets.xtreme.tasks` narrows the scores analysis and report read; `[]` turns the phase off."""
    from benchmark.config import resolve
    from benchmark.targets import registry

    spec = registry.TARGETS["xtreme"]
    some = resolve({"profile": "full", "targets": {"xtreme": {"tasks": ["xquad", "pawsx"]}}})
    assert [s.name for s in spec.scores_in(some)] == ["xtreme_pawsx", "xtreme_xquad"]
    assert spec.shown(some).name == "xtreme_pawsx"  # the main score (XNLI) is not measured here
    off = resolve({"profile": "full", "targets": {"xtreme": {"tasks": []}}})
    assert spec.scores_in(off) == () and spec.shown(off) is None
    full = resolve({"profile": "full"})
    assert spec.shown(full).name == "xtreme_xnli" and len(spec.scores_in(full)) == 7  # Belebele not listed
    assert registry.TARGETS["tatoeba"].scores_in(full) == registry.TARGETS["tatoeba"].scores


def test_tatoeba_max_pairs_is_the_same_seeded_sample_for_every_run(tmp_path) -> None:
    """`mini`'s 250 Tatoeba pairs per language are the seeded sample of benchmark.data.tatoeba.sample_ids
    (its own constant seed), not the first 250 lines: the same items whatever the run's training seed,
    from the bundle and from the upstream files alike, each keeping its line number as ``index_id``."""
    from benchmark.config import resolve
    from benchmark.data import tatoeba
    from benchmark.data.spec import BUNDLE_DIR
    from benchmark.targets import tatoeba as tatoeba_target

    minis = [resolve({"profile": "mini", "seed": seed}) for seed in (0, 1, 12345)]
    tables = [tatoeba_target.pairs(p.block("tatoeba"), p.context(BUNDLE_DIR.parent)) for p in minis]
    for other in tables[1:]:
        pd.testing.assert_frame_equal(other, tables[0])
    mini = tables[0]
    assert len(mini) == 8939 and mini["language"].nunique() == 36
    ara = mini[mini["language"] == "ara"]["index_id"].tolist()
    assert ara == tatoeba.sample_ids("ara", 1000, 250) and ara != list(range(250)) and ara[:3] == [13, 14, 16]
    # `full` with max_pairs set samples the upstream files the same way; index_id is the line number.
    params = resolve({"profile": "full", "targets": {"tatoeba": {"languages": ["fra"], "max_pairs": 2}}})
    folder = tmp_path / "full" / "tatoeba"
    folder.mkdir(parents=True)
    (folder / "tatoeba.fra-eng.fra").write_text("".join(f"fra {i}\n" for i in range(5)), encoding="utf-8")
    (folder / "tatoeba.fra-eng.eng").write_text("".join(f"eng {i}\n" for i in range(5)), encoding="utf-8")
    cfg, ctx = params.block("tatoeba"), params.context(tmp_path)
    table = tatoeba_target.pairs(cfg, ctx)
    assert table["index_id"].tolist() == tatoeba.sample_ids("fra", 5, 2) == [0, 2]
    assert table["text"].tolist() == ["fra 0", "fra 2"] and table["eng"].tolist() == ["eng 0", "eng 2"]
    assert tatoeba_target.texts(cfg, ctx) == {"tatoeba/fra": ["fra 0", "fra 2"],
                                                      "tatoeba/fra/eng": ["eng 0", "eng 2"]}


@pytest.mark.parametrize(("value", "message"), [
    (1, "greater than or equal to 2, got 1"), (0, "greater than or equal to 2, got 0"),
    (2.5, "valid integer, got 2.5"), ("250", "valid integer, got '250'"), (True, "valid integer, got True"),
])
def test_a_bad_tatoeba_max_pairs_is_one_line(value, message) -> None:
    from benchmark.config import resolve

    with pytest.raises(BenchmarkError, match=rf"^params: targets\.tatoeba\.max_pairs: Input should be .*{message}$") as e:
        resolve({"profile": "mini", "targets": {"tatoeba": {"max_pairs": value}}})
    assert "\n" not in str(e.value)
