#!/usr/bin/env python
"""Build ``benchmark/data/bundle/`` (and the upstream pins) from the read-only source data.

The output is byte-for-byte reproducible: tables are assembled with pyarrow directly (no pandas
metadata), rows have a fixed order, and parquet is written with fixed settings in one row group.
Running this twice must give identical sha256 for every file.

    python scripts/build_bundle.py [--shared ../shared/data] [--out benchmark/data/bundle]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmark.io import BenchmarkError, atomic_dir, sha256_file, write_json  # noqa: E402

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


def write_parquet(table: pa.Table, path: Path, dictionary: bool) -> None:
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

    pins = write_pins(shared, pins_dir, langs)
    with atomic_dir(out) as tmp:
        tmp.chmod(0o755)  # mkdtemp creates 0700; the bundle is ordinary package data
        manifest: dict = {"files": {}, "source": pins}
        for name, table in tmp_files.items():
            write_parquet(table, tmp / name, dictionary=name != "flores200_sib.parquet")
            manifest["files"][name] = {
                "sha256": sha256_file(tmp / name),
                "rows": table.num_rows,
                "columns": table.num_columns,
            }
        shutil.copyfile(flores / "LICENSE-CC-BY-SA", tmp / "LICENSE")
        (tmp / "ATTRIBUTION.md").write_text(ATTRIBUTION, encoding="utf-8")
        for name in ("LICENSE", "ATTRIBUTION.md"):
            manifest["files"][name] = {"sha256": sha256_file(tmp / name)}
        write_json(tmp / "MANIFEST.json", manifest)
    return {"ids": len(ids), "langs": len(langs), "categories": categories, "loose_mismatches": mismatches}


def write_pins(shared: Path, pins_dir: Path, langs: list[str]) -> dict:
    """sha256 of every upstream file the ``full`` profile downloads; the spec module loads these."""
    flores, sib = shared / "flores200", shared / "sib200"
    flores_files = {
        f"flores-200-{s}/{lang}.{s}": sha256_file(flores / s / f"{lang}.{s}") for s in SPLIT_SIZES for lang in langs
    }
    meta_files = {f"metadata_{s}.tsv": sha256_file(flores / f"metadata_{s}.tsv") for s in SPLIT_SIZES}
    sib_files = {f"{s}.tsv": sha256_file(sib / f"{s}.tsv") for s in SIB_SPLITS}
    sib_files["labels.txt"] = sha256_file(sib / "labels.txt")
    pins = {
        "flores200": {"repo": FLORES_REPO, "revision": FLORES_REV, "url_template": FLORES_URL, "files": flores_files},
        "flores200_metadata": {
            "repo": META_REPO,
            "revision_short_unresolved": META_REV_SHORT,
            "url_template": META_URL,
            "files": meta_files,
        },
        "sib200": {"repo": SIB_REPO, "revision": SIB_REV, "url_template": SIB_URL, "files": sib_files},
    }
    write_json(pins_dir / "flores200.json", {"sentences": pins["flores200"], "metadata": pins["flores200_metadata"]})
    write_json(pins_dir / "sib200.json", pins["sib200"])
    return {
        k: {kk: vv for kk, vv in v.items() if kk not in ("files", "url_template")} | {"files": len(v["files"])}
        for k, v in pins.items()
    }


ATTRIBUTION = f"""# Bundled data: attribution

These files are a small, compressed subset of public datasets, shipped so that the benchmark runs
offline. They are licensed under **CC BY-SA 4.0** (see `LICENSE`,
https://creativecommons.org/licenses/by-sa/4.0/); anything derived from them must be shared alike.

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
    for s, i, a, b in info["loose_mismatches"]:
        print(f"note: SIB {s}.tsv index_id {i} differs from FLORES {PIVOT} in quotes/whitespace only: {a!r} vs {b!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
