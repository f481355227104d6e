"""COCO and VQAv2 data: the bundled COCO tables and generated questions, the official-JSON readers,
VQA soft scores, the answer vocabulary, the answer prior, and the URL pins.

Offline and fast. Tests that need the read-only source data (``../shared/data``) skip without it.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydantic import ValidationError

from benchmark.data import coco, vqa
from benchmark.data.spec import BUNDLE_DIR, read_manifest, verify_bundle
from benchmark.io import BenchmarkError

# The bundle as built by scripts/build_bundle.py from COCO-MINI (see ATTRIBUTION.md).
N_IMAGES = 154
SPLIT_COUNTS = {"train": 119, "heldout": 35}
N_CAPTIONS = 770
N_OBJECTS, N_OBJECT_IMAGES = 1000, 101
QUESTION_COUNTS = {"presence": 826, "count": 392, "category": 154}


@pytest.fixture(scope="module")
def images() -> pd.DataFrame:
    return coco.load_images()


@pytest.fixture(scope="module")
def qa() -> pd.DataFrame:
    return vqa.load_coco_qa()


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(BUNDLE_DIR, dest)
    return dest


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


# --- bundled COCO tables -------------------------------------------------------------------------


def test_bundle_shapes_and_manifest(images: pd.DataFrame) -> None:
    manifest = verify_bundle(BUNDLE_DIR)
    assert set(coco.COCO.bundled_files) <= set(manifest["files"])
    assert tuple(images.columns) == coco.IMAGE_COLUMNS
    assert len(images) == N_IMAGES and images["image_id"].is_unique and images["image_id"].is_monotonic_increasing
    assert images["split"].value_counts().to_dict() == SPLIT_COUNTS
    assert set(images["source_split"]) == set(coco.SOURCE_SPLITS)
    assert len(coco.load_captions()) == N_CAPTIONS
    objects = coco.load_objects()
    assert tuple(objects.columns) == coco.OBJECT_COLUMNS
    assert (len(objects), objects["image_id"].nunique()) == (N_OBJECTS, N_OBJECT_IMAGES)
    for name, df in [(coco.IMAGES_FILE, images), (coco.OBJECTS_FILE, objects), (coco.QA_FILE, vqa.load_coco_qa())]:
        assert manifest["files"][name]["rows"] == len(df)
        assert manifest["files"][name]["columns"] == len(df.columns)


def test_every_image_decodes_to_224_rgb_without_metadata(images: pd.DataFrame) -> None:
    for jpeg in images["jpeg"]:
        assert jpeg[:2] == b"\xff\xd8"
        im = coco.decode_image(jpeg)
        assert (im.mode, im.size) == ("RGB", (coco.IMAGE_SIZE, coco.IMAGE_SIZE))
        with Image.open(io.BytesIO(jpeg)) as raw:
            assert raw.format == "JPEG" and not {"exif", "icc_profile"} & set(raw.info)
    # One image is shorter than 224 px on one side and was upscaled; all others were downscaled.
    assert (images[["width", "height"]].min(axis=1) < coco.IMAGE_SIZE).sum() == 1


def test_decode_image_rejects_garbage() -> None:
    with pytest.raises(BenchmarkError, match="undecodable image"):
        coco.decode_image(b"not a jpeg")


def test_no_noderivs_and_license_fields_present(images: pd.DataFrame) -> None:
    assert not images["license_name"].str.contains("NoDerivs").any()
    assert not images["license_url"].str.contains("-nd").any()
    for col in ("license_name", "license_url", "flickr_url", "coco_url", "file_name"):
        assert (images[col].str.len() > 0).all(), col
    assert images["license_url"].str.startswith("http://creativecommons.org/licenses/").all()
    assert (images["file_name"] == images["image_id"].map("{:012d}.jpg".format)).all()
    assert (images["coco_url"] == "http://images.cocodataset.org/" + images["source_split"] + "/" + images["file_name"]).all()
    attribution = (BUNDLE_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for name, n in images["license_name"].value_counts().items():
        assert f"| {name} |" in attribution and f"| {n} |" in attribution
    assert "NoDerivs" in attribution and "CC BY 4.0" in attribution and "Lin et al., 2014" in attribution


def test_split_rule_and_no_leak_across_tables(images: pd.DataFrame, qa: pd.DataFrame) -> None:
    assert (images["split"] == np.where(images["image_id"] % 5 == 0, "heldout", "train")).all()
    train, heldout = (set(images.loc[images["split"] == s, "image_id"]) for s in coco.SPLITS)
    assert train and heldout and not train & heldout and train | heldout == set(images["image_id"])
    split = images.set_index("image_id")["split"]
    for df in (coco.load_captions(), coco.load_objects(), qa):
        assert set(df["image_id"]) <= set(images["image_id"])
    assert (qa["split"].to_numpy() == split.loc[qa["image_id"]].to_numpy()).all()
    assert len(coco.load_images(split="heldout")) == SPLIT_COUNTS["heldout"]
    with pytest.raises(BenchmarkError, match="unknown COCO split 'test'"):
        coco.load_images(split="test")


def test_every_image_has_captions(images: pd.DataFrame) -> None:
    caps = coco.load_captions()
    assert list(caps.columns) == ["image_id", "caption_id", "caption"]
    assert caps["caption_id"].is_unique
    assert list(caps.itertuples(index=False)) == sorted(caps.itertuples(index=False), key=lambda r: (r[0], r[1]))
    per_image = caps.groupby("image_id").size()
    assert set(per_image.index) == set(images["image_id"]) and (per_image >= 2).all()
    assert (caps["caption"].str.strip().str.len() > 0).all()


def test_objects_use_coco_categories() -> None:
    objects = coco.load_objects()
    known = {cid: (name, sup) for cid, name, sup in coco.CATEGORIES}
    assert len(known) == 80
    for cid, name, sup in objects[["category_id", "category", "supercategory"]].drop_duplicates().itertuples(index=False):
        assert known[cid] == (name, sup)


# --- generated questions -------------------------------------------------------------------------


def test_qa_is_deterministic_and_order_independent(qa: pd.DataFrame) -> None:
    objects = coco.load_objects()
    regenerated = coco.generate_qa(objects)
    pd.testing.assert_frame_equal(regenerated, qa)
    shuffled = objects.sample(frac=1.0, random_state=3).reset_index(drop=True)
    pd.testing.assert_frame_equal(coco.generate_qa(shuffled), qa)
    assert not coco.generate_qa(objects, seed=1).equals(qa)  # the seed matters (absent categories drawn)


def test_qa_counts_and_answers(qa: pd.DataFrame) -> None:
    assert tuple(qa.columns) == coco.QA_COLUMNS
    assert qa["question_id"].is_unique and (qa["question_id"] // 1000 == qa["image_id"]).all()
    assert qa["question_type"].value_counts().to_dict() == QUESTION_COUNTS
    assert all(len(a) == 10 and len(set(a)) == 1 for a in qa["answers"])
    answer = qa["answers"].str[0]
    presence = qa["question_type"] == "presence"
    # yes/no balanced overall (413 / 413) and within every image
    assert answer[presence].value_counts().to_dict() == {"yes": 413, "no": 413}
    per_image = pd.crosstab(qa.loc[presence, "image_id"], answer[presence])
    assert (per_image["yes"] == per_image["no"]).all()
    counts = answer[qa["question_type"] == "count"].astype(int)
    assert counts.between(1, coco.MAX_COUNT).all()
    assert counts.value_counts().to_dict() == {1: 248, 2: 68, 3: 24, 4: 21, 5: 14, 6: 9, 7: 3, 8: 1, 9: 2, 10: 2}
    names = {name for _, name, _ in coco.CATEGORIES}
    assert set(answer[qa["question_type"] == "category"]) <= names


def test_qa_answers_match_annotations(qa: pd.DataFrame) -> None:
    objects = coco.load_objects()
    present = objects.groupby("image_id")["category"].agg(set)
    row = qa[(qa["image_id"] == 139) & (qa["question_type"] == "count")].iloc[0]
    name = row["question"].removeprefix("How many ").removesuffix(" are there?")
    assert name == "people" and row["answers"][0] == str(
        int(((objects["image_id"] == 139) & (objects["category"] == "person")).sum())
    )
    for r in qa[qa["question_type"] == "category"].itertuples():
        assert r.answers[0] in present[r.image_id]


def test_question_wording() -> None:
    assert coco.presence_question("apple") == "Is there an apple in the image?"
    assert coco.presence_question("skis") == "Are there skis in the image?"
    assert [coco.plural(n) for n in ("person", "bus", "knife", "wine glass", "tv")] == [
        "people", "buses", "knives", "wine glasses", "tvs",
    ]  # fmt: skip


def test_crowd_and_large_counts_are_not_asked() -> None:
    objects = pd.DataFrame(
        {"image_id": [7] * 13, "category_id": [1] * 11 + [3, 3], "iscrowd": [False] * 11 + [False, True]}
    )
    q = coco.generate_qa(objects)
    assert q.loc[q["question_type"] == "count"].empty  # 11 people > MAX_COUNT; cars include a crowd
    assert q.loc[q["question_type"] == "presence", "answers"].str[0].value_counts().to_dict() == {"yes": 2, "no": 2}
    assert q.loc[q["question_type"] == "category", "answers"].str[0].tolist() == ["car"]


def test_answer_prior_accuracy_on_bundle(qa: pd.DataFrame) -> None:
    acc = vqa.answer_prior_accuracy(qa[qa["split"] == "train"], qa[qa["split"] == "heldout"])
    assert acc["presence"] == 0.5  # balanced yes/no: the prior cannot beat chance
    assert acc == pytest.approx({"overall": 0.47794117647, "category": 0.0, "count": 0.58227848101, "presence": 0.5})


# --- images: transform ---------------------------------------------------------------------------


def test_square_jpeg_crops_center_and_strips_metadata() -> None:
    src = Image.new("RGB", (400, 300), (255, 0, 0))
    src.paste((0, 0, 255), (0, 0, 30, 300))  # a blue band that the center crop must cut away
    exif = Image.Exif()
    exif[0x010E] = "description"
    buf = io.BytesIO()
    src.save(buf, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 200, comment=b"hi")
    out = coco.square_jpeg(buf.getvalue())
    assert out == coco.square_jpeg(buf.getvalue())
    with Image.open(io.BytesIO(out)) as im:
        assert im.size == (224, 224) and not {"exif", "icc_profile", "comment"} & set(im.info)
        r, g, b = im.convert("RGB").getpixel((0, 112))
    assert r > 200 and b < 60


def test_square_jpeg_reproduces_bundle(images: pd.DataFrame, shared_data: Path) -> None:
    for row in images.iloc[[0, -1]].itertuples():
        data = (shared_data / "coco" / "mini" / row.source_split / row.file_name).read_bytes()
        assert coco.square_jpeg(data) == row.jpeg


# --- official COCO JSON --------------------------------------------------------------------------


def test_read_official_coco_matches_bundle(images: pd.DataFrame, shared_data: Path) -> None:
    caps = coco.read_captions_json(shared_data / "coco" / "captions_val2017" / "captions_val2017.json")
    assert len(caps) == 25014
    bundle_caps = coco.load_captions()
    val_ids = set(images.loc[images["source_split"] == "val2017", "image_id"])
    pd.testing.assert_frame_equal(
        caps[caps["image_id"].isin(val_ids)].reset_index(drop=True),
        bundle_caps[bundle_caps["image_id"].isin(val_ids)].reset_index(drop=True),
    )
    imgs, objects = coco.read_instances_json(shared_data / "coco" / "mini" / "annotations" / "instances_train2017.json")
    assert len(imgs) == 80 and list(imgs.columns) == list(coco.IMAGE_COLUMNS[:1] + coco.IMAGE_COLUMNS[2:10])
    kept = objects[objects["image_id"].isin(images["image_id"])].reset_index(drop=True)
    bundle_objects = coco.load_objects()
    pd.testing.assert_frame_equal(
        kept, bundle_objects[bundle_objects["image_id"].isin(imgs["image_id"])].reset_index(drop=True), check_dtype=False
    )


def _instances() -> dict:
    return {
        "licenses": [{"id": 4, "name": "Attribution License", "url": "http://creativecommons.org/licenses/by/2.0/"}],
        "images": [
            {"id": 5, "file_name": "000000000005.jpg", "license": 4, "width": 640, "height": 480,
             "coco_url": "http://images.cocodataset.org/val2017/000000000005.jpg", "flickr_url": "http://x/y.jpg"},
        ],  # fmt: skip
        "categories": [{"id": 18, "name": "dog", "supercategory": "animal"}],
        "annotations": [{"id": 1, "image_id": 5, "category_id": 18, "area": 12.5, "iscrowd": 0, "bbox": [0, 0, 1, 1]}],
    }


def test_read_instances_json_small(tmp_path: Path) -> None:
    imgs, objects = coco.read_instances_json(write_json(tmp_path / "instances.json", _instances()))
    assert imgs.iloc[0]["license_name"] == "Attribution License"
    assert objects.to_dict("records") == [
        {"image_id": 5, "annotation_id": 1, "category_id": 18, "category": "dog", "supercategory": "animal",
         "area": 12.5, "iscrowd": False},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("categories"), "missing list\\(s\\) 'categories'"),
        (lambda d: d["annotations"][0].pop("area"), r"annotations\[0\] lacks one of"),
        (lambda d: d["annotations"][0].update(image_id=99), "1 annotations refer to image ids not in 'images'"),
        (lambda d: d["annotations"][0].update(category_id=1), "unknown category id 1"),
        (lambda d: d["images"][0].update(license=9), "unknown license id 9"),
        (lambda d: d["images"][0].pop("flickr_url"), r"images\[0\] lacks one of"),
    ],
)
def test_read_instances_json_malformed(tmp_path: Path, mutate, message: str) -> None:
    doc = _instances()
    mutate(doc)
    path = write_json(tmp_path / "bad_instances.json", doc)
    with pytest.raises(BenchmarkError, match=rf"bad_instances\.json: .*{message}"):
        coco.read_instances_json(path)


def test_read_captions_json_malformed(tmp_path: Path) -> None:
    path = write_json(tmp_path / "caps.json", {"images": [{"id": 1}], "annotations": [{"id": 2, "image_id": 3, "caption": "x"}]})
    with pytest.raises(BenchmarkError, match=r"caps\.json: 1 captions refer to image ids not in 'images' \(e\.g\. 3\)"):
        coco.read_captions_json(path)
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"broken\.json: not valid JSON"):
        coco.read_captions_json(tmp_path / "broken.json")
    with pytest.raises(BenchmarkError, match=r"absent\.json: missing"):
        coco.read_captions_json(tmp_path / "absent.json")


# --- checksums -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "loader"),
    [
        (coco.IMAGES_FILE, coco.load_images),
        (coco.CAPTIONS_FILE, coco.load_captions),
        (coco.OBJECTS_FILE, coco.load_objects),
        (coco.QA_FILE, vqa.load_coco_qa),
    ],
)
def test_tampered_parquet_fails_checksum(bundle_copy: Path, name: str, loader) -> None:
    path = bundle_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BenchmarkError, match=rf"{name}: sha256 mismatch \(expected [0-9a-f]+…, got"):
        loader(bundle_copy)


def test_manifest_names_coco_sources() -> None:
    source = read_manifest(BUNDLE_DIR)["source"]["coco"]
    assert source["mini"]["repo"] == "Obmutescence/COCO-MINI"
    assert len(source["files"]) == 5 and all(len(h) == 64 for h in source["files"].values())


# --- VQAv2 ---------------------------------------------------------------------------------------


def test_read_vqav2_sample(shared_data: Path) -> None:
    root = shared_data / "vqav2" / "sample"
    df = vqa.read_vqav2(root / "questions.json", root / "annotations.json")
    assert tuple(df.columns) == vqa.COLUMNS and len(df) == 3
    assert df["question_id"].tolist() == [458752000, 458752001, 458752002] and (df["image_id"] == 458752).all()
    assert all(len(a) == 10 for a in df["answers"])
    assert df["multiple_choice_answer"].tolist() == ["net", "pitcher", "orange"]  # derived: the sample omits it
    for answers in df["answers"]:
        scores = vqa.soft_scores(answers)
        assert all(0.0 <= s <= 1.0 for s in scores.values())
    # answers: net x6, netting, mesh, pitcher, orange
    assert vqa.soft_scores(df["answers"][0]) == pytest.approx(
        {"mesh": 1 / 3, "net": 1.0, "netting": 1 / 3, "orange": 1 / 3, "pitcher": 1 / 3}
    )
    assert vqa.soft_scores(df["answers"][1]) == pytest.approx({"catcher": 1 / 3, "pitcher": 1.0})


def test_soft_scores_hand_case() -> None:
    answers = ["Two", "2", "two.", "the dog", "dog", "a cat", "Yes", "yes", "no", "1,000"]
    assert vqa.soft_scores(answers) == pytest.approx(
        {"2": 1.0, "dog": 2 / 3, "cat": 1 / 3, "yes": 2 / 3, "no": 1 / 3, "1000": 1 / 3}
    )


@pytest.mark.parametrize(
    ("raw", "norm"),
    [("Two", "2"), ("the dog.", "dog"), ("t-shirt", "t shirt"), ("1,000", "1000"), ("dont", "don't"),
     ("2.5", "2.5"), ("  Yes!\n", "yes"), ("an apple", "apple"), ("red, white", "red white")],
)  # fmt: skip
def test_normalize_answer(raw: str, norm: str) -> None:
    assert vqa.normalize_answer(raw) == norm


def _vqa_files(tmp_path: Path, questions: list, annotations: list) -> tuple[Path, Path]:
    return (
        write_json(tmp_path / "q.json", {"questions": questions}),
        write_json(tmp_path / "a.json", {"annotations": annotations}),
    )


def _ann(qid: int, answers: list[str] | None = None, **extra) -> dict:
    return {"question_id": qid, "answers": [{"answer": a} for a in (answers or ["yes"] * 10)], **extra}


def test_read_vqav2_full_format(tmp_path: Path) -> None:
    q, a = _vqa_files(
        tmp_path,
        [{"question_id": 11, "image_id": 1, "question": "Is it?"}, {"question_id": 10, "image_id": 1, "question": "What?"}],
        [
            _ann(11, image_id=1, question_type="is it", answer_type="yes/no", multiple_choice_answer="yes"),
            _ann(10, ["cat"] * 4 + ["dog"] * 6, image_id=1, question_type="what", answer_type="other",
                 multiple_choice_answer="dog"),
        ],  # fmt: skip
    )
    df = vqa.read_vqav2(q, a)
    assert df["question_id"].tolist() == [10, 11]
    assert df.iloc[0][["question_type", "answer_type", "multiple_choice_answer"]].tolist() == ["what", "other", "dog"]


@pytest.mark.parametrize(
    ("questions", "annotations", "bad", "message"),
    [
        ([{"question_id": 1, "image_id": 1}], [_ann(1)], "q", r"questions\[0\] lacks one of"),
        ([{"question_id": 1, "image_id": 1, "question": "?"}], [_ann(2)], "a", "refers to question_id 2, absent from"),
        ([{"question_id": 1, "image_id": 1, "question": "?"}], [_ann(1, image_id=2)], "a", "has image_id 2"),
        ([{"question_id": 1, "image_id": 1, "question": "?"}], [_ann(1, ["x"] * 9)], "a", "expected 10 answers"),
        ([{"question_id": 1, "image_id": 1, "question": "?"}], [{"question_id": 1}], "a", r"annotations\[0\] lacks"),
        ([{"question_id": 1, "image_id": 1, "question": "?"}, {"question_id": 2, "image_id": 1, "question": "?"}],
         [_ann(1)], "a", "no annotation for 1 question"),
    ],  # fmt: skip
)
def test_read_vqav2_malformed(tmp_path: Path, questions: list, annotations: list, bad: str, message: str) -> None:
    q, a = _vqa_files(tmp_path, questions, annotations)
    with pytest.raises(BenchmarkError, match=rf"{bad}\.json: .*{message}"):
        vqa.read_vqav2(q, a)


def test_read_vqav2_not_json(tmp_path: Path) -> None:
    q = write_json(tmp_path / "q.json", {"questions": []})
    (tmp_path / "a.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"a\.json: not valid JSON"):
        vqa.read_vqav2(q, tmp_path / "a.json")
    write_json(tmp_path / "a.json", {"annotation": []})
    with pytest.raises(BenchmarkError, match=r"a\.json: missing list 'annotations'"):
        vqa.read_vqav2(q, tmp_path / "a.json")


def test_answer_vocab_tie_breaking() -> None:
    answers = ["yes", "no", "no", "yes", "2", "Blue", "blue", "red", "green", "apple"]
    assert vqa.build_answer_vocab(answers, top_k=5) == ["blue", "no", "yes", "2", "apple"]
    assert vqa.build_answer_vocab(answers, top_k=3, normalize=False) == ["no", "yes", "2"]
    assert len(vqa.build_answer_vocab(answers)) == 7
    with pytest.raises(BenchmarkError, match="top_k must be positive"):
        vqa.build_answer_vocab(answers, top_k=0)


def test_answer_prior_accuracy_hand_case() -> None:
    ten = lambda a: [a] * 10  # noqa: E731
    train = pd.DataFrame(
        {"question_type": ["color", "color", "color", "count", "count"],
         "answers": [ten("red"), ten("blue"), ten("blue"), ten("2"), ten("1")]}
    )  # fmt: skip
    heldout = pd.DataFrame(
        {"question_type": ["color", "color", "count", "where"],
         "answers": [ten("blue"), ["blue"] * 2 + ["red"] * 8, ten("1"), ten("park")]}
    )  # fmt: skip
    # color -> "blue" (1.0, then 2/3); count: tie "1"/"2" -> "1" (1.0); unseen type "where" -> 0
    assert vqa.answer_prior_accuracy(train, heldout) == pytest.approx(
        {"overall": (1 + 2 / 3 + 1 + 0) / 4, "color": (1 + 2 / 3) / 2, "count": 1.0, "where": 0.0}
    )


# --- specs and pins ------------------------------------------------------------------------------


def test_specs_pins() -> None:
    assert coco.COCO.upstream["annotations_trainval2017.zip"].url == (
        "http://images.cocodataset.org/annotations/annotations_trainval2017.zip"
    )
    assert all(isinstance(p, coco.UrlPin) for p in coco.COCO.upstream.values())
    unresolved = [n for n, p in vqa.VQAV2.upstream.items() if isinstance(p, coco.UnresolvedUrlPin)]
    assert sorted(unresolved) == sorted(n for n in vqa.VQAV2.upstream if n.startswith("v2_"))
    assert len(unresolved) == 4 and vqa.VQAV2.bundled_files == ()
    with pytest.raises(ValidationError):
        coco.UrlPin(url="http://x/y.zip", sha256="abc", checksum_source="me")
    with pytest.raises(ValidationError):
        coco.UrlPin(url="http://x/y.zip", checksum_source="me")  # an unknown checksum must say so explicitly


def test_verify_download(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"abc")
    sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert coco.verify_download(coco.UrlPin(url="http://h/x.zip", sha256=sha, size=3, checksum_source="t"), path) == sha
    with pytest.raises(BenchmarkError, match=r"x\.zip: sha256 mismatch"):
        coco.verify_download(coco.UrlPin(url="http://h/x.zip", sha256="0" * 64, checksum_source="t"), path)
    with pytest.raises(BenchmarkError, match=r"x\.zip: expected 4 bytes, found 3"):
        coco.verify_download(coco.UrlPin(url="http://h/x.zip", sha256=sha, size=4, checksum_source="t"), path)
    pin = vqa.VQAV2.upstream["v2_Questions_Train_mscoco.zip"]
    with pytest.raises(BenchmarkError, match="no sha256 pinned for https://s3.amazonaws.com/cvmlp/vqa/"):
        coco.verify_download(pin, path)
    assert coco.verify_download(pin, path, allow_unresolved=True) == sha
