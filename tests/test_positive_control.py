"""The positive control: its lines are disjoint from everything a target scores, its data and evidence
are what they say, and the report's rules for it (sensitivity, evidence gates) act as declared."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from benchmark.analysis.declaration import DECLARATION
from benchmark.analysis.gates import Gate, arm_gates
from benchmark.analysis.qualify import NOT_INTERPRETED, qualify
from benchmark.config import resolve
from benchmark.data import flores, tatoeba
from benchmark.data.spec import BUNDLE_DIR
from benchmark.io import BenchmarkError
from benchmark.models.tokenizer import load_xlmr_tokenizer
from benchmark.targets.corpus import article_metadata, parallel_lines
from benchmark.training.datasets import Parallel

DATA = BUNDLE_DIR.parent  # load_corpus reads <data_dir>/bundle


@pytest.fixture(scope="module")
def mini():
    params = resolve({"profile": "mini"})
    corpus, train_ids, heldout_ids = parallel_lines(params.context(DATA))
    return params, corpus, train_ids, heldout_ids


def test_mini_pool_is_disjoint_from_every_scored_and_selection_line(mini) -> None:
    params, corpus, train_ids, heldout_ids = mini
    pool = set(train_ids) | set(heldout_ids)
    assert (len(train_ids), len(heldout_ids)) == (73, 23)  # of the 102 unscored SIB test lines, 6 share an article
    assert not set(train_ids) & set(heldout_ids)
    probe = set(corpus.ids("train")) | set(corpus.ids("dev"))
    for name, ids in (("retrieval", corpus.retrieval_ids), ("sib test", corpus.sib_test_ids),
                      ("selection", corpus.selection_ids), ("SIB probe", probe)):
        assert not pool & set(ids), name
    # By text too, in every language: no pool sentence is an evaluated sentence (FLORES repeats none here).
    scored = corpus.sentences.loc[corpus.retrieval_ids]
    for lang in corpus.languages:
        assert not set(corpus.sentences.loc[sorted(pool), lang]) & set(scored[lang]), lang
    # By article: no pool line shares its source article with a scored line; held-out articles are whole.
    meta = article_metadata(params.context(DATA))
    urls = {name: set(meta.loc[ids, "url"]) for name, ids in
            (("scored", [*corpus.retrieval_ids, *corpus.sib_test_ids]), ("train", train_ids), ("heldout", heldout_ids))}
    assert not urls["scored"] & (urls["train"] | urls["heldout"])
    assert not urls["train"] & urls["heldout"]


def test_pool_shares_no_sentence_with_tatoeba(mini) -> None:
    _, corpus, train_ids, heldout_ids = mini
    pool = {t for lang in corpus.languages for t in corpus.sentences.loc[[*train_ids, *heldout_ids], lang]}
    pairs = tatoeba.load_bundle()
    assert not pool & (set(pairs["text"]) | set(pairs["eng"]))


def test_smoke_and_tiny_pools_are_disjoint_too() -> None:
    for profile in ("smoke", "tiny"):
        params = resolve({"profile": profile})
        corpus, train_ids, heldout_ids = parallel_lines(params.context(DATA))
        assert len(train_ids) >= params.training.batch_size and len(heldout_ids) >= 2
        assert not (set(train_ids) | set(heldout_ids)) & set(corpus.retrieval_ids)


def test_too_few_free_lines_is_one_line_before_anything_runs() -> None:
    params = resolve({"profile": "tiny", "data": {"max_sentences": 204}})  # every SIB test line is scored
    with pytest.raises(BenchmarkError, match=r"positive control: 0 training and 0 held-out FLORES lines"):
        parallel_lines(params.context(DATA))


def test_parallel_pairs_rotate_languages_evenly() -> None:
    langs = ["eng_Latn", *[lang for lang in flores.LANGUAGES if lang != "eng_Latn"][:10]]
    sentences = pd.DataFrame({lang: [f"{lang} {i}" for i in range(7)] for lang in langs},
                             index=pd.Index([100 + i for i in range(7)], name="index_id"))
    tok = load_xlmr_tokenizer()
    data = Parallel(sentences, "eng_Latn", tok, 32, per_line=3)
    assert len(data) == 21 and data.groups[:3] == [100, 100, 100]
    counts = Counter(lang for _, lang in data.items)
    assert set(counts) == set(langs[1:]) and max(counts.values()) - min(counts.values()) <= 1  # 21 over 10
    assert data.items[:4] == [(0, langs[1]), (0, langs[2]), (0, langs[3]), (1, langs[4])]
    batch = data.batch([0, 3, 6])
    assert batch["image_ids"].tolist() == [100, 101, 102]
    decoded = tok.batch_decode(batch["pair_input_ids"], skip_special_tokens=True)
    assert decoded == [f"{langs[1]} 0", f"{langs[4]} 1", f"{langs[7]} 2"]
    assert len(data.token_rows()) == 7 + 21
    with pytest.raises(BenchmarkError, match="pivot"):
        Parallel(sentences[["fra_Latn"]] if "fra_Latn" in sentences else sentences[[langs[1]]], "eng_Latn", tok, 32, 3)


# --- the rules the positive control and the gates impose on the report ------------------------------


def _row(role: str, treatment: str, control: str, margin: float, verdict: str) -> dict:
    return {"role": role, "treatment": treatment, "control": control, "grouping": "overall", "group": "covered",
            "margin": margin, "verdict": verdict, "verdict_note": ""}


def _summary(sensitivity_margin: float, sensitivity_verdict: str) -> pd.DataFrame:
    return pd.DataFrame([
        _row("sensitivity", "parallel-contrastive", "baseline", sensitivity_margin, sensitivity_verdict),
        _row("primary", "coco-contrastive", "caption-contrastive", 0.0004, "equivalent within ±0.005"),
        _row("headline", "coco-contrastive", "hellaswag", 0.005, "difference (treatment better)"),
        _row("descriptive", "cosmosqa", "baseline", -0.005, ""),
    ])


def test_equivalence_is_withheld_unless_the_positive_control_clears_twice_the_sesoi() -> None:
    gates = {a: Gate(a, True, "ok") for a in ("coco-contrastive", "caption-contrastive", "hellaswag")}
    strong, _, sens = qualify(_summary(0.0101, "difference (treatment better)"), _summary(0, "").iloc[:0], gates,
                              DECLARATION)
    assert sens.sufficient and sens.in_sesoi == pytest.approx(2.02)
    assert strong.loc[1, "verdict"] == "equivalent within ±0.005"
    weak, _, sens = qualify(_summary(0.0099, "difference (treatment better)"), _summary(0, "").iloc[:0], gates,
                            DECLARATION)
    assert not sens.sufficient
    assert weak.loc[1, "verdict"] == "inconclusive" and "equivalence withheld" in weak.loc[1, "verdict_note"]
    assert weak.loc[2, "verdict"] == "difference (treatment better)"  # only equivalence needs the sensitivity
    untested, _, sens = qualify(_summary(0.03, "inconclusive"), _summary(0, "").iloc[:0], gates, DECLARATION)
    assert not sens.sufficient and untested.loc[1, "verdict"] == "inconclusive"
    none, _, sens = qualify(_summary(0.03, "x").iloc[1:], _summary(0, "").iloc[:0], gates, DECLARATION)
    assert sens.margin is None and none.loc[1, "verdict"] == "inconclusive"
    unlearned = {**gates, "parallel-contrastive": Gate("parallel-contrastive", False, "passed in 0 of 3 runs")}
    flagged, _, sens = qualify(_summary(0.03, "difference (treatment better)"), _summary(0, "").iloc[:0], unlearned,
                               DECLARATION)
    assert not sens.sufficient and flagged.loc[1, "verdict"] == "inconclusive"
    assert flagged.loc[0, "verdict"] == NOT_INTERPRETED


def test_an_arm_that_did_not_learn_is_flagged_everywhere_and_never_interpreted() -> None:
    gates = {"coco-contrastive": Gate("coco-contrastive", True, "ok"), "hellaswag": Gate("hellaswag", True, "ok"),
             "caption-contrastive": Gate("caption-contrastive", True, "ok"),
             "cosmosqa": Gate("cosmosqa", False, "passed in 0 of 1 runs")}
    per_language = pd.DataFrame([{"treatment": "cosmosqa", "control": "baseline", "language": "fra_Latn"}])
    summary, per_language, _ = qualify(_summary(0.02, "difference (treatment better)"), per_language, gates,
                                       DECLARATION)
    assert summary.loc[3, "flag"] == "cosmosqa did not learn its task (passed in 0 of 1 runs)"
    assert per_language.loc[0, "flag"] == summary.loc[3, "flag"] and per_language.loc[0, "treatment_learned"] is False
    assert summary.loc[3, "verdict"] == ""  # descriptive rows keep no verdict; their flag says it
    gates["hellaswag"] = Gate("hellaswag", False, "passed in 1 of 3 runs")
    summary, _, _ = qualify(_summary(0.02, "difference (treatment better)"), per_language, gates, DECLARATION)
    assert summary.loc[2, "verdict"] == NOT_INTERPRETED and "hellaswag did not learn" in summary.loc[2, "verdict_note"]


def test_gates_rest_on_each_runs_test() -> None:
    evidence = {
        "hellaswag": {"heldout.hellaswag.accuracy.learned": 1.0},
        "hellaswag.s1": {"heldout.hellaswag.accuracy.learned": 0.0},
        "parallel-contrastive": {"heldout.parallel.learned": 1.0},
        # R@1 hits against chance, exact binomial: 3 of 34 (chance 1/34) is p ~ 0.08, 5 of 34 p ~ 0.005.
        "coco-contrastive": {"heldout.r1_image_to_caption.true": 5 / 34, "heldout.r1_chance": 1 / 34},
        "caption-contrastive": {"heldout.caption_r1.none": 3 / 34, "heldout.r1_chance": 1 / 34},
        "baseline": {},
    }
    gates = arm_gates(evidence)
    assert gates["hellaswag"].learned is False and "passed in 1 of 2 runs" in gates["hellaswag"].detail
    assert gates["parallel-contrastive"].learned is True
    assert gates["coco-contrastive"].learned is True and "5/34" in gates["coco-contrastive"].detail
    assert gates["caption-contrastive"].learned is False
    assert gates["baseline"].learned is None and gates["baseline"].flag == ""
    p = float(gates["caption-contrastive"].detail.split("binomial p ")[1].split(" ")[0].rstrip(";"))
    assert p == pytest.approx(0.08, abs=0.01) and np.isfinite(p)
