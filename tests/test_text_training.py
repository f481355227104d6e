"""Textual intermediate tasks: data per table format, heads, multi-task sampling and resume, the
SQuAD metric and the learned-the-task evidence.

Tables are small hand-made toy tasks in the normalized schemas of ``benchmark.data.tasks``, whose
label a word of the text gives away (so a random 2 x 64 encoder, the ``tiny`` profile's, learns
them in tens of steps).
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from scipy.stats import binomtest
from trainkit import Budget, budget, tiny_encoder

from benchmark.io import BenchmarkError
from benchmark.models.layers import BottomMemo, frozen_layers
from benchmark.training import checkpoint, squad_metric
from benchmark.training.multitask import MultiTaskData, MultiTaskObjective
from benchmark.training.objectives import IGNORE
from benchmark.training.text_data import make_task_data
from benchmark.training.text_evidence import _sign_flip_p, paired_evidence, task_evidence
from benchmark.training.text_objectives import best_spans, make_text_objective

MAX_LENGTH = 32
FILLER = ["house", "river", "table", "book", "near", "with", "small", "old", "and", "over", "under", "garden",
          "window", "road", "stone"]
COLORS = ["red", "blue", "green", "yellow"]
TIMING = {"examples_per_s", "tokens_per_s"}



def _words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(FILLER) for _ in range(n)]


def _with(rng: random.Random, word: str, n: int = 5) -> str:
    words = _words(rng, n)
    words.insert(rng.randrange(n + 1), word)
    return " ".join(words)


def toy_table(fmt: str, n: int, seed: int) -> pd.DataFrame:
    """``n`` examples of a ``fmt`` toy task, labels balanced."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        animal = ("cat", "dog")[label]
        if fmt == "single":
            rows.append({"text": _with(rng, animal), "label": label})
        elif fmt == "pair":
            rows.append({"text": " ".join(_words(rng, 4)), "text_pair": _with(rng, animal), "label": label})
        elif fmt == "choice":
            label = i % 3
            choices = [_with(rng, "dog" if c == label else "cat", 3) for c in range(3)]
            rows.append({"context": " ".join(_words(rng, 5)), "choices": choices, "label": label})
        elif fmt == "span":
            color = COLORS[i % len(COLORS)]
            before, after = " ".join(_words(rng, rng.randrange(1, 6))), " ".join(_words(rng, 4))
            context = f"{before} {color} {after}"
            rows.append({"context": context, "question": "which color is it?", "answer_start": len(before) + 1,
                         "answer_text": color, "answers": [color]})
        else:  # tagging: 1 marks a color, 2 an animal
            words = _words(rng, 6)
            words[rng.randrange(6)] = COLORS[i % len(COLORS)]
            words[rng.randrange(6)] = animal
            tags = [1 if w in COLORS else 2 if w in ("cat", "dog") else 0 for w in words]
            rows.append({"tokens": words, "tags": tags})
    return pd.DataFrame(rows).assign(id=[f"{fmt}-{seed}-{i}" for i in range(n)])


NUM_LABELS = {"single": 2, "pair": 2, "choice": None, "span": None, "tagging": 3}


def _cfg(**kw) -> Budget:
    base = {"steps": 30, "batch_size": 8, "lr": 1e-2, "warmup_steps": 2, "max_length": MAX_LENGTH,
            "log_every": 1, "checkpoint_every": 1000, "freeze_word_embeddings": True}
    return budget(**(base | kw))


def heldout_metric(obj, data, metric: str) -> float:
    obj.eval()
    idx = list(range(len(data)))
    batch = data.batch(idx)
    with torch.no_grad():
        hidden, mask = obj.encode(batch["input_ids"], batch["attention_mask"])
        scores = obj.scores(obj.features(hidden, mask), batch)
    return float(obj.item_scores(scores, batch, data, idx)[metric].mean())


# --- heads learn ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["single", "pair", "choice", "span", "tagging"])
def test_head_learns_toy_task(fmt: str, tmp_path: Path) -> None:
    enc = tiny_encoder()
    data = make_task_data(fmt, toy_table(fmt, 48, seed=0), enc.tokenizer, MAX_LENGTH)
    heldout = make_task_data(fmt, toy_table(fmt, 24, seed=1), enc.tokenizer, MAX_LENGTH)
    obj = make_text_objective(fmt, enc.model, NUM_LABELS[fmt], seed=0)
    losses: dict[int, float] = {}
    _cfg(batch_size=12 if fmt == "choice" else 8).train(obj, data, tmp_path,
          log=lambda s, m: losses.update({s: m["loss"]}), progress=False)
    first, last = sum(losses[s] for s in (1, 2, 3)) / 3, sum(losses[s] for s in (28, 29, 30)) / 3
    metric = obj.metrics[0]
    score = heldout_metric(obj, heldout, metric)
    chance = {"choice": 1 / 3, "span": 0.0, "tagging": 4 / 6}.get(fmt, 0.5)  # tagging: the majority tag
    print(f"{fmt}: loss {first:.3f} -> {last:.3f}; held-out {metric} {score:.3f} (chance {chance:.3f})")
    assert last < 0.7 * first
    assert score > chance + 0.2


# --- data: shapes, truncation, labels ------------------------------------------------------------

def test_batch_shapes_and_rows_per_example() -> None:
    tok = tiny_encoder().tokenizer
    single = make_task_data("single", toy_table("single", 6, 0), tok, MAX_LENGTH)
    choice = make_task_data("choice", toy_table("choice", 6, 0), tok, MAX_LENGTH)
    assert single.rows_per_example == 1 and choice.rows_per_example == 3 and len(choice) == 6
    b = single.batch([0, 3])
    assert b["input_ids"].shape == b["attention_mask"].shape and b["labels"].tolist() == [0, 1]
    b = choice.batch([4, 1])
    assert b["input_ids"].shape[0] == 6 and b["num_choices"] == 3 and b["labels"].tolist() == [1, 1]
    rows = choice.token_rows()
    assert len(rows) == 18
    assert b["input_ids"][3, : len(rows[3])].tolist() == rows[3]  # example-major: row 3 is example 1, choice 0
    assert b["input_ids"].shape[1] == max(len(rows[e * 3 + i]) for e in (4, 1) for i in range(3))
    span = make_task_data("span", toy_table("span", 4, 0), tok, MAX_LENGTH).batch([0, 1])
    assert set(span) >= {"start_positions", "end_positions", "context_mask"}
    assert span["context_mask"].shape == span["input_ids"].shape


def test_truncation_counts_and_choices_survive() -> None:
    tok = tiny_encoder().tokenizer
    long = " ".join(["word"] * 40)
    single = make_task_data("single", pd.DataFrame({"text": ["short text", long, "x " * 12], "label": [0, 1, 0]}),
                            tok, 16)
    assert single.truncation() == {"sequences": 3, "truncated": 1}
    assert max(len(r) for r in single.token_rows()) == 16
    pair = make_task_data("pair", pd.DataFrame({"text": ["a b", long], "text_pair": [long, "c d"], "label": [0, 1]}),
                          tok, 16)
    assert pair.truncation()["truncated"] == 2
    table = pd.DataFrame({"context": [long, "short"], "choices": [["the river", "a garden"], ["x", "y"]],
                          "label": [0, 1]})
    choice = make_task_data("choice", table, tok, 16)
    assert choice.truncation() == {"sequences": 4, "truncated": 2}
    ending = tok("a garden", add_special_tokens=False)["input_ids"]
    assert choice.token_rows()[1][-len(ending) - 1 : -1] == ending  # only the context was cut
    # A choice longer than max_length on its own cannot keep it whole: that row falls back, no crash.
    odd = pd.DataFrame({"context": ["short"], "choices": [[long, "b"]], "label": [0]})
    assert make_task_data("choice", odd, tok, 16).truncation() == {"sequences": 2, "truncated": 1}
    with pytest.raises(BenchmarkError, match="same number"):
        make_task_data("choice", pd.DataFrame({"context": ["a", "b"], "choices": [["x", "y"], ["x", "y", "z"]],
                                               "label": [0, 0]}), tok, 16)
    with pytest.raises(BenchmarkError, match="lacks column"):
        make_task_data("pair", pd.DataFrame({"text": ["a"], "label": [0]}), tok, 16)


def test_span_answer_mapping_and_cut_answers() -> None:
    tok = tiny_encoder().tokenizer
    filler = " ".join(["stone"] * 30)
    contexts = [f"The key is red. {filler}", f"{filler} and the key is blue."]
    table = pd.DataFrame({"question": ["  which key?", "which key?"], "context": contexts,
                          "answer_start": [contexts[0].index("red"), contexts[1].index("blue")],
                          "answer_text": ["red", "blue"], "answers": [["red"], ["blue", "Blue"]]})
    data = make_task_data("span", table, tok, 24)
    assert data.truncation() == {"sequences": 2, "truncated": 2, "answers_lost": 1}
    b = data.batch([0, 1])
    s, e = int(b["start_positions"][0]), int(b["end_positions"][0])
    assert s == e and tok.decode(b["input_ids"][0, s : e + 1]).strip() == "red"
    assert b["context_mask"][0, s] and not b["context_mask"][0, 0]
    assert (int(b["start_positions"][1]), int(b["end_positions"][1])) == (0, 0)  # cut: points at <s>
    assert data.span_texts([0], torch.tensor([[s, e]])) == ["red"]
    assert data.questions[0] == "which key?"  # leading spaces would only eat context room


def test_best_span_decoding_stays_in_context() -> None:
    allowed = torch.tensor([[False, True, True, True, True, True]])  # position 0 (<s>) is not context
    start, end = torch.tensor([[9.0, 0, 4, 0, 0, 1]]), torch.tensor([[9.0, 0, 1, 0, 4, 0]])
    assert best_spans(start, end, allowed).tolist() == [[2, 4]]
    assert best_spans(start, end, allowed, max_tokens=2).tolist() == [[2, 2]]
    start, end = torch.tensor([[9.0, 0, 0, 0, 5, 0]]), torch.tensor([[9.0, 0, 5, 0, 1, 0]])
    assert best_spans(start, end, allowed).tolist() == [[4, 4]]  # never an end before the start


def test_tagging_labels_first_subtoken_only() -> None:
    tok = tiny_encoder().tokenizer
    words = ["Hello", "unbelievableness", "world"]
    data = make_task_data("tagging", pd.DataFrame({"tokens": [words], "tags": [[1, 2, 0]]}), tok, MAX_LENGTH)
    labels = data.batch([0])["labels"][0].tolist()
    pieces = [len(tok(w, add_special_tokens=False)["input_ids"]) for w in words]
    assert pieces[1] > 1
    expected = [IGNORE]  # <s>
    for tag, n in zip([1, 2, 0], pieces):
        expected += [tag] + [IGNORE] * (n - 1)
    assert labels == expected + [IGNORE]  # </s>
    cut = make_task_data("tagging", pd.DataFrame({"tokens": [["w"] * 40], "tags": [[1] * 40]}), tok, 8)
    assert cut.truncation()["truncated"] == 1 and sum(x != IGNORE for x in cut.batch([0])["labels"][0]) == 6


# --- SQuAD v1.1 metric ----------------------------------------------------------------------------

def test_squad_metric_official_v11_rules() -> None:
    assert squad_metric.normalize_answer("The  Eiffel-Tower!") == "eiffeltower"  # punctuation dropped, not spaced
    assert squad_metric.exact_match("the Eiffel Tower", "Eiffel Tower") == 1.0  # articles removed
    assert squad_metric.exact_match("theatre", "atre") == 0.0  # only whole-word articles
    assert squad_metric.f1("eiffel-tower", "eiffel tower") == 0.0
    assert squad_metric.f1("an apple pie", "apple") == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert squad_metric.exact_match("the", "a") == 1.0 and squad_metric.f1("the", "a") == 0.0  # v1.1, not v2.0
    golds = ["Denver Broncos", "Broncos", "the Broncos team"]
    assert squad_metric.best_exact_match("broncos.", golds) == 1.0
    assert squad_metric.best_f1("Denver", golds) == pytest.approx(2 / 3)
    assert squad_metric.best_f1("Broncos team", golds) == 1.0


# --- multi-task ----------------------------------------------------------------------------------

class _Fake:
    def __init__(self, n: int, rows: int = 1) -> None:
        self.n, self.rows_per_example = n, rows

    def __len__(self) -> int:
        return self.n

    def batch(self, indices: list[int]) -> dict:
        return {"indices": indices}


def test_multitask_mixing_with_cap() -> None:
    data = MultiTaskData({"small": _Fake(10), "big": _Fake(1000)}, cap=100)
    assert data.probabilities() == {"big": 100 / 110, "small": 10 / 110}
    sampler = data.make_sampler(2, torch.Generator().manual_seed(0))
    draws = [sampler.next() for _ in range(20000)]
    big = sum(all(i < 1000 for i in d) for d in draws)  # "big" sorts first: indices 0..999
    assert sum(all(1000 <= i < 1010 for i in d) for d in draws) + big == len(draws)
    assert big / len(draws) == pytest.approx(100 / 110, abs=0.01)
    assert data.batch([1003, 1001]) == {"indices": [3, 1], "task": "small"}
    with pytest.raises(ValueError, match="mixes"):
        data.batch([999, 1000])
    assert MultiTaskData({"a": _Fake(30), "b": _Fake(10)}, cap=None).probabilities() == {"a": 0.75, "b": 0.25}
    # batch_size counts rows: 4-row examples come 2 to a batch of 8 rows.
    rows = MultiTaskData({"q": _Fake(20, rows=4)}, cap=None).make_sampler(8, torch.Generator().manual_seed(0))
    assert len(rows.next()) == 2


def test_multitask_sampler_state_round_trips() -> None:
    data = MultiTaskData({"a": _Fake(7), "b": _Fake(5, rows=2)}, cap=6)
    g = torch.Generator().manual_seed(3)
    sampler = data.make_sampler(4, g)
    for _ in range(11):
        sampler.next()
    state, g_state = copy.deepcopy(sampler.state_dict()), g.get_state()
    ahead = [sampler.next() for _ in range(30)]
    g2 = torch.Generator()
    again = data.make_sampler(4, g2)
    again.load_state_dict(state)
    g2.set_state(g_state)
    assert [again.next() for _ in range(30)] == ahead


def _multitask(seed: int = 0):
    enc = tiny_encoder()
    fmts = {"animals": "single", "endings": "choice", "words": "tagging"}
    tasks = {t: make_task_data(f, toy_table(f, n, seed=i), enc.tokenizer, MAX_LENGTH)
             for i, ((t, f), n) in enumerate(zip(fmts.items(), (12, 6, 8)))}
    heads = {t: make_text_objective(f, enc.model, NUM_LABELS[f], seed=seed + i)
             for i, (t, f) in enumerate(fmts.items())}
    obj = MultiTaskObjective(enc.model, heads, seed=seed)
    data = MultiTaskData(tasks, cap=10)
    cfg = _cfg(steps=8, batch_size=6, checkpoint_every=4, train_top_layers=1, warmup_steps=1)
    obj.memo = BottomMemo()  # as the pipeline does: the frozen bottom of the training rows, once
    obj.memo.fill(enc.model, data.token_rows(), frozen_layers(enc.model, 1), enc.tokenizer.pad_token_id)
    return obj, data, cfg


class _Killed(Exception):
    pass


def test_multitask_kill_and_resume_is_bit_identical(tmp_path: Path) -> None:
    obj, data, cfg = _multitask()
    ref_metrics: dict[int, dict] = {}
    ref = cfg.train(obj, data, tmp_path / "ref", log=lambda s, m: ref_metrics.update({s: m}), progress=False)
    assert {k for k in ref_metrics[8] if k.startswith("share.")} == {"share.animals", "share.endings", "share.words"}
    assert all(0 < sum(m[f"share.{t}"] for m in ref_metrics.values()) < 8 for t in ("animals", "endings", "words"))
    assert {k for k in load_file(ref / checkpoint.HEADS_FILE)} == {
        f"heads.{t}.{p}" for t in ("animals", "endings", "words") for p in ("weight", "bias")}

    def die_after_checkpoint(step: int, metrics: dict) -> None:
        if step == 5:
            raise _Killed
    obj, data, cfg = _multitask()
    with pytest.raises(_Killed):
        cfg.train(obj, data, tmp_path / "run", log=die_after_checkpoint, progress=False)
    assert checkpoint.latest(tmp_path / "run").name == "step-00000004"
    obj, data, cfg = _multitask()  # a fresh process's view: new weights, data and sampler
    resumed: dict[int, dict] = {}
    final = cfg.train(obj, data, tmp_path / "run", log=lambda s, m: resumed.update({s: m}), progress=False)
    assert checkpoint.weights_sha256(final) == checkpoint.weights_sha256(ref)
    assert sorted(resumed) == [5, 6, 7, 8]
    def untimed(m: dict) -> dict:
        return {k: v for k, v in m.items() if k not in TIMING}
    assert all(untimed(resumed[s]) == untimed(ref_metrics[s]) for s in resumed)


# --- evidence ------------------------------------------------------------------------------------

def test_task_evidence_trained_beats_frozen_encoder(tmp_path: Path) -> None:
    enc = tiny_encoder()
    pretrained = copy.deepcopy(enc.model)
    # A pretrained encoder whose output carries no information (top LayerNorm zeroed: every state is
    # 0), so no head fitted on it can beat chance; its bottom is the trained one's, so the shared
    # bottom path runs.
    top_norm = pretrained.encoder.layer[-1].output.LayerNorm
    torch.nn.init.zeros_(top_norm.weight)
    torch.nn.init.zeros_(top_norm.bias)
    data = make_task_data("single", toy_table("single", 48, seed=0), enc.tokenizer, MAX_LENGTH)
    heldout = make_task_data("single", toy_table("single", 24, seed=1), enc.tokenizer, MAX_LENGTH)
    obj = make_text_objective("single", enc.model, 2, seed=0)
    _cfg(train_top_layers=1).train(obj, data, tmp_path, progress=False)
    assert obj.frozen_layers == 1
    fit = {"budget": budget(steps=30, batch_size=8, lr=1e-2).training, "seed": 0}
    before = [p.clone() for p in obj.parameters()]
    out = task_evidence(obj, pretrained, data, heldout, "single", "accuracy", 0.5, max_heldout=20, **fit)
    assert set(out) == {f"heldout.accuracy.{k}" for k in GATE_KEYS} | {
        "heldout.accuracy.trained", "heldout.accuracy.frozen_encoder", "heldout.accuracy.chance", "heldout.examples"}
    assert out["heldout.examples"] == 20 and out["heldout.accuracy.chance"] == 0.5
    # The gate on the same 20 items: discordant counts add up to the accuracy difference.
    gate = {k: out[f"heldout.accuracy.{k}"] for k in GATE_KEYS}
    diff = out["heldout.accuracy.trained"] - out["heldout.accuracy.frozen_encoder"]
    assert gate["trained_only"] - gate["frozen_only"] == pytest.approx(20 * diff)
    discordant = int(gate["trained_only"] + gate["frozen_only"])
    assert gate["mcnemar_p"] == pytest.approx(binomtest(int(gate["trained_only"]), discordant).pvalue)
    assert gate["learned"] == float(gate["mcnemar_p"] < 0.05 and diff > 0)
    assert gate["diff_ci_low"] <= diff <= gate["diff_ci_high"]
    assert out["heldout.accuracy.frozen_encoder"] == 0.5  # one class for all: the first 20 are balanced
    assert out["heldout.accuracy.trained"] > 0.8
    # The shared-bottom pass scores the trained model exactly as its own forward does.
    obj.eval()
    with torch.no_grad():
        _, stats = obj(heldout.batch(list(range(20))))
    assert out["heldout.accuracy.trained"] == pytest.approx(stats["accuracy"])
    assert all(torch.equal(a, b) for a, b in zip(before, obj.parameters()))  # evidence changes no weight
    with pytest.raises(BenchmarkError, match="reports"):
        task_evidence(obj, pretrained, data, heldout, "single", "squad_f1", 0.5, **fit)


def test_task_evidence_token_heads_on_cached_states() -> None:
    enc = tiny_encoder()
    for fmt, metric in (("tagging", "accuracy"), ("span", "squad_f1")):
        data = make_task_data(fmt, toy_table(fmt, 16, seed=0), enc.tokenizer, MAX_LENGTH)
        heldout = make_task_data(fmt, toy_table(fmt, 8, seed=1), enc.tokenizer, MAX_LENGTH)
        obj = make_text_objective(fmt, copy.deepcopy(enc.model), NUM_LABELS[fmt], seed=0)
        out = task_evidence(obj, enc.model, data, heldout, fmt, metric, 0.0,
                            budget=budget(steps=5, batch_size=4, lr=1e-2, weight_decay=0.0).training, seed=0)
        assert out["heldout.examples"] == 8
        assert all(0.0 <= out[f"heldout.{metric}.{k}"] <= 1.0 for k in ("trained", "frozen_encoder"))
        assert {f"heldout.{metric}.{k}" for k in GATE_KEYS} <= set(out)
        assert out[f"heldout.{metric}.trained_only"] + out[f"heldout.{metric}.frozen_only"] <= 8  # per sentence
        if fmt == "tagging":  # per-sentence pairing keeps the token-level mean
            assert out["heldout.accuracy.trained"] == pytest.approx(heldout_metric(obj, heldout, "accuracy"))
        assert all(p.requires_grad for p in enc.model.parameters())  # restored after the fit


# --- the learned-its-task gate (paired, on the held-out items) -----------------------------------

GATE_KEYS = ("trained_only", "frozen_only", "mcnemar_p", "diff_ci_low", "diff_ci_high", "trained_ci_low",
             "trained_ci_high", "chance_p", "learned")


def _paired(both: int, trained_only: int, frozen_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    trained = [1] * both + [1] * trained_only + [0] * frozen_only + [0] * neither
    frozen = [1] * both + [0] * trained_only + [1] * frozen_only + [0] * neither
    return np.array(trained, dtype=float), np.array(frozen, dtype=float)


def test_mcnemar_gate_does_not_pass_a_difference_it_cannot_tell_from_noise() -> None:
    # HellaSwag seed 0 before the grouped split: 0.364 vs 0.304 on 250 items, discordant 35 vs 20.
    trained, frozen = _paired(56, 35, 20, 139)
    assert (trained.mean(), frozen.mean()) == (0.364, 0.304)
    g = paired_evidence(trained, frozen, 0.25)
    assert (g["trained_only"], g["frozen_only"]) == (35, 20)
    assert g["mcnemar_p"] == pytest.approx(0.058064, abs=1e-6)  # 2 * P(Binomial(55, 1/2) >= 35)
    assert g["learned"] == 0.0  # 6 points higher, but not a significant difference
    # exact conditional interval: 55/250 * (2 * Clopper-Pearson(35 of 55) - 1); it holds 0 as the test does not reject
    assert (g["diff_ci_low"], g["diff_ci_high"]) == pytest.approx((-0.001922, 0.115219), abs=1e-6)
    assert (g["trained_ci_low"], g["trained_ci_high"]) == pytest.approx((0.304290, 0.426978), abs=1e-6)
    assert g["chance_p"] == pytest.approx(7.1948e-05, rel=1e-4)  # 91 of 250 against 1/4
    # Lower than the frozen encoder (the accuracies of Cosmos QA seed 0, 0.348 vs 0.368): never learned.
    assert paired_evidence(*_paired(60, 27, 32, 131), 0.25)["learned"] == 0.0


def test_mcnemar_gate_passes_a_clear_difference_and_its_interval_agrees() -> None:
    g = paired_evidence(*_paired(56, 40, 15, 139), 0.25)
    assert g["mcnemar_p"] == pytest.approx(binomtest(40, 55).pvalue) and g["mcnemar_p"] < 0.002
    assert g["learned"] == 1.0 and 0.0 < g["diff_ci_low"] < 0.1 < g["diff_ci_high"]
    flipped = paired_evidence(*_paired(56, 15, 40, 139), 0.25)  # as significant, the other way round
    assert flipped["mcnemar_p"] == pytest.approx(g["mcnemar_p"]) and flipped["learned"] == 0.0
    assert flipped["diff_ci_high"] < 0.0
    same = paired_evidence(*_paired(100, 0, 0, 150), 0.25)
    assert (same["mcnemar_p"], same["diff_ci_low"], same["diff_ci_high"], same["learned"]) == (1.0, 0.0, 0.0, 0.0)
    # The interval excludes 0 exactly when the exact test rejects (Clopper-Pearson is its dual at 1/2).
    for b in range(0, 41):
        g = paired_evidence(*_paired(10, b, 40 - b, 10), 0.25)
        assert (g["mcnemar_p"] < 0.05) == (g["diff_ci_low"] > 0 or g["diff_ci_high"] < 0)
    with pytest.raises(BenchmarkError, match="one value per example"):
        paired_evidence(np.ones(3), np.ones(2), 0.25)


def test_paired_gate_for_scores_that_are_not_right_or_wrong() -> None:
    # Per-item F1: the sign-flip test; 5 items, 4 better by 0.5 and 1 worse by 0.5: p = 12/32 (as 4 of 5 signs).
    trained, frozen = np.array([1.0, 1.0, 0.5, 0.5, 0.0]), np.array([0.5, 0.5, 0.0, 0.0, 0.5])
    g = paired_evidence(trained, frozen, 0.0)
    assert g["mcnemar_p"] == pytest.approx(0.375) and (g["trained_only"], g["frozen_only"]) == (4, 1)
    assert g["learned"] == 0.0
    # Student t on the paired differences: mean 0.3, sd 0.4472, t(0.975, 4) = 2.776
    assert (g["diff_ci_low"], g["diff_ci_high"]) == pytest.approx((-0.255289, 0.855289), abs=1e-5)
    # On 0/1 differences the sign-flip test is McNemar's exact test (exactly, and close by sampling).
    d = np.array([1.0] * 9 + [-1.0] * 2 + [0.0] * 30)
    assert _sign_flip_p(d) == pytest.approx(binomtest(9, 11).pvalue)
    d = np.array([1.0] * 35 + [-1.0] * 20)
    assert _sign_flip_p(d) == pytest.approx(0.058064, abs=0.006)
    assert _sign_flip_p(d) == _sign_flip_p(d)  # seeded
    # Tagging: per-sentence sums of right tokens over their token counts (the token-level accuracy).
    units = np.array([10.0, 2.0, 4.0])
    g = paired_evidence(np.array([9.0, 2.0, 3.0]), np.array([5.0, 1.0, 3.0]), 1 / 1363, units)
    assert (g["trained_only"], g["frozen_only"]) == (2, 0) and g["mcnemar_p"] == pytest.approx(0.5)
    assert g["diff_ci_low"] < 5 / 16 < g["diff_ci_high"] and g["trained_ci_high"] == 1.0
