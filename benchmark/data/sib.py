"""SIB-200 topic classification: the spec, the bundled labels, and the upstream TSV reader.

SIB-200 labels 1004 FLORES-200 sentences with one of 7 topics. Its ``index_id`` is the position in
FLORES dev (0..996) + devtest (997..2008), so the text in any language comes from FLORES; the
bundle therefore stores labels only and :mod:`benchmark.data.flores` supplies the sentences.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from benchmark.data.flores import LANGUAGES
from benchmark.data.spec import BUNDLE_DIR, DatasetSpec, UpstreamPin, fetch_pin, load_pins, verify_file
from benchmark.io import BenchmarkError
from benchmark.schema import declare

LABELS_FILE = "sib200_labels.parquet"
SPLIT_SIZES: dict[str, int] = {"train": 701, "dev": 99, "test": 204}
# Order of upstream data/eng/labels.txt; class ids used downstream follow it.
CATEGORIES: tuple[str, ...] = (
    "science/technology",
    "travel",
    "politics",
    "sports",
    "health",
    "entertainment",
    "geography",
)

SIB200: DatasetSpec = declare(
    DatasetSpec,
    name="sib200",
    description=(
        "SIB-200: topic classification (7 categories) of 1004 FLORES-200 sentences, split "
        "701/99/204 into train/dev/test; the same items in every FLORES-200 language."
    ),
    license="CC-BY-SA-4.0",
    license_url="https://creativecommons.org/licenses/by-sa/4.0/",
    citation=(
        "@inproceedings{adelani2023sib200, title={SIB-200: A Simple, Inclusive, and Big Evaluation "
        "Dataset for Topic Classification in 200+ Languages and Dialects}, author={Adelani, David Ifeoluwa "
        "and Liu, Hannah and Shen, Xiaoyu and Vassilyev, Nikita and Alabi, Jesujoba O. and Mao, Yanke and "
        "Gao, Haonan and Lee, Annie En-Shiun}, year={2023}, eprint={2309.07445}, archivePrefix={arXiv}}"
    ),
    homepage="https://github.com/dadelani/sib-200",
    languages=LANGUAGES,
    splits=SPLIT_SIZES,
    upstream=UpstreamPin(**load_pins("sib200")),
    bundled_files=(LABELS_FILE,),
)


def _check(df: pd.DataFrame, where: Path) -> pd.DataFrame:
    counts = df["split"].value_counts().to_dict()
    if counts != SPLIT_SIZES:
        raise BenchmarkError(f"{where}: expected split sizes {SPLIT_SIZES}, found {counts}")
    unknown = sorted(set(df["category"]) - set(CATEGORIES))
    if unknown:
        raise BenchmarkError(f"{where}: unknown categories {unknown}")
    if df["index_id"].duplicated().any():
        raise BenchmarkError(f"{where}: duplicate index_id")
    return df


def load_labels(data_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Bundled labels: columns ``index_id``, ``split``, ``category`` in upstream order (train, dev, test)."""
    path = verify_file(data_dir, LABELS_FILE)
    return _check(pq.read_table(path).to_pandas(), path)


def read_official(directory: Path) -> pd.DataFrame:
    """Read upstream ``{train,dev,test}.tsv`` (``index_id, category, text``) into the bundle's columns + ``text``.

    Fields may be quoted (with doubled inner quotes), hence a real CSV parser.
    """
    frames = []
    for split, expected in SPLIT_SIZES.items():
        path = Path(directory) / f"{split}.tsv"
        if not path.is_file():
            raise BenchmarkError(f"{path}: missing")
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if rows and list(rows[0]) != ["index_id", "category", "text"]:
            raise BenchmarkError(f"{path}: expected columns index_id, category, text; found {list(rows[0])}")
        if len(rows) != expected:
            raise BenchmarkError(f"{path}: expected {expected} rows, found {len(rows)}")
        frame = pd.DataFrame(rows, columns=["index_id", "category", "text"])
        frame.insert(1, "split", split)
        frames.append(frame)
    df = pd.concat(frames, ignore_index=True)
    df["index_id"] = df["index_id"].astype("int32")
    return _check(df, Path(directory))


def fetch_upstream(dest: Path, mirror: Path | None = None) -> Path:
    """Download the pinned upstream SIB-200 English TSVs and labels.txt into ``dest``, verified.

    ``mirror``: a local directory holding the same files, copied instead of downloaded.
    """
    return fetch_pin(SIB200.upstream, dest, mirror=(lambda p: Path(mirror) / p) if mirror else None)
