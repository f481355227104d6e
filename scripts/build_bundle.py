#!/usr/bin/env python
"""Build ``benchmark/data/bundle/`` (and the upstream pins) from the read-only source data.

FLORES-200/SIB-200 subsets, and the COCO ``mini`` training data: 224x224 re-encodes of the COCO-MINI
images whose license allows derivatives, their captions and instance annotations, and COCO-QA-style
questions generated from those (rules in :mod:`benchmark.data.coco`). Also the validation sets of two
English intermediate tasks, HellaSwag and Cosmos QA, in the normalized choice schema of
:mod:`benchmark.data.tasks` (SST-2 has no explicit license and is never bundled). And the whole
Tatoeba test set of LASER (112 languages paired with English, every pair).

The output is byte-for-byte reproducible: tables are assembled with pyarrow directly (no pandas
metadata), rows have a fixed order, and parquet is written with fixed settings in one row group.
Running this twice must give identical sha256 for every file.

    python scripts/build_bundle.py [--shared ../shared/data] [--out benchmark/data/bundle]
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmark.data import coco, task_tables, tasks  # noqa: E402
from benchmark.io import BenchmarkError, atomic_dir, read_lines, sha256_file, write_json  # noqa: E402

SPLIT_SIZES = {"dev": 997, "devtest": 1012}
SIB_SPLITS = {"train": 701, "dev": 99, "test": 204}
PIVOT = "eng_Latn"

# Upstream locations at pinned commits (full SHAs resolved from the public repositories).
FLORES_REPO = "common-parallel-corpora/common-parallel-corpora"
FLORES_REV = "dbc2cd91df89c52dffe899efe7ea4dff63e172fc"
FLORES_URL = f"https://raw.githubusercontent.com/{FLORES_REPO}/{FLORES_REV}/data/common-parallel-corpora/{{path}}"
SIB_REPO = "dadelani/sib-200"
SIB_REV = "593cea88519930f776c1a4a1980b6a35b39dca57"
SIB_URL = f"https://raw.githubusercontent.com/{SIB_REPO}/{SIB_REV}/data/eng/{{path}}"
# Only the short SHA of the metadata's source commit is known (see ATTRIBUTION.md).
META_REPO = "Helsinki-NLP/OPUS-MT-testsets"
META_REV_SHORT = "ac0f19c0"
META_URL = f"https://raw.githubusercontent.com/{META_REPO}/{META_REV_SHORT}/datasets/facebook/flores/flores200_dataset/{{path}}"
# Where the shared COCO copies come from (see ../shared/data/SOURCES.md); short SHAs only.
COCO_MINI_REPO, COCO_MINI_REV_SHORT = "Obmutescence/COCO-MINI", "644f29e7"
COCO_VAL_CAPTIONS_REPO, COCO_VAL_CAPTIONS_REV_SHORT = "ruizewang/evaluate", "1152656d"
COCO_MIN_CAPTIONS = 2
# Where the shared HellaSwag / Cosmos QA copies come from (see ../shared/data/SOURCES.md).
HELLASWAG_FILE = "hellaswag/hellaswag_val_full.txt.bz2"
HELLASWAG_TEXT_REPO, HELLASWAG_TEXT_REV_SHORT = "klosax/hellaswag_text_data", "1105d370"
COSMOSQA_FILE = "cosmosqa/valid.csv"
COSMOSQA_REPO, COSMOSQA_REV_SHORT = "wilburOne/cosmosqa", "b6eb99cc"
TEXT_ROWS = {"hellaswag": 10042, "cosmosqa": 2985}
# Tatoeba as LASER ships it (see ../shared/data/SOURCES.md): only the short SHA of the commit is known.
TATOEBA_REPO, TATOEBA_REV_SHORT, TATOEBA_FOLDER_REV_SHORT = "facebookresearch/LASER", "74bc6ae7", "2aa9cf82"
TATOEBA_URL = f"https://raw.githubusercontent.com/{TATOEBA_REPO}/{TATOEBA_REV_SHORT}/data/tatoeba/v1/{{path}}"
TATOEBA_FILE = "tatoeba.parquet"
TATOEBA_LANGS, TATOEBA_PAIRS = 112, 88_877
# Per-file dictionary encoding: never for unique text or image bytes.
DICTIONARY: dict[str, bool | list[str]] = {
    "flores200_sib.parquet": False,
    coco.IMAGES_FILE: ["source_split", "license_name", "license_url", "split"],
    coco.CAPTIONS_FILE: False,
    coco.OBJECTS_FILE: ["category", "supercategory"],
    "hellaswag.parquet": False,
    # Several questions share one Cosmos QA passage; everything else is unique text.
    "cosmosqa.parquet": ["context"],
    # 112 language codes repeated over 88,877 rows; the sentences are (nearly) unique.
    TATOEBA_FILE: ["language"],
}

# One row group, no dictionaries for unique sentences, fixed zstd level: stable bytes, small size.
PARQUET_OPTS = dict(compression="zstd", compression_level=9, row_group_size=1 << 20, write_statistics=True)


def read_flores_file(path: Path, expected: int) -> list[str]:
    # Split on "\n" only: str.splitlines would also split on U+2028 etc. inside sentences.
    text = path.read_bytes().decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != expected:
        raise BenchmarkError(f"{path}: expected {expected} lines, found {len(lines)}")
    return lines


def read_sib_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or list(rows[0]) != ["index_id", "category", "text"]:
        raise BenchmarkError(f"{path}: unexpected header")
    return rows


def read_metadata(path: Path, expected: int) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if rows[0] != ["URL", "domain", "topic", "has_image", "has_hyperlink"]:
        raise BenchmarkError(f"{path}: unexpected header {rows[0]}")
    body = rows[1:]
    if len(body) != expected or any(len(r) != 5 for r in body):
        raise BenchmarkError(f"{path}: expected {expected} rows of 5 fields")
    return body


def write_parquet(table: pa.Table, path: Path, dictionary: bool | list[str]) -> None:
    pq.write_table(table.replace_schema_metadata(None), path, use_dictionary=dictionary, **PARQUET_OPTS)


def loose(text: str) -> str:
    return " ".join(text.replace('"', " ").split())


def yes_no(value: str, where: str) -> bool:
    if value not in ("yes", "no"):
        raise BenchmarkError(f"{where}: expected yes/no, got {value!r}")
    return value == "yes"


def build(shared: Path, out: Path, pins_dir: Path) -> dict:
    flores, sib = shared / "flores200", shared / "sib200"
    langs = sorted(p.name[: -len(".dev")] for p in (flores / "dev").glob("*.dev"))
    if len(langs) != 205 or PIVOT not in langs:
        raise BenchmarkError(f"{flores / 'dev'}: expected 205 languages incl. {PIVOT}, found {len(langs)}")

    sib_rows = {s: read_sib_tsv(sib / f"{s}.tsv") for s in SIB_SPLITS}
    for s, n in SIB_SPLITS.items():
        if len(sib_rows[s]) != n:
            raise BenchmarkError(f"{sib / f'{s}.tsv'}: expected {n} rows, found {len(sib_rows[s])}")
    categories = [c for c in (sib / "labels.txt").read_text(encoding="utf-8").split("\n") if c]
    ids = sorted({int(r["index_id"]) for rows in sib_rows.values() for r in rows})
    total = sum(SPLIT_SIZES.values())
    if not all(0 <= i < total for i in ids):
        raise BenchmarkError("SIB index_id out of FLORES range")

    def locate(i: int) -> tuple[str, int]:
        return ("dev", i) if i < SPLIT_SIZES["dev"] else ("devtest", i - SPLIT_SIZES["dev"])

    columns: dict[str, list[str]] = {}
    for lang in langs:
        full = read_flores_file(flores / "dev" / f"{lang}.dev", SPLIT_SIZES["dev"])
        full += read_flores_file(flores / "devtest" / f"{lang}.devtest", SPLIT_SIZES["devtest"])
        columns[lang] = [full[i] for i in ids]

    # SIB's English text must be FLORES eng_Latn at index_id, else the alignment assumption is wrong.
    eng = dict(zip(ids, columns[PIVOT]))
    mismatches = []
    for s, rows in sib_rows.items():
        for r in rows:
            if r["category"] not in categories:
                raise BenchmarkError(f"{s}.tsv: unknown category {r['category']!r}")
            if r["text"] != eng[int(r["index_id"])]:
                mismatches.append((s, int(r["index_id"]), r["text"], eng[int(r["index_id"])]))
    # Upstream SIB lost the double quotes of a few sentences (FLORES is authoritative and is what
    # we bundle); differences in quotes/whitespace only are reported, anything else is misalignment.
    hard = [m for m in mismatches if loose(m[2]) != loose(m[3])]
    if hard:
        detail = "; ".join(f"{s}:{i} sib={a!r} flores={b!r}" for s, i, a, b in hard[:3])
        raise BenchmarkError(f"{len(hard)} SIB texts differ from FLORES {PIVOT}: {detail}")

    tmp_files: dict[str, pa.Table] = {}
    tmp_files["flores200_sib.parquet"] = pa.table(
        {"index_id": pa.array(ids, pa.int32()), **{lang: pa.array(columns[lang], pa.string()) for lang in langs}}
    )
    order = [(s, r) for s in SIB_SPLITS for r in sib_rows[s]]
    tmp_files["sib200_labels.parquet"] = pa.table(
        {
            "index_id": pa.array([int(r["index_id"]) for _, r in order], pa.int32()),
            "split": pa.array([s for s, _ in order], pa.string()),
            "category": pa.array([r["category"] for _, r in order], pa.string()),
        }
    )
    meta = {s: read_metadata(flores / f"metadata_{s}.tsv", n) for s, n in SPLIT_SIZES.items()}
    located = [locate(i) for i in ids]
    rows = [meta[s][line] for s, line in located]
    tmp_files["flores200_metadata.parquet"] = pa.table(
        {
            "index_id": pa.array(ids, pa.int32()),
            "flores_split": pa.array([s for s, _ in located], pa.string()),
            "line": pa.array([line for _, line in located], pa.int32()),
            "url": pa.array([r[0] for r in rows], pa.string()),
            "domain": pa.array([r[1] for r in rows], pa.string()),
            "topic": pa.array([r[2] for r in rows], pa.string()),
            "has_image": pa.array([yes_no(r[3], f"metadata:{i}") for i, r in zip(ids, rows)], pa.bool_()),
            "has_hyperlink": pa.array([yes_no(r[4], f"metadata:{i}") for i, r in zip(ids, rows)], pa.bool_()),
        }
    )

    coco_tables, coco_info = build_coco(shared / "coco")
    tmp_files |= coco_tables
    text_tables, text_source = build_text_tasks(shared)
    tmp_files |= text_tables
    tmp_files[TATOEBA_FILE], tatoeba_counts = build_tatoeba(shared / "tatoeba")

    pins = write_pins(shared, pins_dir, langs)
    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # mkdtemp creates 0700; the bundle is ordinary package data
        manifest: dict = {"files": {}, "source": pins | {"coco": coco_info["source"]} | text_source}
        for name, table in tmp_files.items():
            write_parquet(table, tmp / name, dictionary=DICTIONARY.get(name, True))
            manifest["files"][name] = {
                "sha256": sha256_file(tmp / name),
                "rows": table.num_rows,
                "columns": table.num_columns,
            }
        # Byte-exact CC BY-SA text first (FLORES/SIB), then the licenses of the text-task files.
        license_text = (flores / "LICENSE-CC-BY-SA").read_bytes() + (TEXT_TASK_LICENSES + TATOEBA_LICENSE).encode("utf-8")
        (tmp / "LICENSE").write_bytes(license_text)
        attribution = ATTRIBUTION + coco_attribution(coco_info) + TEXT_TASK_ATTRIBUTION + tatoeba_attribution(tatoeba_counts)
        (tmp / "ATTRIBUTION.md").write_text(attribution, encoding="utf-8")
        for name in ("LICENSE", "ATTRIBUTION.md"):
            manifest["files"][name] = {"sha256": sha256_file(tmp / name)}
        write_json(tmp / "MANIFEST.json", manifest)
    return {
        "text_rows": {name: t.num_rows for name, t in text_tables.items()},
        "tatoeba": tatoeba_counts,
        "ids": len(ids),
        "langs": len(langs),
        "categories": categories,
        "loose_mismatches": mismatches,
        "coco": coco_info,
    }


def _str(values: list) -> pa.Array:
    return pa.array(values, pa.string())


def build_coco(root: Path) -> tuple[dict[str, pa.Table], dict]:
    """COCO tables: images (license-filtered, re-encoded), captions, objects, generated questions.

    Image metadata: train images from the COCO-MINI captions file, val images from the official
    captions_val2017.json (COCO-MINI's val annotations cover only 79 of its 159 val images; both
    copies are checked to agree). Captions likewise; instances exist only in COCO-MINI's files."""
    mini = root / "mini" / "annotations"
    full_val = root / "captions_val2017" / "captions_val2017.json"
    meta = {"train2017": coco.read_image_info(mini / "captions_train2017.json"), "val2017": coco.read_image_info(full_val)}
    caps = {"train2017": coco.read_captions_json(mini / "captions_train2017.json"), "val2017": coco.read_captions_json(full_val)}
    mini_val_meta = coco.read_image_info(mini / "captions_val2017.json")
    mini_val_caps = coco.read_captions_json(mini / "captions_val2017.json")
    if not mini_val_meta.merge(meta["val2017"], how="left", indicator=True)["_merge"].eq("both").all():
        raise BenchmarkError(f"{mini / 'captions_val2017.json'}: image records differ from {full_val}")
    if not mini_val_caps.merge(caps["val2017"], how="left", indicator=True)["_merge"].eq("both").all():
        raise BenchmarkError(f"{mini / 'captions_val2017.json'}: captions differ from {full_val}")

    rows: list[dict] = []
    for source in coco.SOURCE_SPLITS:
        folder = root / "mini" / source
        info = meta[source].set_index("image_id")
        for path in sorted(folder.glob("*.jpg")):
            image_id = int(path.stem)
            if image_id not in info.index:
                raise BenchmarkError(f"{path}: image id {image_id} absent from the {source} annotations")
            rows.append({"image_id": image_id, "source_split": source, "path": path, **info.loc[image_id].to_dict()})
    rows.sort(key=lambda r: r["image_id"])
    if len({r["image_id"] for r in rows}) != len(rows):
        raise BenchmarkError(f"{root / 'mini'}: an image id appears in both train2017 and val2017")
    no_derivs = [r for r in rows if "NoDerivs" in r["license_name"]]
    captions = pd.concat([caps[s] for s in coco.SOURCE_SPLITS], ignore_index=True)
    n_caps = captions.groupby("image_id").size()
    few_caps = [r for r in rows if "NoDerivs" not in r["license_name"] and n_caps.get(r["image_id"], 0) < COCO_MIN_CAPTIONS]
    kept = [r for r in rows if "NoDerivs" not in r["license_name"] and n_caps.get(r["image_id"], 0) >= COCO_MIN_CAPTIONS]
    kept_ids = [r["image_id"] for r in kept]

    jpegs = []
    for r in kept:
        data = r["path"].read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            if im.size != (r["width"], r["height"]):
                raise BenchmarkError(f"{r['path']}: {im.size} px, annotations say {(r['width'], r['height'])}")
        jpegs.append(coco.square_jpeg(data))
    images = pa.table(
        {
            "image_id": pa.array(kept_ids, pa.int64()),
            "source_split": _str([r["source_split"] for r in kept]),
            "file_name": _str([r["file_name"] for r in kept]),
            "license_id": pa.array([int(r["license_id"]) for r in kept], pa.int32()),
            "license_name": _str([r["license_name"] for r in kept]),
            "license_url": _str([r["license_url"] for r in kept]),
            "flickr_url": _str([r["flickr_url"] for r in kept]),
            "coco_url": _str([r["coco_url"] for r in kept]),
            "width": pa.array([int(r["width"]) for r in kept], pa.int32()),
            "height": pa.array([int(r["height"]) for r in kept], pa.int32()),
            "jpeg": pa.array(jpegs, pa.binary()),
            "split": _str([coco.split_of(i) for i in kept_ids]),
        }
    )

    captions = captions[captions["image_id"].isin(kept_ids)].sort_values(["image_id", "caption_id"], kind="stable")
    caption_table = pa.table(
        {
            "image_id": pa.array(captions["image_id"].tolist(), pa.int64()),
            "caption_id": pa.array(captions["caption_id"].tolist(), pa.int64()),
            "caption": _str(captions["caption"].tolist()),
        }
    )

    objects = []
    for source in coco.SOURCE_SPLITS:
        path = mini / f"instances_{source}.json"
        cats = json.loads(path.read_bytes())["categories"]
        if [(c["id"], c["name"], c["supercategory"]) for c in cats] != [tuple(c) for c in coco.CATEGORIES]:
            raise BenchmarkError(f"{path}: categories differ from benchmark.data.coco.CATEGORIES")
        objects.append(coco.read_instances_json(path)[1])
    obj = pd.concat(objects, ignore_index=True)
    obj = obj[obj["image_id"].isin(kept_ids)].sort_values(["image_id", "annotation_id"], kind="stable")
    object_table = pa.table(
        {
            "image_id": pa.array(obj["image_id"].tolist(), pa.int64()),
            "annotation_id": pa.array(obj["annotation_id"].tolist(), pa.int64()),
            "category_id": pa.array(obj["category_id"].tolist(), pa.int32()),
            "category": _str(obj["category"].tolist()),
            "supercategory": _str(obj["supercategory"].tolist()),
            "area": pa.array(obj["area"].tolist(), pa.float64()),
            "iscrowd": pa.array(obj["iscrowd"].tolist(), pa.bool_()),
        }
    )

    qa = coco.generate_qa(obj)
    qa_table = pa.table(
        {
            "question_id": pa.array(qa["question_id"].tolist(), pa.int64()),
            "image_id": pa.array(qa["image_id"].tolist(), pa.int64()),
            "question_type": _str(qa["question_type"].tolist()),
            "question": _str(qa["question"].tolist()),
            "answers": pa.array(qa["answers"].tolist(), pa.list_(pa.string())),
            "split": _str(qa["split"].tolist()),
        }
    )

    splits = collections.Counter(coco.split_of(i) for i in kept_ids)
    info = {
        "images": len(kept),
        "images_seen": len(rows),
        "no_derivs": len(no_derivs),
        "no_derivs_by_license": dict(sorted(collections.Counter(r["license_name"] for r in no_derivs).items())),
        "too_few_captions": len(few_caps),
        "splits": dict(sorted(splits.items())),
        "licenses": sorted(
            collections.Counter((int(r["license_id"]), r["license_name"], r["license_url"]) for r in kept).items()
        ),
        "captions": caption_table.num_rows,
        "objects": object_table.num_rows,
        "object_images": len(set(obj["image_id"])),
        "questions": dict(sorted(collections.Counter(qa["question_type"]).items())),
        "jpeg_bytes": sum(len(j) for j in jpegs),
        "source": {
            "mini": {"repo": COCO_MINI_REPO, "revision_short_unresolved": COCO_MINI_REV_SHORT},
            "captions_val2017": {
                "repo": COCO_VAL_CAPTIONS_REPO,
                "revision_short_unresolved": COCO_VAL_CAPTIONS_REV_SHORT,
            },
            "files": {
                str(p.relative_to(root)): sha256_file(p)
                for p in [*sorted(mini.glob("captions_*.json")), *sorted(mini.glob("instances_*.json")), full_val]
            },
        },
    }
    tables = {coco.IMAGES_FILE: images, coco.CAPTIONS_FILE: caption_table, coco.OBJECTS_FILE: object_table, coco.QA_FILE: qa_table}
    return tables, info


def _choice_table(df: pd.DataFrame, extra: tuple[str, ...] = ()) -> pa.Table:
    cols = {"id": _str(df["id"].tolist()), "context": _str(df["context"].tolist())}
    cols |= {c: _str(df[c].tolist()) for c in extra}
    cols["choices"] = pa.array(df["choices"].tolist(), pa.list_(pa.string()))
    cols["label"] = pa.array(df["label"].tolist(), pa.int32())
    return pa.table(cols)


def build_text_tasks(shared: Path) -> tuple[dict[str, pa.Table], dict]:
    """HellaSwag and Cosmos QA validation items, normalized and validated exactly as the loader
    will read them; rows in upstream order (the held-out share is chosen at load time by item id)."""
    tables, source = {}, {}
    for name, rel, read, extra, repo, rev in (
        ("hellaswag", HELLASWAG_FILE, task_tables.read_hellaswag_text, (), HELLASWAG_TEXT_REPO, HELLASWAG_TEXT_REV_SHORT),
        ("cosmosqa", COSMOSQA_FILE, task_tables.read_cosmosqa_csv, ("question",), COSMOSQA_REPO, COSMOSQA_REV_SHORT),
    ):
        path = shared / rel
        df = read(path)
        task_tables.validate(tasks.TASKS[name], df[list(tasks.COLUMNS["choice"])], str(path))
        if len(df) != TEXT_ROWS[name]:
            raise BenchmarkError(f"{path}: expected {TEXT_ROWS[name]} items, found {len(df)}")
        tables[f"{name}.parquet"] = _choice_table(df, extra)
        source[name] = {"repo": repo, "revision_short_unresolved": rev, "files": {rel: sha256_file(path)}}
    return tables, source


def tatoeba_languages(folder: Path) -> list[str]:
    """The codes of the ``tatoeba.<xxx>-eng.<xxx>`` files in LASER's folder (README.md aside)."""
    langs = sorted(p.name.split(".")[1].removesuffix("-eng") for p in folder.glob("tatoeba.*-eng.eng"))
    if len(langs) != TATOEBA_LANGS:
        raise BenchmarkError(f"{folder}: expected {TATOEBA_LANGS} tatoeba.<xxx>-eng.eng files, found {len(langs)}")
    expected = sorted(name for lang in langs for name in (f"tatoeba.{lang}-eng.{lang}", f"tatoeba.{lang}-eng.eng"))
    if sorted(p.name for p in folder.iterdir() if p.name != "README.md") != expected:
        raise BenchmarkError(f"{folder}: expected exactly the pairs tatoeba.<xxx>-eng.{{<xxx>,eng}} and README.md")
    return langs


def build_tatoeba(folder: Path) -> tuple[pa.Table, dict[str, int]]:
    """Every pair, rows by language then line: ``language``, ``index_id`` (0-based line), ``text``, ``eng``.

    Read independently of :func:`benchmark.data.tatoeba.read_official` (which imports the pins this
    script writes); tests check the two agree row for row."""
    language, index_id, text, eng = [], [], [], []
    counts: dict[str, int] = {}
    for lang in tatoeba_languages(folder):
        src, tgt = read_lines(folder / f"tatoeba.{lang}-eng.{lang}"), read_lines(folder / f"tatoeba.{lang}-eng.eng")
        if len(src) != len(tgt) or not src:
            raise BenchmarkError(f"{folder}: tatoeba.{lang}-eng.{lang} has {len(src)} lines, .eng has {len(tgt)}")
        empty = [i for i, (a, b) in enumerate(zip(src, tgt), 1) if not a.strip() or not b.strip()]
        if empty:
            raise BenchmarkError(f"{folder}: tatoeba.{lang}-eng.*: line {empty[0]} is empty")
        counts[lang] = len(src)
        language += [lang] * len(src)
        index_id += range(len(src))
        text += src
        eng += tgt
    if len(language) != TATOEBA_PAIRS:
        raise BenchmarkError(f"{folder}: expected {TATOEBA_PAIRS} pairs, found {len(language)}")
    table = pa.table(
        {
            "language": _str(language),
            "index_id": pa.array(index_id, pa.int32()),
            "text": _str(text),
            "eng": _str(eng),
        }
    )
    return table, counts


def write_pins(shared: Path, pins_dir: Path, langs: list[str]) -> dict:
    """sha256 of every upstream file the ``full`` profile downloads; the spec module loads these."""
    flores, sib = shared / "flores200", shared / "sib200"
    flores_files = {
        f"flores-200-{s}/{lang}.{s}": sha256_file(flores / s / f"{lang}.{s}") for s in SPLIT_SIZES for lang in langs
    }
    meta_files = {f"metadata_{s}.tsv": sha256_file(flores / f"metadata_{s}.tsv") for s in SPLIT_SIZES}
    sib_files = {f"{s}.tsv": sha256_file(sib / f"{s}.tsv") for s in SIB_SPLITS}
    sib_files["labels.txt"] = sha256_file(sib / "labels.txt")
    tatoeba = shared / "tatoeba"
    tatoeba_files = {
        name: sha256_file(tatoeba / name)
        for lang in tatoeba_languages(tatoeba)
        for name in (f"tatoeba.{lang}-eng.{lang}", f"tatoeba.{lang}-eng.eng")
    }
    pins = {
        "flores200": {"repo": FLORES_REPO, "revision": FLORES_REV, "url_template": FLORES_URL, "files": flores_files},
        "flores200_metadata": {
            "repo": META_REPO,
            "revision_short_unresolved": META_REV_SHORT,
            "url_template": META_URL,
            "files": meta_files,
        },
        "sib200": {"repo": SIB_REPO, "revision": SIB_REV, "url_template": SIB_URL, "files": sib_files},
        "tatoeba": {
            "repo": TATOEBA_REPO,
            "revision_short_unresolved": TATOEBA_REV_SHORT,
            "url_template": TATOEBA_URL,
            "files": tatoeba_files,
        },
    }
    write_json(pins_dir / "flores200.json", {"sentences": pins["flores200"], "metadata": pins["flores200_metadata"]})
    write_json(pins_dir / "sib200.json", pins["sib200"])
    write_json(pins_dir / "tatoeba.json", pins["tatoeba"])
    return {
        k: {kk: vv for kk, vv in v.items() if kk not in ("files", "url_template")} | {"files": len(v["files"])}
        for k, v in pins.items()
    }


ATTRIBUTION = f"""# Bundled data: attribution

These files are small, compressed subsets of public datasets, shipped so that the benchmark runs
offline. The FLORES-200 and SIB-200 files are licensed under **CC BY-SA 4.0** (see `LICENSE`,
https://creativecommons.org/licenses/by-sa/4.0/); anything derived from them must be shared alike.
The COCO files (`coco_*.parquet`) are under the licenses given in the COCO section below;
`hellaswag.parquet` is under the **MIT** license and `cosmosqa.parquet` under **CC BY 4.0** (both
at the end of `LICENSE`; see their section below); `tatoeba.parquet` is under **CC BY 2.0 FR**
(Tatoeba's terms of use; see the last section below).

| file | what |
|---|---|
| `flores200_sib.parquet` | FLORES-200 sentences for the 1004 FLORES items used by SIB-200, in all 205 language codes (204 official + `nqo_Nkoo`); column `index_id` then one column per language |
| `sib200_labels.parquet` | SIB-200 topic labels: `index_id`, `split` (train/dev/test: 701/99/204), `category` (7 labels) |
| `flores200_metadata.parquet` | FLORES-200 per-sentence metadata (URL, domain, topic, has_image, has_hyperlink) for the same items |

## Sources

- **FLORES-200** (NLLB Team, 2022, "No Language Left Behind: Scaling Human-Centered Machine
  Translation", arXiv:2207.04672), with the N'Ko (`nqo_Nkoo`) extension of the Common Parallel
  Corpora project: `{FLORES_REPO}` @ `{FLORES_REV}`,
  `data/common-parallel-corpora/flores-200-{{dev,devtest}}/`. License: CC BY-SA 4.0.
- **FLORES-200 metadata** (`metadata_{{dev,devtest}}.tsv`): `{META_REPO}` @ `{META_REV_SHORT}`
  (short SHA; the full commit SHA could not be resolved offline). License: CC BY-SA 4.0.
- **SIB-200** (Adelani et al., 2023, "SIB-200: A Simple, Inclusive, and Big Evaluation Dataset for
  Topic Classification in 200+ Languages and Dialects", arXiv:2309.07445), derived from FLORES-200:
  `{SIB_REPO}` @ `{SIB_REV}`, `data/eng/{{train,dev,test}}.tsv`. License: CC BY-SA 4.0 (as FLORES-200).

SIB-200's `index_id` indexes the concatenation FLORES dev (0..996) + devtest (997..2008).

## Changes made

- Subsetting: only the FLORES-200 lines whose index appears in SIB-200 (train, dev or test) are kept.
- Reformatting: plain-text files and TSVs were converted to parquet (zstd); text is otherwise
  unchanged (UTF-8, trailing newline stripped); `has_image`/`has_hyperlink` became booleans.

The FLORES maintainers ask that the sentences not be re-hosted as plain text on the public web
(to limit contamination of web-crawled training data), so they ship here only as compressed parquet.
Please do not re-publish them as plain text.
"""


def coco_attribution(info: dict) -> str:
    licenses = "\n".join(f"| {i} | {name} | {url} | {n} |" for (i, name, url), n in info["licenses"])
    excluded = ", ".join(f"{name}: {n}" for name, n in info["no_derivs_by_license"].items())
    questions = ", ".join(f"{t} {n}" for t, n in info["questions"].items())
    return f"""
## COCO (`coco_*.parquet`)

| file | what |
|---|---|
| `coco_images.parquet` | {info["images"]} COCO 2017 images (train {info["splits"].get("train", 0)}, held-out {info["splits"].get("heldout", 0)}): id, source split, file name, per-image license (id, name, URL), Flickr and COCO URLs, original width/height, `jpeg` (224x224 re-encode), `split` |
| `coco_captions.parquet` | their {info["captions"]} human captions (`image_id`, `caption_id`, `caption`) |
| `coco_objects.parquet` | {info["objects"]} instance annotations of the {info["object_images"]} bundled images that have them (category, supercategory, area, iscrowd; no boxes or masks) |
| `coco_qa.parquet` | questions generated from those annotations, COCO-QA style ({questions}); answers are derived from the annotations, not written by people |

- **Source**: Microsoft COCO 2017 (Lin et al., 2014, "Microsoft COCO: Common Objects in Context",
  ECCV 2014, arXiv:1405.0312), https://cocodataset.org, via copies of COCO-MINI
  (`{COCO_MINI_REPO}` @ `{COCO_MINI_REV_SHORT}`: 80 train2017 + 159 val2017 images, their captions and
  instances) and of the official `captions_val2017.json` (`{COCO_VAL_CAPTIONS_REPO}` @
  `{COCO_VAL_CAPTIONS_REV_SHORT}`, for the val images COCO-MINI's annotations do not cover). Short
  SHAs; the sha256 of every source JSON is in `MANIFEST.json` under `source.coco`.
- **Annotations** (captions, instances, and the questions derived from them): COCO Consortium,
  **CC BY 4.0** (https://creativecommons.org/licenses/by/4.0/).
- **Images**: each under its own Flickr license, kept on its row (`license_id`, `license_name`,
  `license_url`, with `flickr_url` naming the original). COCO does not own the images; use of the
  images must follow those licenses (several are NonCommercial). Bundled images per license:

| id | license | URL | images |
|---|---|---|---|
{licenses}

## COCO: changes made

- Images were **resized** (shorter side 224 px, LANCZOS), **center-cropped** to 224x224 and
  **re-encoded** as baseline JPEG (quality 90, 4:2:0, no EXIF/ICC metadata). That is a derivative
  work, so the {info["no_derivs"]} of the {info["images_seen"]} COCO-MINI images under a **NoDerivs**
  license ({excluded}) are **left out**, with their captions and annotations.
- Only images with at least {COCO_MIN_CAPTIONS} captions are kept (left out for that reason: {info["too_few_captions"]}).
- Instance annotations keep category, area and iscrowd only; boxes and segmentations are dropped.
- Split: `heldout` iff `image_id % 5 == 0`, else `train`; every table inherits its image's split.
- Questions are generated deterministically by `benchmark.data.coco.generate_qa` (rules in its module
  docstring); `answers` repeats the one generated answer 10 times, as VQAv2 has 10 human answers.
"""


TEXT_TASK_ATTRIBUTION = f"""
## English intermediate tasks (`hellaswag.parquet`, `cosmosqa.parquet`)

| file | what |
|---|---|
| `hellaswag.parquet` | all {TEXT_ROWS["hellaswag"]:,} HellaSwag validation items: `id` (`val-` + 0-based position in the official validation order), `context` (`activity_label: ctx`), `choices` (the 4 endings), `label` (0-3) |
| `cosmosqa.parquet` | all {TEXT_ROWS["cosmosqa"]:,} Cosmos QA dev items: `id`, `context` (the passage), `question`, `choices` (`question + " " + answer_i`, i = 0..3), `label` (0-3) |

- **HellaSwag** (Zellers et al., 2019, "HellaSwag: Can a Machine Really Finish Your Sentence?", ACL
  2019, arXiv:1905.07830), https://github.com/rowanz/hellaswag (`data/hellaswag_val.jsonl`), via the
  text export `{HELLASWAG_TEXT_REPO}` @ `{HELLASWAG_TEXT_REV_SHORT}` (`hellaswag_val_full.txt`, 6 lines
  per item; short SHA). License: **MIT**, Copyright (c) 2019 Rowan Zellers (full text in `LICENSE`).
- **Cosmos QA** (Huang et al., 2019, "Cosmos QA: Machine Reading Comprehension with Contextual
  Commonsense Reasoning", EMNLP-IJCNLP 2019, arXiv:1909.00277), https://wilburone.github.io/cosmos/,
  from `{COSMOSQA_REPO}` @ `{COSMOSQA_REV_SHORT}` (`data/valid.csv`; short SHA). License: **CC BY 4.0**
  (https://creativecommons.org/licenses/by/4.0/). The authors' repository states no license; the
  basis for bundling is the dataset card of `allenai/cosmos_qa` on the Hugging Face Hub, which gives
  CC BY 4.0 since Hub commit `{tasks.COSMOSQA_LICENSE_COMMIT}` ("Add license and citation
  information to cosmos_qa dataset").
- The sha256 of each source file is in `MANIFEST.json` under `source.hellaswag` / `source.cosmosqa`.

## English intermediate tasks: changes made

- Reformatting only: text is unchanged; each item became one row of the normalized multiple-choice
  schema of `benchmark.data.tasks` (Cosmos QA's question is prefixed to each answer, as the loader's
  Hub path does; the raw `question` column is kept). HellaSwag's text export drops the item's `ind`,
  so its id is its position.
- Split: only one upstream split is bundled, so the loader holds out about 10% of the items and
  never trains on them, whole source groups at a time (Cosmos QA: items sharing a passage; HellaSwag:
  items of one source clip or article, `benchmark.data.tasks.group_keys`): a group is held out when
  sha256 of its smallest `id` falls in the first 10% of the hash range (`benchmark.data.tasks.split_of`).
- SST-2 (also an X-STILTs task) is **not** bundled: it has no explicit license.
"""

TEXT_TASK_LICENSES = """

=======================================================================

hellaswag.parquet: HellaSwag (https://github.com/rowanz/hellaswag)

MIT License

Copyright (c) 2019 Rowan Zellers

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.

=======================================================================

cosmosqa.parquet: Cosmos QA (https://wilburone.github.io/cosmos/)

Cosmos QA, by Lifu Huang, Ronan Le Bras, Chandra Bhagavatula and Yejin Choi
(EMNLP-IJCNLP 2019), is licensed under the Creative Commons Attribution 4.0
International License (CC BY 4.0), as stated by the dataset card of
allenai/cosmos_qa on the Hugging Face Hub. To view a copy of this license,
visit https://creativecommons.org/licenses/by/4.0/ (full legal code:
https://creativecommons.org/licenses/by/4.0/legalcode). Changes made: the dev
items were converted to parquet and each answer was prefixed with its question
(see ATTRIBUTION.md); the text is otherwise unchanged. No warranties are given.
"""


def tatoeba_attribution(counts: dict[str, int]) -> str:
    full = sum(n == 1000 for n in counts.values())
    return f"""
## Tatoeba (`tatoeba.parquet`)

| file | what |
|---|---|
| `tatoeba.parquet` | the whole Tatoeba test set of LASER: {sum(counts.values()):,} English–X sentence pairs in {len(counts)} languages ({full} with 1000 pairs, the others fewer); `language` (LASER's three-letter code), `index_id` (0-based line of the source files), `text` (the non-English sentence), `eng` (its English translation) |

- **Source**: the Tatoeba test set of LASER (Artetxe and Schwenk, 2019, "Massively Multilingual
  Sentence Embeddings for Zero-Shot Cross-Lingual Transfer and Beyond", Transactions of the ACL 7,
  597–610, arXiv:1812.10464): `{TATOEBA_REPO}` @ `{TATOEBA_REV_SHORT}` (short SHA; the folder last
  changed in `{TATOEBA_FOLDER_REV_SHORT}`), `data/tatoeba/v1/tatoeba.<xxx>-eng.{{<xxx>,eng}}`. The
  sha256 of every source file is in `benchmark/data/pins/tatoeba.json`.
- **License**: the sentences come from the Tatoeba corpus (https://tatoeba.org), written and
  translated by its contributors, under **CC BY 2.0 FR** (https://creativecommons.org/licenses/by/2.0/fr/;
  some contributors release theirs under CC0); see Tatoeba's terms of use,
  https://tatoeba.org/eng/terms_of_use. LASER's README: "Please see
  [here](https://tatoeba.org/eng/terms_of_use) for the license of the Tatoeba corpus."
- LASER's README also says: "This data is extracted from the Tatoeba corpus, dated Saturday
  2018/11/17. For each languages, we have selected 1000 English sentences and their translations, if
  available. [...] Please note that the English sentences are not identical for all language pairs.
  This means that the results are not directly comparable across languages. In particular, the
  sentences tend to have less variety for several low-resource languages, e.g. "Tom needed water",
  "Tom needs water", "Tom is getting water", ...."

## Tatoeba: changes made

- Reformatting only: the 224 plain-text files became one parquet table (zstd), one row per line
  pair, rows by language then line; text is unchanged (UTF-8, trailing newline stripped).
"""


TATOEBA_LICENSE = """
=======================================================================

tatoeba.parquet: Tatoeba test set of LASER (https://github.com/facebookresearch/LASER)

The sentences come from the Tatoeba corpus (https://tatoeba.org), by its
contributors, and are licensed under the Creative Commons Attribution 2.0
France License (CC BY 2.0 FR; some contributors release theirs under CC0):
https://creativecommons.org/licenses/by/2.0/fr/ . See Tatoeba's terms of use,
https://tatoeba.org/eng/terms_of_use . Selection of the pairs: Artetxe and
Schwenk (2019), LASER. Changes made: the plain-text files were converted to
parquet (see ATTRIBUTION.md); the text is unchanged. No warranties are given.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO_ROOT / ".." / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "benchmark" / "data" / "bundle")
    ap.add_argument("--pins", type=Path, default=REPO_ROOT / "benchmark" / "data" / "pins")
    args = ap.parse_args(argv)
    try:
        info = build(args.shared.resolve(), args.out, args.pins)
    except BenchmarkError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{info['ids']} index_ids x {info['langs']} languages, {len(info['categories'])} categories -> {args.out}")
    print(f"text tasks: {info['text_rows']}")
    t = info["tatoeba"]
    print(f"Tatoeba: {sum(t.values())} pairs in {len(t)} languages ({sum(n == 1000 for n in t.values())} with 1000)")
    c = info["coco"]
    print(
        f"COCO: {c['images']} of {c['images_seen']} images kept ({c['no_derivs']} NoDerivs left out, "
        f"{c['too_few_captions']} with too few captions), splits {c['splits']}, {c['captions']} captions, "
        f"{c['objects']} objects on {c['object_images']} images, questions {c['questions']}, "
        f"{c['jpeg_bytes']} JPEG bytes"
    )
    for s, i, a, b in info["loose_mismatches"]:
        print(f"note: SIB {s}.tsv index_id {i} differs from FLORES {PIVOT} in quotes/whitespace only: {a!r} vs {b!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
