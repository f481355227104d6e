"""COCO 2017: the spec, loaders for the bundled images/captions/objects, the official-JSON readers,
and the deterministic COCO-QA-style question generator.

The ``mini`` bundle holds every COCO-MINI image (80 train2017 + 159 val2017) whose Flickr license
allows derivatives, resized (shorter side 224 px, LANCZOS), center-cropped to 224x224 and re-encoded
as JPEG (quality 90, no EXIF/ICC); the license of each image is kept on its row. Images under a
*NoDerivs* license are left out, because bundling a resized re-encode is making a derivative.

**Split rule** (fixed, independent of the data): an image is ``heldout`` iff ``image_id % 5 == 0``,
else ``train`` (:func:`split_of`). Captions, objects and generated questions inherit their image's
split, so held-out images never leak into training through another table.

**Generated questions** (:func:`generate_qa`, COCO-QA style, since VQAv2 is not available offline):
from each image's instance annotations, with a numpy ``Generator`` seeded by ``(QA_SEED, image_id)``
so that an image's questions depend on nothing but its own annotations:

* ``presence``: "Is there a {category} in the image?" — "yes" for every category present (crowd
  regions included) and "no" for as many categories drawn without replacement from the absent ones
  of the 80, so yes/no is balanced exactly per image;
* ``count``: "How many {plural} are there?" for every present category with no crowd region,
  answer the number of instances as digits (VQAv2 style); counts above ``MAX_COUNT`` are skipped
  (a clipped "10" would be a wrong answer);
* ``category``: "What kind of {supercategory} is in the image?" when exactly one category of that
  supercategory is present (the ``person`` supercategory, whose only category is itself, is skipped);
  answer the category name.

``answers`` holds 10 copies of the one generated answer, mirroring VQAv2's 10 human answers, so the
VQA soft score (:func:`benchmark.data.vqa.soft_scores`) gives exactly 1.0 to it and 0 to anything else.
``question_id`` = ``image_id * 1000 + k`` (VQAv2's convention), ``k`` in generation order.

The ``full`` profile reads the official annotation JSONs (:func:`read_captions_json`,
:func:`read_instances_json`); COCO's download server has no commits, so its archives are pinned by
URL + sha256 (:class:`UrlPin`) or, where no checksum is known, explicitly as :class:`UnresolvedUrlPin`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from PIL import Image
from pydantic import Field, StringConstraints

from benchmark.data.lock import key_of, locked
from benchmark.data.spec import BUNDLE_DIR, DatasetSpec, RelPath, Sha256, verify_file
from benchmark.io import BenchmarkError, sha256_file
from benchmark.schema import Frozen, declare

IMAGES_FILE = "coco_images.parquet"
CAPTIONS_FILE = "coco_captions.parquet"
OBJECTS_FILE = "coco_objects.parquet"
QA_FILE = "coco_qa.parquet"

IMAGE_SIZE = 224
JPEG_QUALITY = 90
HELDOUT_MODULUS = 5  # heldout iff image_id % HELDOUT_MODULUS == 0
SPLITS: tuple[str, ...] = ("train", "heldout")
QA_SEED = 20240517
MAX_COUNT = 10
N_ANSWERS = 10
QUESTION_TYPES: tuple[str, ...] = ("presence", "count", "category")
SOURCE_SPLITS: tuple[str, ...] = ("train2017", "val2017")

# (id, name, supercategory) of the 80 COCO object categories, in the order of instances_*.json.
CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"), (2, "bicycle", "vehicle"), (3, "car", "vehicle"), (4, "motorcycle", "vehicle"),
    (5, "airplane", "vehicle"), (6, "bus", "vehicle"), (7, "train", "vehicle"), (8, "truck", "vehicle"),
    (9, "boat", "vehicle"), (10, "traffic light", "outdoor"), (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"), (14, "parking meter", "outdoor"), (15, "bench", "outdoor"),
    (16, "bird", "animal"), (17, "cat", "animal"), (18, "dog", "animal"), (19, "horse", "animal"),
    (20, "sheep", "animal"), (21, "cow", "animal"), (22, "elephant", "animal"), (23, "bear", "animal"),
    (24, "zebra", "animal"), (25, "giraffe", "animal"), (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"), (31, "handbag", "accessory"), (32, "tie", "accessory"),
    (33, "suitcase", "accessory"), (34, "frisbee", "sports"), (35, "skis", "sports"), (36, "snowboard", "sports"),
    (37, "sports ball", "sports"), (38, "kite", "sports"), (39, "baseball bat", "sports"),
    (40, "baseball glove", "sports"), (41, "skateboard", "sports"), (42, "surfboard", "sports"),
    (43, "tennis racket", "sports"), (44, "bottle", "kitchen"), (46, "wine glass", "kitchen"),
    (47, "cup", "kitchen"), (48, "fork", "kitchen"), (49, "knife", "kitchen"), (50, "spoon", "kitchen"),
    (51, "bowl", "kitchen"), (52, "banana", "food"), (53, "apple", "food"), (54, "sandwich", "food"),
    (55, "orange", "food"), (56, "broccoli", "food"), (57, "carrot", "food"), (58, "hot dog", "food"),
    (59, "pizza", "food"), (60, "donut", "food"), (61, "cake", "food"), (62, "chair", "furniture"),
    (63, "couch", "furniture"), (64, "potted plant", "furniture"), (65, "bed", "furniture"),
    (67, "dining table", "furniture"), (70, "toilet", "furniture"), (72, "tv", "electronic"),
    (73, "laptop", "electronic"), (74, "mouse", "electronic"), (75, "remote", "electronic"),
    (76, "keyboard", "electronic"), (77, "cell phone", "electronic"), (78, "microwave", "appliance"),
    (79, "oven", "appliance"), (80, "toaster", "appliance"), (81, "sink", "appliance"),
    (82, "refrigerator", "appliance"), (84, "book", "indoor"), (85, "clock", "indoor"), (86, "vase", "indoor"),
    (87, "scissors", "indoor"), (88, "teddy bear", "indoor"), (89, "hair drier", "indoor"),
    (90, "toothbrush", "indoor"),
)  # fmt: skip
_CATEGORY = {cid: (name, sup) for cid, name, sup in CATEGORIES}

IMAGE_COLUMNS: tuple[str, ...] = (
    "image_id", "source_split", "file_name", "license_id", "license_name", "license_url",
    "flickr_url", "coco_url", "width", "height", "jpeg", "split",
)  # fmt: skip
OBJECT_COLUMNS: tuple[str, ...] = (
    "image_id", "annotation_id", "category_id", "category", "supercategory", "area", "iscrowd",
)  # fmt: skip
QA_COLUMNS: tuple[str, ...] = ("question_id", "image_id", "question_type", "question", "answers", "split")


# --- pins for archives on plain download servers -------------------------------------------------

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


class UrlPin(Frozen):
    """A file on a server without commits (e.g. images.cocodataset.org): pinned by its sha256.

    ``checksum_source`` says where the sha256 comes from (the dataset authors publish none)."""

    url: Url
    sha256: Sha256
    size: Annotated[int, Field(gt=0)] | None = None
    checksum_source: Annotated[str, Field(min_length=1)]


class UnresolvedUrlPin(Frozen):
    """A URL whose sha256 is NOT known: nothing guarantees its bytes. :func:`verify_download`
    refuses it unless told otherwise; resolve it by recording the sha256 of one trusted download."""

    url: Url
    sha256_unresolved: Annotated[str, Field(min_length=1)]  # why, and what would resolve it
    size: Annotated[int, Field(gt=0)] | None = None

    @property
    def lock_key(self) -> str:
        return key_of("url", self.url)


class UrlDatasetSpec(DatasetSpec):
    """A :class:`DatasetSpec` whose upstream is archives at plain URLs (no repository, no commit).

    ``bundled_files`` may be empty: a dataset can be ``full``-profile only."""

    upstream: Annotated[dict[RelPath, UrlPin | UnresolvedUrlPin], Field(min_length=1)]  # type: ignore[assignment]
    bundled_files: tuple[RelPath, ...] = ()  # type: ignore[assignment]


def verify_download(pin: UrlPin | UnresolvedUrlPin, path: Path, allow_unresolved: bool = False) -> str:
    """Check a downloaded archive against its pin; return its sha256.

    An :class:`UnresolvedUrlPin` raises unless ``allow_unresolved`` (then the sha256 is returned so
    that it can be recorded as a :class:`UrlPin`)."""
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"{path}: missing")
    if pin.size is not None and path.stat().st_size != pin.size:
        raise BenchmarkError(f"{path}: expected {pin.size} bytes, found {path.stat().st_size}")
    entry = locked(pin.lock_key) if isinstance(pin, UnresolvedUrlPin) else None
    expected = pin.sha256 if isinstance(pin, UrlPin) else entry.resolved if entry else None
    if expected is None and not allow_unresolved:
        raise BenchmarkError(f"{path}: no sha256 pinned for {pin.url} ({pin.sha256_unresolved}); "
                             "`benchmark lock` records one")
    got = sha256_file(path)
    if expected is not None and got != expected:
        raise BenchmarkError(f"{path}: sha256 mismatch (expected {expected[:12]}…, got {got[:12]}…)")
    return got


# sha256 and sizes of the archives as recorded by TensorFlow Datasets' checksum registry
# (tensorflow/datasets @ 333639b37af6c6fedf3610a4a2d42f1c6ef6f7d5, tensorflow_datasets/url_checksums/coco.txt);
# COCO itself publishes no checksums (third-party scripts quote only an md5 of the annotations zip,
# f4bbac642086de4f52a3fdda2de5fa2c).
_TFDS = "tensorflow/datasets@333639b37af6c6fedf3610a4a2d42f1c6ef6f7d5:tensorflow_datasets/url_checksums/coco.txt"
COCO_UPSTREAM: dict[str, UrlPin | UnresolvedUrlPin] = {
    "annotations_trainval2017.zip": UrlPin(
        url="http://images.cocodataset.org/annotations/annotations_trainval2017.zip",
        sha256="113a836d90195ee1f884e704da6304dfaaecff1f023f49b6ca93c4aaae470268",
        size=252907541,
        checksum_source=_TFDS,
    ),
    "train2017.zip": UrlPin(
        url="http://images.cocodataset.org/zips/train2017.zip",
        sha256="69a8bb58ea5f8f99d24875f21416de2e9ded3178e903f1f7603e283b9e06d929",
        size=19336861798,
        checksum_source=_TFDS,
    ),
    "val2017.zip": UrlPin(
        url="http://images.cocodataset.org/zips/val2017.zip",
        sha256="4f7e2ccb2866ec5041993c9cf2a952bbed69647b115d0f74da7ce8f4bef82f05",
        size=815585330,
        checksum_source=_TFDS,
    ),
}

COCO: UrlDatasetSpec = declare(
    UrlDatasetSpec,
    name="coco2017",
    description=(
        "MS COCO 2017: 118,287 train / 5,000 val Flickr images, 5 human captions each, instance "
        "annotations for 80 object categories. Bundled (mini): the COCO-MINI images whose license "
        "allows derivatives, 224x224 re-encodes, with their captions, objects and generated "
        "COCO-QA-style questions."
    ),
    license="CC-BY-4.0 (annotations); images under per-image Flickr licenses",
    license_url="https://creativecommons.org/licenses/by/4.0/",
    citation=(
        "@inproceedings{lin2014coco, title={Microsoft COCO: Common Objects in Context}, author={Lin, "
        "Tsung-Yi and Maire, Michael and Belongie, Serge and Hays, James and Perona, Pietro and Ramanan, "
        "Deva and Doll{\\'a}r, Piotr and Zitnick, C. Lawrence}, booktitle={ECCV}, pages={740--755}, year={2014}}"
    ),
    homepage="https://cocodataset.org",
    languages=("eng_Latn",),
    splits={"train2017": 118287, "val2017": 5000},
    upstream=COCO_UPSTREAM,
    bundled_files=(IMAGES_FILE, CAPTIONS_FILE, OBJECTS_FILE, QA_FILE),
)


# --- split rule, image transform -----------------------------------------------------------------


def split_of(image_id: int) -> str:
    """The fixed split rule: ``heldout`` iff ``image_id % 5 == 0``."""
    return "heldout" if int(image_id) % HELDOUT_MODULUS == 0 else "train"


def square_jpeg(data: bytes, size: int = IMAGE_SIZE, quality: int = JPEG_QUALITY) -> bytes:
    """Shorter side to ``size`` (LANCZOS), center crop ``size`` x ``size``, baseline JPEG, no metadata.

    No EXIF orientation is applied (COCO annotations refer to the stored pixel grid). The result is
    built as a fresh image, so no EXIF/ICC/comment of the source can be carried over."""
    with Image.open(io.BytesIO(data)) as src:
        im = src.convert("RGB")
    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    im = im.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - size) // 2, (nh - size) // 2
    im = im.crop((left, top, left + size, top + size))
    clean = Image.frombytes("RGB", im.size, im.tobytes())
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=False, progressive=False, subsampling=2, exif=b"", icc_profile=None)
    return out.getvalue()


def decode_image(jpeg: bytes) -> Image.Image:
    """Decode bundled JPEG bytes into an RGB PIL image (fully loaded)."""
    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            return im.convert("RGB")
    except OSError as e:
        raise BenchmarkError(f"undecodable image bytes ({e})") from None


# --- bundled data --------------------------------------------------------------------------------


def _read(data_dir: Path, name: str) -> pd.DataFrame:
    return pq.read_table(verify_file(data_dir, name)).to_pandas()


def _check_split(df: pd.DataFrame, where: Path | str) -> pd.DataFrame:
    bad = df["split"].to_numpy() != np.array([split_of(i) for i in df["image_id"]], dtype=object)
    if bad.any():
        raise BenchmarkError(f"{where}: {int(bad.sum())} rows break the split rule (image_id % 5 == 0 -> heldout)")
    return df


def load_images(data_dir: Path = BUNDLE_DIR, split: str | None = None) -> pd.DataFrame:
    """Bundled images (one row each, sorted by ``image_id``; ``jpeg`` holds 224x224 JPEG bytes).

    ``split``: ``"train"`` or ``"heldout"`` to keep only that split."""
    if split is not None and split not in SPLITS:
        raise BenchmarkError(f"unknown COCO split {split!r}; expected one of {', '.join(SPLITS)}")
    df = _check_split(_read(data_dir, IMAGES_FILE), Path(data_dir) / IMAGES_FILE)
    if "NoDerivs" in " ".join(df["license_name"]):
        raise BenchmarkError(f"{Path(data_dir) / IMAGES_FILE}: holds images under a NoDerivs license")
    return df if split is None else df[df["split"] == split].reset_index(drop=True)


def load_captions(data_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Bundled captions: ``image_id``, ``caption_id``, ``caption`` (sorted; >= 2 per bundled image)."""
    return _read(data_dir, CAPTIONS_FILE)


def load_objects(data_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Bundled instance annotations: ``image_id``, ``annotation_id``, ``category_id``, ``category``,
    ``supercategory``, ``area``, ``iscrowd`` (sorted by image then annotation id)."""
    return _read(data_dir, OBJECTS_FILE)


def load_qa(data_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Bundled generated questions (see the module docstring); ``answers`` is a list of 10 strings."""
    df = _check_split(_read(data_dir, QA_FILE), Path(data_dir) / QA_FILE)
    df["answers"] = [list(a) for a in df["answers"]]
    return df


# --- official annotation JSON (full profile) -----------------------------------------------------


def _load_json(path: Path, keys: Iterable[str]) -> dict[str, Any]:
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BenchmarkError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise BenchmarkError(f"{path}: expected a JSON object at the top level")
    missing = [k for k in keys if not isinstance(doc.get(k), list)]
    if missing:
        raise BenchmarkError(f"{path}: missing list(s) {', '.join(repr(k) for k in missing)}")
    return doc


def _records(path: Path, items: list[Any], what: str, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    for i, item in enumerate(items):
        if not isinstance(item, dict) or any(k not in item for k in keys):
            got = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise BenchmarkError(f"{path}: {what}[{i}] lacks one of {', '.join(keys)} (has {got})")
    return items


_IMAGE_KEYS = ("id", "file_name", "license", "width", "height", "coco_url", "flickr_url")


def read_image_info(path: Path) -> pd.DataFrame:
    """``images`` + ``licenses`` of any official COCO annotation JSON, one row per image (sorted):
    ``image_id, file_name, license_id, license_name, license_url, flickr_url, coco_url, width, height``."""
    path = Path(path)
    doc = _load_json(path, ("images", "licenses"))
    return _image_info(path, doc)


def _image_info(path: Path, doc: dict[str, Any]) -> pd.DataFrame:
    licenses = {lic["id"]: lic for lic in _records(path, doc["licenses"], "licenses", ("id", "name", "url"))}
    images = _records(path, doc["images"], "images", _IMAGE_KEYS)
    for i, im in enumerate(images):
        if im["license"] not in licenses:
            raise BenchmarkError(f"{path}: images[{i}] (id {im['id']}) has unknown license id {im['license']}")
    df = pd.DataFrame(
        {
            "image_id": [int(im["id"]) for im in images],
            "file_name": [im["file_name"] for im in images],
            "license_id": [int(im["license"]) for im in images],
            "license_name": [licenses[im["license"]]["name"] for im in images],
            "license_url": [licenses[im["license"]]["url"] for im in images],
            "flickr_url": [im["flickr_url"] for im in images],
            "coco_url": [im["coco_url"] for im in images],
            "width": [int(im["width"]) for im in images],
            "height": [int(im["height"]) for im in images],
        }
    )
    if df["image_id"].duplicated().any():
        raise BenchmarkError(f"{path}: duplicate image ids")
    return df.sort_values("image_id", kind="stable").reset_index(drop=True)


def _dangling(path: Path, ids: Iterable[int], known: set[int], what: str) -> None:
    missing = sorted(set(ids) - known)
    if missing:
        shown = ", ".join(map(str, missing[:5]))
        raise BenchmarkError(f"{path}: {len(missing)} {what} refer to image ids not in 'images' (e.g. {shown})")


def read_captions_json(path: Path) -> pd.DataFrame:
    """Official ``captions_*.json`` -> ``image_id, caption_id, caption`` sorted by (image_id, caption_id).

    Caption text is kept as is (some upstream captions carry trailing spaces or newlines)."""
    path = Path(path)
    doc = _load_json(path, ("images", "annotations"))
    anns = _records(path, doc["annotations"], "annotations", ("id", "image_id", "caption"))
    images = _records(path, doc["images"], "images", ("id",))
    _dangling(path, (a["image_id"] for a in anns), {int(im["id"]) for im in images}, "captions")
    df = pd.DataFrame(
        {
            "image_id": pd.array([int(a["image_id"]) for a in anns], dtype="int64"),
            "caption_id": pd.array([int(a["id"]) for a in anns], dtype="int64"),
            "caption": [str(a["caption"]) for a in anns],
        }
    )
    if df["caption_id"].duplicated().any():
        raise BenchmarkError(f"{path}: duplicate caption ids")
    return df.sort_values(["image_id", "caption_id"], kind="stable").reset_index(drop=True)


def read_instances_json(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Official ``instances_*.json`` -> ``(images, objects)``.

    ``images`` as :func:`read_image_info`; ``objects`` with :data:`OBJECT_COLUMNS`, sorted by
    (image_id, annotation_id). Category names come from the file's ``categories`` list."""
    path = Path(path)
    doc = _load_json(path, ("images", "licenses", "annotations", "categories"))
    images = _image_info(path, doc)
    cats = {c["id"]: c for c in _records(path, doc["categories"], "categories", ("id", "name", "supercategory"))}
    anns = _records(path, doc["annotations"], "annotations", ("id", "image_id", "category_id", "area", "iscrowd"))
    _dangling(path, (a["image_id"] for a in anns), set(images["image_id"]), "annotations")
    for i, a in enumerate(anns):
        if a["category_id"] not in cats:
            raise BenchmarkError(f"{path}: annotations[{i}] has unknown category id {a['category_id']}")
    objects = pd.DataFrame(
        {
            "image_id": pd.array([int(a["image_id"]) for a in anns], dtype="int64"),
            "annotation_id": pd.array([int(a["id"]) for a in anns], dtype="int64"),
            "category_id": pd.array([int(a["category_id"]) for a in anns], dtype="int32"),
            "category": [cats[a["category_id"]]["name"] for a in anns],
            "supercategory": [cats[a["category_id"]]["supercategory"] for a in anns],
            "area": np.array([float(a["area"]) for a in anns], dtype="float64"),
            "iscrowd": np.array([bool(a["iscrowd"]) for a in anns], dtype=bool),
        },
        columns=list(OBJECT_COLUMNS),
    )
    if objects["annotation_id"].duplicated().any():
        raise BenchmarkError(f"{path}: duplicate annotation ids")
    return images, objects.sort_values(["image_id", "annotation_id"], kind="stable").reset_index(drop=True)


# --- generated questions (COCO-QA style) ---------------------------------------------------------

_PLURAL_ONLY = {"skis", "scissors"}
_UNCOUNTABLE = {"broccoli"}
_IRREGULAR = {"person": "people", "mouse": "mice", "knife": "knives", "sheep": "sheep"}
_SUPER_PHRASE = {
    "accessory": "accessory", "animal": "animal", "appliance": "appliance", "electronic": "electronic device",
    "food": "food", "furniture": "furniture", "indoor": "indoor object", "kitchen": "kitchen item",
    "outdoor": "outdoor object", "sports": "sports equipment", "vehicle": "vehicle",
}  # fmt: skip


def plural(name: str) -> str:
    """Good-enough English plural of a COCO category name."""
    if name in _IRREGULAR:
        return _IRREGULAR[name]
    if name in _PLURAL_ONLY or name in _UNCOUNTABLE:
        return name
    return name + "es" if name.endswith(("s", "sh", "ch", "x")) else name + "s"


def presence_question(name: str) -> str:
    if name in _PLURAL_ONLY:
        return f"Are there {name} in the image?"
    if name in _UNCOUNTABLE:
        return f"Is there {name} in the image?"
    return f"Is there {'an' if name[0] in 'aeiou' else 'a'} {name} in the image?"


def generate_qa(objects: pd.DataFrame, seed: int = QA_SEED) -> pd.DataFrame:
    """COCO-QA-style questions for every image in ``objects`` (columns ``image_id``,
    ``category_id``, ``iscrowd``); see the module docstring. Deterministic: each image has its own
    generator seeded with ``(seed, image_id)`` and every collection is sorted before use."""
    unknown = sorted(set(objects["category_id"].astype(int)) - set(_CATEGORY))
    if unknown:
        raise BenchmarkError(f"unknown COCO category ids {unknown}")
    all_ids = np.array(sorted(_CATEGORY), dtype=np.int64)
    rows: list[tuple[int, int, str, str, str]] = []
    for image_id, group in objects.groupby("image_id", sort=True):
        image_id = int(image_id)
        rng = np.random.default_rng([seed, image_id])
        cids = group["category_id"].to_numpy(dtype=np.int64)
        crowd = group["iscrowd"].to_numpy(dtype=bool)
        present = np.unique(cids)  # sorted
        absent = np.setdiff1d(all_ids, present)  # sorted
        drawn = np.sort(rng.choice(absent, size=min(len(present), len(absent)), replace=False))
        qs: list[tuple[str, str, str]] = []
        asked = sorted([(int(c), "yes") for c in present] + [(int(c), "no") for c in drawn])
        qs += [("presence", presence_question(_CATEGORY[c][0]), ans) for c, ans in asked]
        for c in present:
            name = _CATEGORY[int(c)][0]
            mask = cids == c
            n = int(mask.sum())
            if not crowd[mask].any() and n <= MAX_COUNT:
                qs.append(("count", f"How many {plural(name)} are there?", str(n)))
        by_super: dict[str, list[int]] = {}
        for c in present:
            by_super.setdefault(_CATEGORY[int(c)][1], []).append(int(c))
        for sup in sorted(by_super):
            if sup in _SUPER_PHRASE and len(by_super[sup]) == 1:
                qs.append(("category", f"What kind of {_SUPER_PHRASE[sup]} is in the image?", _CATEGORY[by_super[sup][0]][0]))
        if len(qs) >= 1000:
            raise BenchmarkError(f"image {image_id}: {len(qs)} questions overflow question_id = image_id*1000 + k")
        rows += [(image_id * 1000 + k, image_id, t, q, a) for k, (t, q, a) in enumerate(qs)]
    return pd.DataFrame(
        {
            "question_id": pd.array([r[0] for r in rows], dtype="int64"),
            "image_id": pd.array([r[1] for r in rows], dtype="int64"),
            "question_type": [r[2] for r in rows],
            "question": [r[3] for r in rows],
            "answers": [[r[4]] * N_ANSWERS for r in rows],
            "split": [split_of(r[1]) for r in rows],
        },
        columns=list(QA_COLUMNS),
    )


__all__ = [
    "CATEGORIES",
    "COCO",
    "UnresolvedUrlPin",
    "UrlDatasetSpec",
    "UrlPin",
    "decode_image",
    "generate_qa",
    "load_captions",
    "load_images",
    "load_objects",
    "load_qa",
    "read_captions_json",
    "read_image_info",
    "read_instances_json",
    "split_of",
    "square_jpeg",
    "verify_download",
]
