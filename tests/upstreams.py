"""Tiny copies of every Hugging Face dataset repository the ``full`` profile's textual tasks read, in
each repository's official layout (file paths, README ``configs``, columns and value types: those of
tests/fixtures/tasks), filled with real text from ../shared/data: FLORES-200's English dev sentences
for the sentence-pair and tagging layouts, SST-2's own sentences, XQuAD's English questions in SQuAD's
layout, HellaSwag's and Cosmos QA's own validation items. The labels of the FLORES-built pairs and tags
are arbitrary (a rehearsal exercises code paths, not what is learned).

``HUB_REPOS`` maps a repository to (the commit its spec pins, or None where ``benchmark lock`` resolves
the branch; its files); the loopback Hub (tests/hub_server.py) serves them.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
from hub_server import SHARED, cosmos

from benchmark.data import xtreme as X
from benchmark.data.task_tables import read_hellaswag_text
from benchmark.data.tasks import TASKS

TRAIN, HELDOUT = 48, 24  # rows per split: enough for a few steps of batch 8 and a held-out evaluation
# Where a lab puts its licensed CCGbank copy (no public one exists): `benchmark lock --source` names it.
CCG_REPO = "lab/ccgbank"


def _parquet(rows: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    rows.to_parquet(buf, index=False)
    return buf.getvalue()


def _readme(configs: dict[str, list[str]], folder: dict[str, str]) -> bytes:
    """A dataset card whose YAML ``configs`` map each config's splits to its files, as the Hub's do."""
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {s}\n    path: {folder[name]}/{s}-*" for s in splits]
    return ("\n".join([*lines, "---", ""])).encode()


def _english(start: int, n: int) -> list[str]:
    lines = (SHARED / "flores200" / "dev" / "eng_Latn.dev").read_text(encoding="utf-8").splitlines()
    return lines[start:start + n]


def _pairs(first: str, second: str, classes: int, start: int, n: int, **extra: list) -> pd.DataFrame:
    text = _english(start, n + 1)
    return pd.DataFrame({first: text[:n], second: text[1:], "label": [i % classes for i in range(n)], **extra})


def _splits(make, names: tuple[str, ...]) -> dict[str, pd.DataFrame]:  # noqa: ANN001 - (start, n) -> rows
    """Consecutive, disjoint rows per split (no held-out item shares its text with a training one)."""
    sizes = [TRAIN if name.startswith("train") else HELDOUT for name in names]
    starts = [sum(sizes[:i]) + i for i in range(len(names))]  # + i: a pair reads one line past its rows
    return {name: make(start, n) for name, start, n in zip(names, starts, sizes)}


def _repo(configs: dict[str, dict[str, pd.DataFrame]], folder: dict[str, str]) -> dict[str, bytes]:
    files = {"README.md": _readme({c: list(s) for c, s in configs.items()}, folder)}
    for config, splits in configs.items():
        files |= {f"{folder[config]}/{split}-00000-of-00001.parquet": _parquet(rows) for split, rows in splits.items()}
    return files


def _glue() -> dict[str, bytes]:
    idx = lambda n: {"idx": list(range(n))}  # noqa: E731
    mnli = _splits(lambda s, n: _pairs("premise", "hypothesis", 3, s, n, **idx(n)), ("train", "validation_matched"))
    qqp = _splits(lambda s, n: _pairs("question1", "question2", 2, 200 + s, n, **idx(n)), ("train", "validation"))
    sst = pd.read_csv(SHARED / "sst2" / "train_full.tsv", sep="\t", quoting=3)
    sst2 = _splits(lambda s, n: sst.iloc[s:s + n].reset_index(drop=True).assign(idx=range(n)), ("train", "validation"))
    return _repo({"mnli": mnli, "qqp": qqp, "sst2": sst2}, {c: c for c in ("mnli", "qqp", "sst2")})


def _anli() -> dict[str, bytes]:
    def rows(s: int, n: int) -> pd.DataFrame:
        return _pairs("premise", "hypothesis", 3, s, n, uid=[f"anli-{s + i}" for i in range(n)],
                      reason=["" for _ in range(n)])
    splits = _splits(lambda s, n: rows(300 + s, n), ("train_r1", "dev_r1", "train_r2", "dev_r2", "train_r3", "dev_r3"))
    return _repo({"plain_text": splits}, {"plain_text": "plain_text"})


def _snli() -> dict[str, bytes]:
    splits = _splits(lambda s, n: _pairs("premise", "hypothesis", 3, 550 + s, n), ("train", "validation"))
    splits["train"].loc[0, "label"] = -1  # SNLI's "no gold label": the loader drops it
    return _repo({"plain_text": splits}, {"plain_text": "plain_text"})


def _squad() -> dict[str, bytes]:
    data = json.loads((SHARED / "xquad" / "xquad.en.json").read_text(encoding="utf-8"))["data"]
    rows = [{"id": qa["id"], "title": article["title"], "context": p["context"], "question": qa["question"],
             "answers": {"text": [a["text"] for a in qa["answers"]],
                         "answer_start": [a["answer_start"] for a in qa["answers"]]}}
            for article in data for p in article["paragraphs"] for qa in p["qas"]]
    table = pd.DataFrame(rows)
    return _repo({"plain_text": _splits(lambda s, n: table.iloc[s:s + n].reset_index(drop=True),
                                        ("train", "validation"))}, {"plain_text": "plain_text"})


def _hellaswag() -> dict[str, bytes]:
    items = read_hellaswag_text(SHARED / "hellaswag" / "hellaswag_val_full.txt.bz2")

    def rows(s: int, n: int) -> pd.DataFrame:
        part = items.iloc[s:s + n]
        activity, ctx = zip(*(c.split(": ", 1) for c in part["context"]))
        return pd.DataFrame({"ind": range(s, s + n), "activity_label": activity, "ctx_a": ctx, "ctx_b": "",
                             "ctx": ctx, "endings": part["choices"].tolist(), "source_id": "activitynet~v_0",
                             "split": "val", "split_type": "indomain", "label": part["label"].astype(str).tolist()})
    return _repo({"default": _splits(rows, ("train", "validation"))}, {"default": "data"})


def _commonsense_qa() -> dict[str, bytes]:
    valid = pd.read_csv(SHARED / "cosmosqa" / "valid.csv")

    def rows(s: int, n: int) -> pd.DataFrame:
        part = valid.iloc[300 + s:300 + s + n]
        return pd.DataFrame({
            "id": part["id"].tolist(), "question": part["question"].tolist(), "question_concept": "person",
            "choices": [{"label": list("ABCDE"), "text": [*(r[f"answer{k}"] for k in range(4)), "none of them"]}
                        for _, r in part.iterrows()],
            "answerKey": ["ABCD"[int(label)] for label in part["label"]]})
    return _repo({"default": _splits(rows, ("train", "validation"))}, {"default": "data"})


def _ccg() -> dict[str, bytes]:
    tags = TASKS["ccg"].num_labels

    def rows(s: int, n: int) -> pd.DataFrame:
        words = [line.split() for line in _english(800 + s, n)]
        return pd.DataFrame({"tokens": words, "tags": [[sum(map(ord, w)) % tags for w in ws] for ws in words]})
    return _repo({"default": _splits(rows, ("train", "validation"))}, {"default": "data"})


def _cosmos() -> dict[str, bytes]:
    return cosmos(0, TRAIN + HELDOUT)


HUB_REPOS: dict[str, tuple[str | None, dict[str, bytes]]] = {
    "nyu-mll/glue": (TASKS["mnli"].upstream[0].revision, _glue()),
    "facebook/anli": (TASKS["anli_plus"].upstream[0].revision, _anli()),
    "stanfordnlp/snli": (TASKS["anli_plus"].upstream[4].revision, _snli()),
    "rajpurkar/squad": (TASKS["squad"].upstream[0].revision, _squad()),
    "Rowan/hellaswag": (TASKS["hellaswag"].upstream[0].revision, _hellaswag()),
    "tau/commonsense_qa": (None, _commonsense_qa()),
    "allenai/cosmos_qa": (None, _cosmos()),
    CCG_REPO: (None, _ccg()),
}


# --- XTREME's upstreams: archives at their URLs (served through BENCHMARK_URL_MIRROR), two Hub repositories ---
# Each test file is tests/fixtures/xtreme's (hand-written, in the official layout) repeated for every
# language the task lists, its language fields rewritten; XQuAD is the real files (pinned by sha256).
XTREME_FIX = Path(__file__).parent / "fixtures" / "xtreme"


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in sorted(files.items()):
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def _tgz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _fixture(path: str) -> str:
    return (XTREME_FIX / path).read_text(encoding="utf-8")


def _xnli() -> bytes:
    header, *rows = _fixture("xnli/XNLI-1.0/xnli.test.tsv").splitlines()
    de = [r for r in rows if r.startswith("de\t")]
    lines = [header] + [f"{lang}\t{r.split(chr(9), 1)[1]}" for lang in X.TARGETS["xnli"].languages for r in de]
    return _zip({"XNLI-1.0/xnli.test.tsv": ("\n".join(lines) + "\n").encode()})


def _pawsx() -> bytes:
    test = _fixture("pawsx/x-final/de/test_2k.tsv").encode()
    return _tgz({f"x-final/{lang}/test_2k.tsv": test for lang in X.TARGETS["pawsx"].languages})


def _english_tagged(start: int, tags: tuple[str, ...]) -> list[list[tuple[str, str]]]:
    """TRAIN English FLORES sentences, each word with a tag of ``tags`` (arbitrary, as for CCG above)."""
    return [[(w, tags[sum(map(ord, w)) % len(tags)]) for w in line.split()] for line in _english(start, TRAIN)]


def _ud() -> bytes:
    test = _fixture("udpos/ud-treebanks-v2.7/UD_German-Alpha/de_alpha-ud-test.conllu").encode()
    files = {f"ud-treebanks-v2.7/UD_{lang}-Alpha/{lang}_alpha-ud-test.conllu": test for lang in X.TARGETS["udpos"].languages}
    train = "".join(f"# sent_id = en-{n}\n" + "".join(f"{i}\t{w}\t_\t{t}\t_\t_\t0\t_\t_\t_\n"
                                                         for i, (w, t) in enumerate(words, start=1)) + "\n"
                    for n, words in enumerate(_english_tagged(100, X.TARGETS["udpos"].labels), start=1))
    return _tgz(files | {"ud-treebanks-v2.7/UD_English-Alpha/en_alpha-ud-train.conllu": train.encode()})


def _panx() -> bytes:
    de = _fixture("panx/de-test")
    english = "".join("".join(f"en:{w}\t{t}\n" for w, t in words) + "\n"
                      for words in _english_tagged(300, ("O", "B-PER", "O", "B-LOC")))
    inner = {f"panx_dataset/{lang}.tar.gz": _tgz({split: (english if (lang, split) == ("en", "train") else
                                                          de.replace("de:", f"{lang}:")).encode()
                                                  for split in ("dev", "test", "train", "extra")})
             for lang in X.TARGETS["panx"].languages}
    return _zip(inner)


def _mlqa() -> bytes:
    test = _fixture("mlqa/MLQA_V1/test/test-context-de-question-de.json").encode()
    return _zip({f"MLQA_V1/test/test-context-{lang}-question-{lang}.json": test for lang in X.TARGETS["mlqa"].languages})


def _tydiqa_dev() -> bytes:
    sw = _fixture("tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-swahili.json")
    return _tgz({f"tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json": sw.replace("swahili-", f"{name}-").encode()
                 for name in X.TYDIQA_NAMES.values()})


def _tydiqa_train() -> bytes:
    """Every language in one file, as TyDiQA ships it: XQuAD's English questions as ``english-``, one
    other language's beside them (the reader keeps English only)."""
    data = json.loads((SHARED / "xquad" / "xquad.en.json").read_text(encoding="utf-8"))["data"][:2]
    for article in data:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                qa["id"] = f"english-{qa['id']}"
    other = json.loads(_fixture("tydiqa/tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-swahili.json"))["data"]
    return json.dumps({"version": "1.1", "data": data + other}).encode()


def _xquad() -> dict[str, bytes]:
    pin = X.TARGETS["xquad"].upstream
    return {pin.url.format(file=f): (SHARED / "xquad" / f).read_bytes() for f in pin.sha256}


def _belebele() -> dict[str, bytes]:
    records = [json.loads(line) for line in _fixture("belebele/data/deu_Latn.jsonl").splitlines() if line.strip()]
    return {f"data/{lang}.jsonl": "".join(json.dumps({**r, **({"dialect": lang} if "dialect" in r else {})}) + "\n"
                                          for r in records).encode() for lang in X.BELEBELE_LANGUAGES}


def _paws() -> dict[str, bytes]:
    rows = _pairs("sentence1", "sentence2", 2, 900, TRAIN, id=list(range(1, TRAIN + 1)))
    return _repo({"labeled_final": {"train": rows[["id", "sentence1", "sentence2", "label"]]}},
                 {"labeled_final": "labeled_final"})


def _url(target: str, which: str = "upstream") -> str:
    return str(getattr(X.TARGETS[target], which).url)


# URL (as the specs name it) -> bytes; the specs pin none of these but XQuAD: `benchmark lock` records them.
XTREME_URLS: dict[str, bytes] = {
    _url("xnli"): _xnli(), _url("pawsx"): _pawsx(), _url("udpos"): _ud(), _url("panx"): _panx(),
    _url("mlqa"): _mlqa(), _url("tydiqa"): _tydiqa_dev(), _url("tydiqa", "train_source"): _tydiqa_train(),
    **_xquad(),
}
XTREME_REPOS: dict[str, tuple[str | None, dict[str, bytes]]] = {
    "google-research-datasets/paws": (X.TARGETS["pawsx"].train_source.revision, _paws()),
    "facebook/belebele": (X.TARGETS["belebele"].upstream.revision, _belebele()),
}
