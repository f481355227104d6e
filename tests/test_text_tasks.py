"""English intermediate tasks (X-STILTs): registry, mapping of the official layouts, bundled loaders.

Offline. Upstream layouts come from hand-written fixtures (tests/fixtures/tasks/) loaded with
``datasets.load_dataset("json", ...)``; tests that read ``../shared/data`` skip without it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import datasets
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from benchmark.data import task_tables, tasks
from benchmark.data.spec import BUNDLE_DIR, MANIFEST, verify_bundle
from benchmark.io import BenchmarkError, sha256_file
from benchmark.schema import declare

FIXTURES = Path(__file__).parent / "fixtures" / "tasks"
EXPECTED = {  # name: (format, num_labels, bundled)
    "anli_plus": ("pair", 3, None),
    "mnli": ("pair", 3, None),
    "qqp": ("pair", 2, None),
    "sst2": ("single", 2, None),
    "ccg": ("tagging", 1363, None),
    "commonsenseqa": ("choice", 5, None),
    "cosmosqa": ("choice", 4, "cosmosqa.parquet"),
    "hellaswag": ("choice", 4, "hellaswag.parquet"),
    "squad": ("span", 0, None),
}
ROWS = {"hellaswag": 10042, "cosmosqa": 2985}
# (train, heldout) items of the bundled split by source group, and its held-out groups
GROUPED = {"hellaswag": (9016, 1026, 933), "cosmosqa": (2659, 326, 254)}
GROUP_BY = {"anli_plus": "premise", "mnli": "premise", "qqp": "item", "sst2": "item", "ccg": "item",
            "commonsenseqa": "item", "cosmosqa": "passage", "hellaswag": "clip", "squad": "passage"}


def _dataset(path: Path, cache: Path) -> Any:
    kind = "parquet" if path.suffix == ".parquet" else "json"
    return datasets.load_dataset(kind, data_files=str(path), split="train", cache_dir=str(cache))


def fixture_fetch(cache: Path, files: dict[str, Path] | None = None) -> tasks.Fetch:
    """The hub path's ``fetch`` with local files: every split of a layout reads its one fixture."""

    def fetch(pin: tasks.HubPin, split: str) -> tuple[Any, str]:
        path = (files or {}).get(pin.layout, FIXTURES / f"{pin.layout}.jsonl")
        return _dataset(path, cache), str(path)

    return fetch


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def fixture_rows(layout: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / f"{layout}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the two text-task files with the manifest: the loaders' ``data_dir``."""
    out = tmp_path_factory.mktemp("bundle")
    for name in ("hellaswag.parquet", "cosmosqa.parquet", MANIFEST):
        shutil.copyfile(BUNDLE_DIR / name, out / name)
    return out


@pytest.fixture(scope="module")
def loaded(bundle: Path) -> dict[str, dict[str, pd.DataFrame]]:
    return {name: task_tables.load_task(name, "bundle", bundle) for name in ROWS}


# --- registry ------------------------------------------------------------------------------------


def test_nine_tasks_as_expected() -> None:
    assert set(tasks.TASKS) == set(EXPECTED)
    for name, (fmt, n, bundled) in EXPECTED.items():
        spec = tasks.TASKS[name]
        assert (spec.name, spec.format, spec.num_labels, spec.bundled) == (name, fmt, n, bundled)
        assert spec.languages == ("eng",) and spec.license and spec.citation.startswith("@")
        assert tasks.TaskSpec(**spec.model_dump()) == spec  # every spec re-validates
    assert "nine intermediate" in tasks.PAPER and "2005.13013" in tasks.PAPER
    assert "could NOT be found" in tasks.__doc__  # the docstring says what the paper text did not give


def test_chance_and_metric() -> None:
    for spec in tasks.TASKS.values():
        if spec.format == "span":
            assert (spec.metric, spec.chance) == ("squad_f1", 0.0)
        else:
            assert spec.metric == "accuracy" and spec.chance == pytest.approx(1 / spec.num_labels)
    assert tasks.TASKS["hellaswag"].chance == tasks.TASKS["cosmosqa"].chance == 0.25


def test_pins_real_or_explicitly_unresolved() -> None:
    resolved = {p.repo: p.revision for s in tasks.TASKS.values() for p in s.upstream if p.resolved}
    assert resolved == {
        "nyu-mll/glue": tasks.GLUE_REV,
        "facebook/anli": tasks.ANLI_REV,
        "stanfordnlp/snli": tasks.SNLI_REV,
        "Rowan/hellaswag": tasks.HELLASWAG_REV,
        "rajpurkar/squad": "7b6d24c440a36b6815f21b70d25016731768db1f",
    }
    assert all(re.fullmatch(r"[0-9a-f]{40}", rev) for rev in resolved.values())
    unresolved = {s.name for s in tasks.TASKS.values() if not s.resolved}
    assert unresolved == {"ccg", "commonsenseqa", "cosmosqa"}
    anli_plus = tasks.TASKS["anli_plus"].upstream
    assert [p.name for p in anli_plus] == ["anli_r1", "anli_r2", "anli_r3", "mnli", "snli"]
    assert [p.heldout_split for p in anli_plus] == ["dev_r1", "dev_r2", "dev_r3", None, None]
    assert not tasks.TASKS["sst2"].bundled  # no explicit license: never bundled


@pytest.mark.parametrize(
    "change",
    [
        {"chance": 0.3},  # not 1/num_labels
        {"metric": "squad_f1"},
        {"num_labels": 1},
        {"bundled": None},  # heldout_share without a bundled file
        {"unexpected": 1},
        {"group_by": "premise"},  # a choice task has no premise
        {"group_by": "title"},
    ],
)
def test_task_spec_rejects(change: dict) -> None:
    fields = tasks.TASKS["hellaswag"].model_dump() | change
    with pytest.raises(ValidationError):
        tasks.TaskSpec(**fields)


def test_hub_pin_needs_exactly_one_revision() -> None:
    base = {"name": "x", "repo": "a/b", "layout": "squad", "train_split": "train", "heldout_split": "validation"}
    with pytest.raises(ValidationError):
        tasks.HubPin(**base)
    with pytest.raises(ValidationError):
        tasks.HubPin(**base, revision="0" * 40, revision_unresolved="why")
    with pytest.raises(ValidationError):
        tasks.HubPin(**base, revision="abc1234")  # short SHA
    with pytest.raises(BenchmarkError, match="^invalid TaskSpec 'bad': "):
        declare(tasks.TaskSpec, **(tasks.TASKS["mnli"].model_dump() | {"name": "bad", "chance": 0.5}))


def test_spec_is_frozen() -> None:
    with pytest.raises(ValidationError):
        tasks.TASKS["mnli"].num_labels = 4  # type: ignore[misc]


# --- the hub path on the official layouts -------------------------------------------------------


def build(name: str, tmp_path: Path, files: dict[str, Path] | None = None) -> dict[str, pd.DataFrame]:
    return task_tables.build_tables(tasks.TASKS[name], fixture_fetch(tmp_path / "cache", files))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_task_maps_its_fixture(name: str, tmp_path: Path) -> None:
    out = build(name, tmp_path)
    spec = tasks.TASKS[name]
    for split in tasks.SPLITS:
        assert tuple(out[split].columns) == tasks.COLUMNS[spec.format]
        assert len(out[split]) > 0 and out[split]["id"].is_unique
    again = build(name, tmp_path)
    for split in tasks.SPLITS:
        pd.testing.assert_frame_equal(out[split], again[split])  # deterministic


def test_pair_and_single_mappings(tmp_path: Path) -> None:
    mnli = build("mnli", tmp_path)["train"]
    assert mnli.iloc[0].to_dict() == {"id": "0", "text": "The new rights are nice enough.",
                                      "text_pair": "Everyone really likes the newest benefits.", "label": 1}
    assert build("qqp", tmp_path)["heldout"]["label"].tolist() == [1, 0, 1]
    sst2 = build("sst2", tmp_path)["train"]
    assert sst2["text"].iloc[1] == "the plot is thin and the jokes fall flat " and sst2["label"].dtype == "int64"


def test_anli_plus_concatenates_and_drops_snli_without_gold(tmp_path: Path) -> None:
    out = build("anli_plus", tmp_path)
    train, heldout = out["train"], out["heldout"]
    # 3 ANLI rounds x 3 + MNLI 4 + SNLI 4 minus its one label -1 row.
    assert len(train) == 3 * 3 + 4 + 3 and len(heldout) == 3 * 3
    assert train["id"].str.split(":").str[0].tolist() == ["anli_r1"] * 3 + ["anli_r2"] * 3 + ["anli_r3"] * 3 + [
        "mnli"] * 4 + ["snli"] * 3  # fmt: skip
    assert "snli:2" not in set(train["id"])  # the row without a gold label
    assert set(heldout["id"].str.split(":").str[0]) == {"anli_r1", "anli_r2", "anli_r3"}
    assert set(train["label"]) == {0, 1, 2}


def test_choice_mappings(tmp_path: Path) -> None:
    hs = build("hellaswag", tmp_path)["heldout"].iloc[0]
    assert hs["id"] == "24" and hs["context"] == "Roof shingle removal: A man is sitting on a roof. he"
    assert hs["choices"][3] == "starts pulling up roofing on a roof." and hs["label"] == 3
    cos = build("cosmosqa", tmp_path)["train"].iloc[2]
    assert cos["choices"][2] == "What may happen after the kids swim ? They will dry off and warm up ."
    assert cos["context"].startswith("We went to the beach") and cos["label"] == 2
    csqa = build("commonsenseqa", tmp_path)["train"]
    assert csqa["context"].iloc[1] == "Where would you put a plate after washing it?"
    assert csqa["choices"].iloc[2] == ["burn it", "read it", "eat it", "sell it", "lose it"]
    assert csqa["label"].tolist() == [0, 0, 1]


def test_span_and_tagging_mappings(tmp_path: Path) -> None:
    squad = build("squad", tmp_path)["heldout"].iloc[0]
    assert (squad["answer_start"], squad["answer_text"]) == (77, "National Football League")
    assert squad["answers"] == ["National Football League", "the National Football League", "NFL"]
    ccg = build("ccg", tmp_path)["train"].iloc[1]
    assert ccg["tokens"] == ["The", "museum", "is", "closed", "."] and ccg["tags"] == [4, 1, 6, 9, 5]


def test_parquet_upstream_file_maps_the_same(tmp_path: Path) -> None:
    path = tmp_path / "hellaswag.parquet"
    pq.write_table(pa.Table.from_pylist(fixture_rows("hellaswag")), path)
    from_parquet = build("hellaswag", tmp_path, {"hellaswag": path})
    pd.testing.assert_frame_equal(from_parquet["train"], build("hellaswag", tmp_path)["train"])


def test_hub_path_calls_load_dataset_with_the_pins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fixture = _dataset(FIXTURES / "glue_mnli.jsonl", tmp_path / "cache")

    def fake(repo: str, config: str | None, revision: str, split: str, cache_dir: str) -> Any:
        calls.append((repo, config, revision, split))
        assert cache_dir == str(tmp_path / "hub")
        return fixture

    monkeypatch.setattr(datasets, "load_dataset", fake)
    out = task_tables.load_task("mnli", "hub", tmp_path)  # the data folder: its datasets cache is hub/
    assert calls == [("nyu-mll/glue", "mnli", tasks.GLUE_REV, "train"),
                     ("nyu-mll/glue", "mnli", tasks.GLUE_REV, "validation_matched")]  # fmt: skip
    assert len(out["train"]) == len(out["heldout"]) == 4


def test_hub_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("no route to host\nsecond line")

    monkeypatch.setattr(datasets, "load_dataset", fail)
    with pytest.raises(BenchmarkError) as e:
        task_tables.load_task("sst2", "hub", tmp_path)
    assert str(e.value) == (f"nyu-mll/glue@{tasks.GLUE_REV}/train: cannot load from the Hugging Face Hub: "
                            "ConnectionError: no route to host")  # fmt: skip


@pytest.mark.parametrize("name", ["ccg", "commonsenseqa", "cosmosqa"])
def test_hub_refuses_unresolved_pins(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("must not download"))
    with pytest.raises(BenchmarkError, match=rf"task '{name}': upstream .* is not pinned to a commit") as e:
        task_tables.load_task(name, "hub", tmp_path)
    assert "\n" not in str(e.value)


def test_unknown_task_and_unbundled_task(bundle: Path) -> None:
    with pytest.raises(BenchmarkError, match="^unknown task 'xnli'; expected one of anli_plus, mnli, "):
        task_tables.load_task("xnli", "bundle", bundle)
    with pytest.raises(BenchmarkError, match="task 'sst2' is not bundled .*use source 'hub'"):
        task_tables.load_task("sst2", "bundle", bundle)


# --- malformed upstream rows: one line naming the file and the row -------------------------------


def test_missing_label(tmp_path: Path) -> None:
    rows = fixture_rows("hellaswag")
    rows[1]["label"] = ""  # HellaSwag's own marker of "no label" (its test split)
    path = write_jsonl(tmp_path / "hellaswag.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("hellaswag", tmp_path, {"hellaswag": path})
    assert str(e.value) == f"{path}: row 1: label missing"


def test_null_label_is_missing_not_float(tmp_path: Path) -> None:
    rows = fixture_rows("glue_mnli")
    rows[2]["label"] = None
    path = write_jsonl(tmp_path / "mnli.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("mnli", tmp_path, {"glue_mnli": path})
    assert str(e.value) == f"{path}: row 2: label missing"  # rows 0-1 (floats in pandas) passed


def test_out_of_range_label(tmp_path: Path) -> None:
    rows = fixture_rows("cosmos_qa")
    rows[2]["label"] = 4
    path = write_jsonl(tmp_path / "cosmos.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("cosmosqa", tmp_path, {"cosmos_qa": path})
    assert str(e.value) == f"{path}: row 2: label 4 out of range 0..3"


def test_empty_choice(tmp_path: Path) -> None:
    rows = fixture_rows("commonsense_qa")
    rows[0]["choices"]["text"][2] = " "
    path = write_jsonl(tmp_path / "csqa.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("commonsenseqa", tmp_path, {"commonsense_qa": path})
    assert str(e.value) == f"{path}: row 0: choice 2 empty"
    rows = fixture_rows("cosmos_qa")
    rows[1]["answer3"] = ""  # would hide behind the question prefix
    path = write_jsonl(tmp_path / "cosmos.jsonl", rows)
    with pytest.raises(BenchmarkError, match=rf"^{re.escape(str(path))}: row 1: choice 3 empty \(answer3\)$"):
        build("cosmosqa", tmp_path, {"cosmos_qa": path})


def test_wrong_number_of_choices(tmp_path: Path) -> None:
    rows = fixture_rows("hellaswag")
    rows[2]["endings"] = rows[2]["endings"][:3]
    path = write_jsonl(tmp_path / "hellaswag.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("hellaswag", tmp_path, {"hellaswag": path})
    assert str(e.value) == f"{path}: row 2: 3 choices, expected 4"


def test_span_outside_context_or_not_matching(tmp_path: Path) -> None:
    rows = fixture_rows("squad")
    rows[1]["answers"]["answer_start"][0] = 140
    path = write_jsonl(tmp_path / "squad.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("squad", tmp_path, {"squad": path})
    assert str(e.value) == f"{path}: row 1: answer 'Denver Broncos' at 140 lies outside the context (144 chars)"
    rows[1]["answers"]["answer_start"][0] = 47
    path = write_jsonl(tmp_path / "squad.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("squad", tmp_path, {"squad": path})
    assert str(e.value) == f"{path}: row 1: context[47:61] is ' Denver Bronco', not the answer 'Denver Broncos'"


def test_tags_length_mismatch_and_range(tmp_path: Path) -> None:
    rows = fixture_rows("ccg_tokens_tags")
    rows[1]["tags"] = rows[1]["tags"][:-1]
    path = write_jsonl(tmp_path / "ccg.jsonl", rows)
    with pytest.raises(BenchmarkError) as e:
        build("ccg", tmp_path, {"ccg_tokens_tags": path})
    assert str(e.value) == f"{path}: row 1: 5 tokens but 4 tags"
    rows = fixture_rows("ccg_tokens_tags")
    rows[2]["tags"][0] = 1363
    path = write_jsonl(tmp_path / "ccg.jsonl", rows)
    with pytest.raises(BenchmarkError, match=r": row 2: tag 1363 out of range 0\.\.1362$"):
        build("ccg", tmp_path, {"ccg_tokens_tags": path})


def test_bad_answer_key_and_missing_columns(tmp_path: Path) -> None:
    rows = fixture_rows("commonsense_qa")
    rows[2]["answerKey"] = "F"
    path = write_jsonl(tmp_path / "csqa.jsonl", rows)
    with pytest.raises(BenchmarkError, match=r": row 2: answerKey 'F' not among the choice labels"):
        build("commonsenseqa", tmp_path, {"commonsense_qa": path})
    rows = [{k: v for k, v in r.items() if k != "hypothesis"} for r in fixture_rows("glue_mnli")]
    path = write_jsonl(tmp_path / "mnli.jsonl", rows)
    with pytest.raises(BenchmarkError, match=r"missing columns \['hypothesis'\] of the official glue/mnli layout"):
        build("mnli", tmp_path, {"glue_mnli": path})


# --- bundled loaders ---------------------------------------------------------------------------


def test_bundle_manifest_lists_the_text_tasks() -> None:
    manifest = verify_bundle(BUNDLE_DIR)
    for name, rows in ROWS.items():
        entry = manifest["files"][f"{name}.parquet"]
        assert entry["rows"] == rows
    assert manifest["source"]["hellaswag"]["repo"] == "klosax/hellaswag_text_data"
    attribution = (BUNDLE_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert tasks.COSMOSQA_LICENSE_COMMIT in attribution and "CC BY 4.0" in attribution
    license_text = (BUNDLE_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "Copyright (c) 2019 Rowan Zellers" in license_text and "(CC BY 4.0)" in license_text
    assert "sst" not in " ".join(manifest["files"]).lower()


@pytest.mark.parametrize("name", sorted(ROWS))
def test_bundled_split_counts_and_rule(name: str, loaded: dict) -> None:
    train, heldout = loaded[name]["train"], loaded[name]["heldout"]
    assert len(train) + len(heldout) == ROWS[name]
    assert (len(train), len(heldout)) == GROUPED[name][:2]
    assert not set(train["id"]) & set(heldout["id"])
    assert 0.08 < len(heldout) / ROWS[name] < 0.12  # heldout_share 0.1 by hash of each group's first id
    spec = tasks.TASKS[name]
    keys = tasks.group_keys(spec, pd.concat([train, heldout], ignore_index=True))
    assert (keys[: len(train)].map(lambda k: tasks.split_of(k, 0.1)) == "train").all()
    assert (keys[len(train) :].map(lambda k: tasks.split_of(k, 0.1)) == "heldout").all()
    assert keys[len(train) :].nunique() == GROUPED[name][2]
    assert tuple(train.columns) == tasks.COLUMNS["choice"] and spec.chance == 0.25
    assert train["choices"].map(len).eq(4).all() and train["label"].between(0, 3).all()
    assert train.index.tolist() == list(range(len(train)))


def test_bundled_load_is_deterministic(bundle: Path, loaded: dict) -> None:
    again = task_tables.load_task("cosmosqa", "bundle", bundle)
    for split in tasks.SPLITS:
        pd.testing.assert_frame_equal(again[split], loaded["cosmosqa"][split])


def test_bundled_rows_look_right(loaded: dict) -> None:
    hs = pd.concat([loaded["hellaswag"][s] for s in tasks.SPLITS]).set_index("id")
    first = hs.loc["val-00000"]
    assert first["context"] == "Roof shingle removal: A man is sitting on a roof. he" and first["label"] == 3
    assert first["choices"][3] == "starts pulling up roofing on a roof."
    cos = pd.concat([loaded["cosmosqa"][s] for s in tasks.SPLITS])
    assert cos["id"].is_unique and cos["context"].str.len().gt(0).all()


def test_split_rule_is_fixed() -> None:
    # Pinned values: changing the rule would silently move items between train and heldout.
    assert [i for i in range(40) if tasks.split_of(f"val-{i:05d}", 0.1) == "heldout"] == [0, 12, 19, 26]
    digest_rule = {i: tasks.split_of(str(i), 0.5) for i in range(200)}
    assert 70 < sum(v == "heldout" for v in digest_rule.values()) < 130
    assert tasks.split_of("x", 0.999999) == "heldout" and tasks.split_of("x", 1e-12) == "train"


# --- source groups: no held-out item shares its source with a training item ------------------------


def test_every_task_declares_its_group_rule() -> None:
    assert {name: spec.group_by for name, spec in tasks.TASKS.items()} == GROUP_BY


def test_group_keys_on_hand_rows() -> None:
    hs = tasks.TASKS["hellaswag"]
    rows = pd.DataFrame({"id": ["c", "b", "a", "d", "e", "f"], "context": [
        "Baking cookies: A person is pressing buttons on an oven. a girl",
        "Baking cookies: A person is pressing buttons on an oven. A girl pours ingredients into a bowl. she",
        "Baking cookies: A girl pours  ingredients into a BOWL. She mixes them. the mixes",  # chain via sentence
        "Sumo: He smiles. two men",  # a 2-word sentence links nothing
        "Surfing: He smiles. the man",
        "Baking cookies: She mixes them. she",  # 3 words: same clip as "a"
    ], "choices": [["x"] * 4] * 6, "label": [0] * 6})
    assert tasks.group_keys(hs, rows).tolist() == ["a", "a", "a", "d", "e", "a"]
    assert len(tasks.group_links("clip", rows.iloc[3].to_dict())) == 1  # the 12-word prefix only
    prefix = {"id": "x", "context": "Sumo: He smiles broadly at the two men in the ring while the crowd cheers loudly."}
    same_start = {"id": "y", "context": "Sumo: he smiles broadly at the two men in the ring while the referee waits"}
    assert tasks.group_links("clip", prefix) & tasks.group_links("clip", same_start)  # same first 12 words
    cos = tasks.TASKS["cosmosqa"]
    table = pd.DataFrame({"id": ["q2", "q1", "q3"], "context": ["One passage.", "one  passage.", "Another."]})
    assert tasks.group_keys(cos, table).tolist() == ["q1", "q1", "q3"]
    pairs = pd.DataFrame({"id": ["1", "2"], "text": ["A premise.", "A premise."], "text_pair": ["h1", "h2"]})
    assert tasks.group_keys(tasks.TASKS["mnli"], pairs).tolist() == ["1", "1"]
    assert tasks.group_keys(tasks.TASKS["qqp"], pairs).tolist() == ["1", "2"]  # item: only the id
    assert tasks.shares_group(cos, table, table.iloc[:1]).tolist() == [True, True, False]
    assert not tasks.shares_group(tasks.TASKS["qqp"], pairs, pairs).any()  # ids of two splits differ in meaning


def _prefix(context: str) -> str:
    return " ".join(context.lower().split()[:12])


def _old_split(name: str, bundle: Path) -> dict[str, pd.DataFrame]:
    """The split by item id that the bundle used before groups (the leak this rule closes)."""
    spec = tasks.TASKS[name]
    df = task_tables.validate(spec, pq.read_table(bundle / spec.bundled, columns=list(tasks.COLUMNS["choice"])).to_pandas(),
                        name)
    split = df["id"].map(lambda i: tasks.split_of(i, 0.1))
    return {s: df[split == s].reset_index(drop=True) for s in tasks.SPLITS}


def test_bundled_heldout_shares_no_source_with_train(bundle: Path, loaded: dict) -> None:
    # Scored: the first 250 held-out items against the first 400 training items (the mini pool).
    for name, split in (("old", None), ("grouped", loaded)):
        for task in ROWS:
            spec = tasks.TASKS[task]
            tables = _old_split(task, bundle) if split is None else split[task]
            train, heldout = tables["train"], tables["heldout"]
            pool, scored = train.head(400), heldout.head(250)
            counts = (
                int(scored["context"].map(_prefix).isin(set(pool["context"].map(_prefix))).sum()),
                int(scored["context"].isin(set(pool["context"])).sum()),
                int(tasks.shares_group(spec, scored, pool).sum()),
                int(tasks.shares_group(spec, heldout, train).sum()),
            )  # shared 12-word prefix, shared passage, shared group: scored vs pool; any held-out vs train
            expected = {("old", "hellaswag"): (18, 0, 26, 172), ("old", "cosmosqa"): (18, 18, 18, 79)}
            assert counts == expected.get((name, task), (0, 0, 0, 0)), (name, task)
    for task in ROWS:  # and no group on both sides
        full = pd.concat([loaded[task][s].assign(side=s) for s in tasks.SPLITS], ignore_index=True)
        assert full.groupby(tasks.group_keys(tasks.TASKS[task], full))["side"].nunique().max() == 1


def test_task_tables_score_only_heldout_items_of_unseen_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark import paths
    from benchmark.config import load_params
    from benchmark.pipeline import task_data

    params = load_params(Path(__file__).resolve().parents[1] / "params.yaml")
    assert (params.data.source, params.data.task_pool) == ("bundle", 400)
    monkeypatch.setattr(paths, "BUNDLE", BUNDLE_DIR)
    for task in ROWS:  # bundled: whole groups are held out already, so the guard drops nothing
        tables = task_data.task_tables(params, task)
        assert [len(tables[p]) for p in ("train", "fit", "heldout")] == [400, task_data.FIT_EXAMPLES, 250]
        assert not tasks.shares_group(tasks.TASKS[task], tables["heldout"], tables["train"]).any()
        assert tables["heldout"]["id"].tolist() == task_tables.load_task(task, "bundle")["heldout"]["id"].head(250).tolist()
    # An upstream split pair whose validation repeats training passages (the hub path): those are dropped.
    train = pd.DataFrame({"id": ["t1", "t2"], "context": ["Passage one.", "Passage two."]})
    heldout = pd.DataFrame({"id": ["v1", "v2", "v3"], "context": ["passage TWO.", "Passage three.", "Passage one."]})
    monkeypatch.setattr(task_data, "load_task", lambda *a: {"train": train, "heldout": heldout})
    assert task_data.task_tables(params, "cosmosqa")["heldout"]["id"].tolist() == ["v2"]


def test_malformed_bundled_file_names_file_and_row(bundle: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "bundle"
    shutil.copytree(bundle, data_dir)
    path = data_dir / "cosmosqa.parquet"
    table = pq.read_table(path)
    labels = table.column("label").to_pylist()
    labels[17] = 4
    pq.write_table(table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels, pa.int32())), path)
    manifest = json.loads((data_dir / MANIFEST).read_text())
    manifest["files"]["cosmosqa.parquet"]["sha256"] = sha256_file(path)
    (data_dir / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BenchmarkError) as e:
        task_tables.load_task("cosmosqa", "bundle", data_dir)
    assert str(e.value) == f"{path}: row 17: label 4 out of range 0..3"


def test_corrupt_bundled_file_is_refused(bundle: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "bundle"
    shutil.copytree(bundle, data_dir)
    with open(data_dir / "hellaswag.parquet", "ab") as f:
        f.write(b"\0")
    with pytest.raises(BenchmarkError, match="hellaswag.parquet: sha256 mismatch"):
        task_tables.load_task("hellaswag", "bundle", data_dir)


# --- against the read-only source copies (skipped in a fresh clone) ------------------------------


def test_bundle_matches_shared_sources(shared_data: Path, loaded: dict) -> None:
    for name, read, rel in (
        ("hellaswag", task_tables.read_hellaswag_text, "hellaswag/hellaswag_val_full.txt.bz2"),
        ("cosmosqa", task_tables.read_cosmosqa_csv, "cosmosqa/valid.csv"),
    ):
        source = read(shared_data / rel)[list(tasks.COLUMNS["choice"])]
        source = task_tables.validate(tasks.TASKS[name], source, rel).set_index("id")
        bundled = pd.concat([loaded[name][s] for s in tasks.SPLITS]).set_index("id").loc[source.index]
        pd.testing.assert_frame_equal(bundled, source)
    raw = pd.read_csv(shared_data / "cosmosqa" / "valid.csv", dtype=str, keep_default_na=False)
    cos = pd.concat([loaded["cosmosqa"][s] for s in tasks.SPLITS]).set_index("id").loc[raw["id"]]
    assert (cos["choices"].str[1].to_numpy() == (raw["question"] + " " + raw["answer1"]).to_numpy()).all()
