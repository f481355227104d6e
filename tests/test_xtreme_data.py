"""XTREME + Belebele: the target registry, the readers of each official format (fixtures in
tests/fixtures/xtreme, exact values), their one-line errors, and XTREME's metrics on cases where
plausible variants disagree. The real XQuAD files at ../shared/data/xquad are read when present.

Hand-computed seqeval values were also checked against seqeval 0.0.12 and 1.2.2 themselves (not a
dependency of this package): the same numbers, and the same on 1,200 random tag sequences."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchmark.data import xtreme as X
from benchmark.data import xtreme_files as F
from benchmark.data.tasks import COLUMNS, TASKS
from benchmark.io import BenchmarkError
from benchmark.schema import declare
from benchmark.targets import xtreme_metrics as M

FIX = Path(__file__).parent / "fixtures" / "xtreme"
BAD = FIX / "bad"
XQUAD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xquad"


def _error(fn, *args) -> str:
    with pytest.raises(BenchmarkError) as e:
        fn(*args)
    message = str(e.value)
    assert "\n" not in message
    return message


# --- registry ------------------------------------------------------------------------------------


def test_languages_as_xtreme_lists_them():
    counts = {name: len(t.languages) for name, t in X.TARGETS.items()}
    assert counts == {"xnli": 15, "pawsx": 7, "udpos": 33, "panx": 40, "xquad": 11, "mlqa": 7, "tydiqa": 9,
                      "belebele": 122}  # fmt: skip
    # xtreme evaluate.py TASK2LANGS, order kept
    assert ",".join(X.TARGETS["xquad"].languages) == "en,es,de,el,ru,tr,ar,vi,th,zh,hi"
    assert ",".join(X.TARGETS["tydiqa"].languages) == "en,ar,bn,fi,id,ko,ru,sw,te"
    assert set(X.TYDIQA_NAMES) == set(X.TARGETS["tydiqa"].languages)
    assert {"eng_Latn", "ary_Arab", "zho_Hant", "urd_Latn"} <= set(X.BELEBELE_LANGUAGES)


def test_formats_labels_metrics_and_training_data():
    t = X.TARGETS
    assert {n: (s.format, s.metric) for n, s in t.items()} == {
        "xnli": ("pair", "accuracy"), "pawsx": ("pair", "accuracy"), "udpos": ("tagging", "f1"),
        "panx": ("tagging", "f1"), "xquad": ("span", "squad_em_f1"), "mlqa": ("span", "mlqa_em_f1"),
        "tydiqa": ("span", "squad_em_f1"), "belebele": ("choice", "accuracy"),
    }  # fmt: skip
    assert t["xnli"].labels == ("entailment", "neutral", "contradiction")  # MNLI's GLUE label order
    assert len(t["udpos"].labels) == 17
    assert t["panx"].labels == ("B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O")
    trained_on = {n: s.train_task for n, s in t.items() if s.train_task}
    assert trained_on == {"xnli": "mnli", "xquad": "squad", "mlqa": "squad"}
    assert all(t[n].train_task in TASKS for n in ("xnli", "xquad", "mlqa"))
    # XTREME README: TyDiQA-GoldP trains on its own English training set, not SQuAD
    assert "tydiqa-goldp-v1.1-train.json" in t["tydiqa"].train_source.url
    assert {n for n, s in t.items() if s.train_source} == {"pawsx", "udpos", "panx", "tydiqa", "belebele"}


def test_pins_resolved_only_where_confirmed():
    assert [n for n, s in X.TARGETS.items() if s.upstream.resolved] == ["xquad", "belebele"]
    assert X.TARGETS["belebele"].upstream.source == "facebook/belebele@7899cdfa4e1e0d733fd77c848e2c273cb1d32be2"
    assert [n for n, s in X.TARGETS.items() if s.train_source and s.train_source.resolved] == ["pawsx"]
    assert all(s.hub_copy is None or s.hub_copy.resolved for s in X.TARGETS.values())
    xquad = X.TARGETS["xquad"]
    assert sorted(xquad.upstream.sha256) == [f"xquad.{lang}.json" for lang in sorted(xquad.languages)]
    for spec in X.TARGETS.values():
        for pin in (spec.upstream, spec.train_source, spec.hub_copy):
            assert pin is None or pin.resolved or len(pin.unresolved) > 20  # a reason, not a flag


def test_pin_and_spec_validation():
    with pytest.raises(ValidationError, match="40-hex revision"):
        X.Pin(hub_repo="facebook/belebele")
    with pytest.raises(ValidationError, match="sha256"):
        X.Pin(url="https://example.org/x.zip")
    with pytest.raises(ValidationError, match="exactly one of hub_repo and url"):
        X.Pin(hub_repo="a/b", url="https://example.org", unresolved="why")
    assert X.Pin(hub_repo="a/b", revision="0" * 40).resolved
    fields = X.TARGETS["xnli"].model_dump() | {"train_task": "no_such_task"}
    with pytest.raises(BenchmarkError, match="^invalid XtremeTarget 'xnli': .*no_such_task"):
        declare(X.XtremeTarget, **fields)
    with pytest.raises(BenchmarkError, match="exactly one of train_task and train_source"):
        declare(X.XtremeTarget, **(fields | {"train_task": None}))


def test_load_target_refuses_unresolved_unknown_and_tampered():
    message = _error(F.load_target, "xnli", FIX / "xnli", "de")
    assert message.startswith("XNLI: upstream https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip is unresolved")
    assert "refusing to load" in message
    assert "unknown language 'ro' for XQuAD" in _error(F.load_target, "xquad", FIX / "xquad", "ro")
    assert "unknown XTREME target 'xcopa'" in _error(F.load_target, "xcopa", FIX, "et")
    # the fixture is not the pinned file: its sha256 gives it away
    assert "xquad.de.json: sha256 mismatch with the pin (expected 990b5d746746" in _error(
        F.load_target, "xquad", FIX / "xquad", "de")


# --- readers on the fixtures ---------------------------------------------------------------------


def test_read_xnli():
    df = F.read_xnli(FIX / "xnli" / "XNLI-1.0" / "xnli.test.tsv")
    assert list(df.columns) == [*COLUMNS["pair"], "language"]
    assert df.to_dict("records") == [
        {"id": "en-1", "text": "The cat sat on the mat.", "text_pair": "A cat sat.", "label": 0, "language": "en"},
        {"id": "en-2", "text": "He left at noon.", "text_pair": "He never left.", "label": 2, "language": "en"},
        {"id": "de-1", "text": "Die Katze schläft.", "text_pair": "Die Katze ist müde.", "label": 1,
         "language": "de"},
        # "contradictory" (XNLI-MT's spelling) is read as contradiction, as XTREME does
        {"id": "de-2", "text": "Er ging mittags.", "text_pair": "Er ging nie.", "label": 2, "language": "de"},
    ]


def test_read_pawsx_keeps_the_ns_placeholder():
    df = F.read_pawsx(FIX / "pawsx" / "x-final" / "de" / "test_2k.tsv", "de")
    assert df[["id", "text_pair", "label"]].values.tolist() == [
        ["de-1", "Die Straße führt westwärts.", 1], ["de-2", "1950 starb er.", 0], ["de-3", "NS", 0]]
    assert set(df["language"]) == {"de"}


def test_read_udpos_words_not_multiword_tokens():
    df = F.read_udpos(FIX / "udpos", "de")
    tags = [[X.UPOS[i] for i in row] for row in df["tags"]]
    assert df["id"].tolist() == ["de_alpha-ud-test:s1", "de_alpha-ud-test:s2", "de_beta-ud-test:b1"]
    assert df["tokens"].tolist() == [["Wir", "gehen", "zu", "dem", "Markt", "."],  # "zum" = zu + dem
                                     ["Das", "z.B.", "geht", "."],  # space removed, empty node 2.1 skipped
                                     ["Ja", "!"]]  # last file has no final blank line; the '_' sentence is dropped
    assert tags == [["PRON", "VERB", "ADP", "DET", "NOUN", "PUNCT"], ["PRON", "ADV", "VERB", "PUNCT"],
                    ["INTJ", "PUNCT"]]
    assert "no file matches" in _error(F.read_udpos, FIX / "udpos", "fr")


def test_read_panx():
    df = F.read_panx(FIX / "panx" / "de-test", "de")
    assert df["tokens"].tolist() == [["Angela", "Merkel", "besucht", "Paris"],
                                     ["Die", "Deutsche", "Bahn", "streikt", "http://x.de"]]  # only the prefix is cut
    assert [[X.PANX_TAGS[i] for i in row] for row in df["tags"]] == [
        ["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O", "O"]]
    assert df["id"].tolist() == ["de-1", "de-2"]


def test_read_squad_formats():
    df = F.read_squad(FIX / "xquad" / "xquad.de.json", "de", "xquad")
    assert list(df.columns) == [*COLUMNS["span"], "language"]
    assert df[["id", "answer_start", "answer_text"]].values.tolist() == [
        ["q1", 22, "Dresden und Hamburg"], ["q2", 4, "Elbe"], ["q3", 17, "Hafenstadt"]]
    assert df["answers"][0] == ["Dresden und Hamburg", "Dresden"]
    mlqa = F.read_squad(FIX / "mlqa" / "MLQA_V1" / "test" / "test-context-de-question-de.json", "de", "mlqa")
    assert mlqa["id"].tolist() == ["5c4c0b6e1b8a3e2f"]
    tydi = F.read_squad(FIX / "tydiqa" / "tydiqa-goldp-v1.1-dev" / "tydiqa-goldp-dev-swahili.json", "sw", "tydiqa")
    assert tydi[["id", "answer_text", "language"]].values.tolist() == [["swahili-123-0", "Mto Nile", "sw"]]
    assert "unknown language 'sw' for MLQA" in _error(F.read_squad, FIX / "xquad" / "xquad.de.json", "sw", "mlqa")


def test_read_belebele():
    # the Hub repo at the pinned commit holds the official JSON lines: load_target reads a snapshot of it
    df = F.load_target("belebele", FIX / "belebele", "deu_Latn")
    link = "https://en.wikibooks.org/wiki/Elbe"
    # a link's second passage is told apart: the files carry no split to do it
    assert df["id"].tolist() == [f"{link}#1", f"{link}#2", f"{link}~2#1"]
    assert df["label"].tolist() == [1, 3, 0]  # correct_answer_num 2, 4, 1: one-indexed
    assert df["choices"][0][1] == "Wohin mündet die Elbe? In die Nordsee"
    assert df["context"][0].startswith("Die Elbe fließt")
    assert "unknown language 'deu_Latn' for XNLI" in _error(F.load_target, "xnli", FIX, "deu_Latn")


# --- bad input: one line naming the file and line/record -----------------------------------------


@pytest.mark.parametrize(("read", "name", "fragment"), [
    (lambda p: F.read_xnli(p), "xnli_columns.tsv", "xnli_columns.tsv: line 3: 12 tab-separated columns, expected 19"),
    (lambda p: F.read_xnli(p), "xnli_label.tsv", "xnli_label.tsv: line 4: label 'maybe' not in ['entailment'"),
    (lambda p: F.read_xnli(p), "xnli_language.tsv", "xnli_language.tsv: line 3: unknown language 'nl' for XNLI"),
    (lambda p: F.read_pawsx(p, "de"), "pawsx_columns.tsv", "pawsx_columns.tsv: line 2: 3 tab-separated columns"),
    (lambda p: F.read_pawsx(p, "de"), "pawsx_label.tsv", "pawsx_label.tsv: line 2: label '2' not in ['0', '1']"),
    (lambda p: F.read_pawsx(p, "it"), "pawsx_label.tsv", "pawsx_label.tsv: unknown language 'it' for PAWS-X"),
    (lambda p: F.read_conllu(p, "de"), "udpos_columns.conllu",
     "udpos_columns.conllu: line 3: 7 tab-separated columns, expected 10"),
    (lambda p: F.read_conllu(p, "de"), "udpos_tag.conllu", "udpos_tag.conllu: line 3: UPOS tag 'VB' not in"),
    (lambda p: F.read_conllu(p, "de"), "udpos_order.conllu",
     "udpos_order.conllu: line 3: word id '3' where 2 was expected"),
    (lambda p: F.read_panx(p, "de"), "panx_columns", "panx_columns: line 2: 1 tab-separated columns, expected 2"),
    (lambda p: F.read_panx(p, "de"), "panx_prefix", "panx_prefix: line 2: token 'fr:Paris' lacks the 'de:' prefix"),
    (lambda p: F.read_panx(p, "de"), "panx_tag", "panx_tag: line 2: tag 'I-MISC' not in"),
    (lambda p: F.read_squad(p, "de", "xquad"), "squad_syntax.json",
     "squad_syntax.json: line 2: bad JSON: Expecting value"),
    (lambda p: F.read_squad(p, "de", "xquad"), "squad_offset.json",
     "squad_offset.json: data[0].paragraphs[0].qas[1] (id q2): answer 0 'Elbe' not found at answer_start 5"),
    (lambda p: F.read_squad(p, "de", "xquad"), "squad_answers.json",
     "squad_answers.json: data[0].paragraphs[1].qas[0] (id q3): 'answers' missing or not a list"),
    (lambda p: F.read_belebele(p, "deu_Latn"), "belebele_json.jsonl", "belebele_json.jsonl: line 2: bad JSON"),
    (lambda p: F.read_belebele(p, "deu_Latn"), "belebele_answer.jsonl",
     "belebele_answer.jsonl: line 1: correct_answer_num '5' not in ['1', '2', '3', '4']"),
    (lambda p: F.read_belebele(p, "deu_Latn"), "belebele_dialect.jsonl",
     "belebele_dialect.jsonl: line 1: dialect 'fra_Latn' in the file of 'deu_Latn'"),
    (lambda p: F.read_belebele(p, "deu_Latn"), "no_such.jsonl", "no_such.jsonl: missing"),
])  # fmt: skip
def test_bad_input_is_one_line(read, name, fragment):
    assert fragment in _error(read, BAD / name)


# --- metrics ---------------------------------------------------------------------------------------


def test_accuracy():
    assert M.accuracy(["a", "b", "b", "c"], ["a", "b", "c", "c"]) == 75.0
    assert "3 gold items but 2 predictions" in _error(M.accuracy, [0, 1, 1], [0, 1])


def test_panx_entity_f1_is_not_token_accuracy():
    gold, pred = [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "O", "O", "B-LOC"]]
    assert M.accuracy(gold[0], pred[0]) == 75.0  # 3 of 4 tokens right ...
    assert M.seqeval_scores(gold, pred) == {"precision": 50.0, "recall": 50.0, "f1": 50.0}  # ... 1 of 2 entities
    # right boundaries, wrong type of the second token: no entity at all is right
    assert M.seqeval_scores([["B-PER", "I-PER"]], [["B-PER", "I-LOC"]])["f1"] == 0.0
    # seqeval's default mode is lenient, like conlleval: I-PER after O opens an entity (strict IOB2 would not)
    assert M.seqeval_scores(gold, [["I-PER", "I-PER", "O", "B-LOC"]])["f1"] == 100.0
    # sentences never share an entity: an O separates them
    assert M.get_entities([["B-PER"], ["I-PER"]]) == [("PER", 0, 0), ("PER", 2, 2)]
    assert "sentence 0 has 2 gold tags but 1 predicted" in _error(M.seqeval_scores, [["O", "O"]], [["O"]])


def test_udpos_f1_is_over_runs_of_equal_tags():
    # a run of equal tags is one chunk; SCONJ and SYM (prefix 'S' = single) are one chunk per token
    assert M.get_entities([["SCONJ", "SCONJ", "NOUN", "NOUN"]]) == [("SCONJ", 0, 0), ("SCONJ", 1, 1), ("NOUN", 2, 3)]
    gold, pred = [["NOUN", "NOUN", "VERB"]], [["NOUN", "VERB", "VERB"]]
    assert M.accuracy(gold[0], pred[0]) == pytest.approx(200 / 3)  # token accuracy 66.7 ...
    assert M.seqeval_scores(gold, pred)["f1"] == 0.0  # ... but neither run is right
    scores = M.seqeval_scores([["NOUN", "NOUN", "NOUN", "VERB"]], [["NOUN", "NOUN", "ADJ", "VERB"]])
    assert scores == pytest.approx({"precision": 100 / 3, "recall": 50.0, "f1": 40.0})
    # seqeval >= 1.0 reads the type after the first character: CCONJ and SCONJ both become "CONJ"
    assert M.seqeval_scores([["CCONJ"]], [["SCONJ"]], "0.0.12")["f1"] == 0.0
    assert M.seqeval_scores([["CCONJ"]], [["SCONJ"]], "1.2.2")["f1"] == 100.0


def test_squad_scores():
    answers = [["Dresden und Hamburg", "Dresden"], ["the Elbe"]]
    assert M.squad_scores(answers, ["Dresden", "Elbe"]) == {"exact_match": 100.0, "f1": 100.0}
    scores = M.squad_scores(answers, ["Hamburg", "river Elbe"])  # F1 max(2*(1*1/3)/(4/3), 0) = 0.5 and 2/3
    assert scores["exact_match"] == 0.0 and scores["f1"] == pytest.approx(100 * (0.5 + 2 / 3) / 2)


@pytest.mark.parametrize(("lang", "pred", "gold", "mlqa", "squad"), [
    ("de", "die Hauptstadt", "Hauptstadt", (1.0, 1.0), (0.0, 2 / 3)),  # German articles
    ("es", "«Madrid»", "Madrid", (1.0, 1.0), (0.0, 0.0)),  # Unicode punctuation
    ("zh", "北京大学", "北京", (0.0, 2 / 3), (0.0, 0.0)),  # one token per ideograph
    ("ar", "الكتاب", "كتاب", (1.0, 1.0), (0.0, 0.0)),  # every "ال" removed, as upstream's regex does
    ("en", "The Beatles!", "beatles", (1.0, 1.0), (1.0, 1.0)),  # English: the same as SQuAD
])  # fmt: skip
def test_mlqa_normalisation_differs_from_squad(lang, pred, gold, mlqa, squad):
    assert (M.mlqa_exact_match(pred, gold, lang), M.mlqa_f1(pred, gold, lang)) == pytest.approx(mlqa)
    scores = M.squad_scores([[gold]], [pred])
    assert (scores["exact_match"] / 100, scores["f1"] / 100) == pytest.approx(squad)


def test_mlqa_scores_and_languages():
    scores = M.mlqa_scores([["北京"], ["上海", "上海市"]], ["北京大学", "上海市"], "zh")
    assert scores == pytest.approx({"exact_match": 50.0, "f1": 100 * (2 / 3 + 1) / 2})
    assert M.mlqa_normalize("  Der «Rhein»,  die   Elbe. ", "de") == "rhein elbe"
    assert "no normalisation for language 'fr'" in _error(M.mlqa_normalize, "x", "fr")


# --- the real XQuAD files (../shared/data/xquad) ---------------------------------------------------

# Questions (of 1,190) whose gold answer is the context's first whitespace word, and the SQuAD F1 of
# predicting that first word for every question; computed once from the files (deepmind/xquad 60cac411).
FIRST_WORD = {
    "en": (12, 1.890145801910508), "es": (4, 2.4465671924461048), "de": (7, 2.434980052627111),
    "el": (2, 1.0277166344393234), "ru": (11, 2.35346446270816), "tr": (26, 4.156791854270844),
    "ar": (3, 1.138655462184874), "vi": (6, 3.03322084814787), "th": (22, 2.4936641323195947),
    "zh": (33, 2.984793917567026), "hi": (22, 3.9504426479216406), "ro": (10, 2.5725893228104635),
}  # fmt: skip


@pytest.fixture(scope="module")
def xquad_dir() -> Path:
    if not XQUAD_DIR.is_dir():
        pytest.skip("../shared/data/xquad is absent (fresh clone): no real XQuAD to read")
    return XQUAD_DIR


def test_real_xquad(xquad_dir):
    for lang, (first_word_em, first_word_f1) in FIRST_WORD.items():
        if lang == "ro":  # in deepmind/xquad, not in XTREME: refused by the loader, readable as plain SQuAD
            assert "unknown language 'ro' for XQuAD" in _error(F.load_target, "xquad", xquad_dir, "ro")
            df = F.read_squad(xquad_dir / "xquad.ro.json", "ro", None)
        else:
            df = F.load_target("xquad", xquad_dir, lang)  # sha256-checked against the pin
        assert (len(df), df["id"].nunique(), df["context"].nunique()) == (1190, 1190, 240), lang
        assert all(c[s : s + len(a)] == a for c, s, a in zip(df["context"], df["answer_start"], df["answer_text"]))
        answers = df["answers"].tolist()
        assert M.squad_scores(answers, df["answer_text"].tolist()) == {"exact_match": 100.0, "f1": 100.0}
        scores = M.squad_scores(answers, [c.split()[0] for c in df["context"]])
        assert scores["exact_match"] == pytest.approx(100 * first_word_em / 1190), lang
        assert math.isclose(scores["f1"], first_word_f1, rel_tol=1e-12), lang
