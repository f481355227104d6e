"""The data layer: bundled FLORES-200/SIB-200 subsets, checksums, official-layout readers, pins.

Offline and fast. Tests that need the read-only source data (``../shared/data``) skip without it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from benchmark.data import flores, sib, spec
from benchmark.data.spec import BUNDLE_DIR, UpstreamPin, materialize, verify_bundle, verify_file
from benchmark.io import BenchmarkError

ROOT = Path(__file__).parents[1]
SHARED = ROOT / ".." / "shared" / "data"


def needs_shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} absent (source data only exists in the development checkout)")
    return path


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(BUNDLE_DIR, dest)
    return dest


def flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# --- bundled data --------------------------------------------------------------------------------


def test_sentences_shape_and_order() -> None:
    df = flores.load_sentences()
    assert df.shape == (1004, 205)
    assert tuple(df.columns) == flores.LANGUAGES == tuple(sorted(flores.LANGUAGES))
    assert "nqo_Nkoo" in df.columns and flores.PIVOT in df.columns
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert df.index.min() >= 0 and df.index.max() < sum(flores.SPLIT_SIZES.values())
    assert df.notna().all().all() and (df.map(len) > 0).all().all()


def test_sentences_subset_keeps_requested_order() -> None:
    df = flores.load_sentences(langs=["fra_Latn", "eng_Latn"])
    assert list(df.columns) == ["fra_Latn", "eng_Latn"]


def test_labels() -> None:
    labels = sib.load_labels()
    assert list(labels.columns) == ["index_id", "split", "category"]
    assert labels["split"].value_counts().to_dict() == {"train": 701, "dev": 99, "test": 204}
    assert list(dict.fromkeys(labels["split"])) == ["train", "dev", "test"]  # upstream order kept
    assert len(sib.CATEGORIES) == 7 and set(labels["category"]) == set(sib.CATEGORIES)
    assert set(labels["index_id"]) == set(flores.load_sentences(langs=["eng_Latn"]).index)


def test_metadata_matches_index() -> None:
    meta = flores.load_metadata()
    assert len(meta) == 1004
    assert list(meta.columns) == ["flores_split", "line", "url", "domain", "topic", "has_image", "has_hyperlink"]
    dev = meta["flores_split"] == "dev"
    assert (meta.index[dev] == meta["line"][dev]).all()
    assert (meta.index[~dev] == meta["line"][~dev] + flores.SPLIT_SIZES["dev"]).all()


def test_manifest_covers_spec_and_verifies() -> None:
    manifest = verify_bundle(BUNDLE_DIR)
    for ds in (flores.FLORES200, sib.SIB200):
        assert set(ds.bundled_files) <= set(manifest["files"])
    assert {"LICENSE", "ATTRIBUTION.md"} <= set(manifest["files"])
    assert manifest["source"]["flores200"]["revision"] == flores.FLORES200.upstream.revision
    assert manifest["source"]["sib200"]["revision"] == sib.SIB200.upstream.revision


# --- specs ---------------------------------------------------------------------------------------


def test_specs_are_pinned_and_frozen() -> None:
    for ds in (flores.FLORES200, sib.SIB200):
        assert len(ds.upstream.revision) == 40 and ds.upstream.revision in ds.upstream.url_template
    assert len(flores.FLORES200.upstream.files) == 2 * 205
    with pytest.raises(ValidationError):
        flores.FLORES200.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "change",
    [
        {"revision": "dbc2cd91"},  # short SHA
        {"url_template": "https://example.org/main/{path}"},  # URL does not name the commit
        {"files": {"a.txt": "nothex"}},
        {"unexpected": 1},
    ],
)
def test_upstream_pin_rejects(change: dict) -> None:
    good = flores.FLORES200.upstream.model_dump()
    with pytest.raises(ValidationError):
        UpstreamPin(**(good | change))


# --- verification errors -------------------------------------------------------------------------


def test_checksum_mismatch_names_file(bundle_copy: Path) -> None:
    flip_byte(bundle_copy / flores.SENTENCES_FILE)
    with pytest.raises(BenchmarkError, match=rf"{flores.SENTENCES_FILE}: sha256 mismatch \(expected [0-9a-f]+…, got"):
        flores.load_sentences(bundle_copy, langs=["eng_Latn"])


def test_missing_file(bundle_copy: Path) -> None:
    (bundle_copy / sib.LABELS_FILE).unlink()
    with pytest.raises(BenchmarkError, match=rf"{sib.LABELS_FILE}: missing"):
        sib.load_labels(bundle_copy)


def test_unknown_language() -> None:
    with pytest.raises(BenchmarkError, match="'xxx_Zzzz'"):
        flores.load_sentences(langs=["eng_Latn", "xxx_Zzzz"])


def test_row_count_mismatch(bundle_copy: Path, tmp_path: Path) -> None:
    manifest_path = bundle_copy / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][sib.LABELS_FILE]["rows"] = 1003
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BenchmarkError, match=rf"{sib.LABELS_FILE}: expected 1003 rows"):
        materialize(tmp_path / "out", bundle_copy)
    assert not (tmp_path / "out").exists()


def test_materialize_copies_verified_bundle(tmp_path: Path) -> None:
    out = materialize(tmp_path / "data")
    assert verify_file(out, flores.SENTENCES_FILE).parent == out
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in BUNDLE_DIR.iterdir())


def test_materialize_leaves_nothing_on_failure(bundle_copy: Path, tmp_path: Path) -> None:
    flip_byte(bundle_copy / flores.METADATA_FILE)
    dest = tmp_path / "dest"
    with pytest.raises(BenchmarkError, match=flores.METADATA_FILE):
        materialize(dest, bundle_copy)
    assert not dest.exists()
    # An existing destination survives a failed refresh untouched, and no temp dirs linger.
    dest.mkdir()
    (dest / "keep.txt").write_text("old")
    with pytest.raises(BenchmarkError):
        materialize(dest, bundle_copy)
    assert [p.name for p in dest.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "dest"]


# --- official layout -----------------------------------------------------------------------------


def _official(root: Path, lines: dict[str, int], split: str = "dev") -> Path:
    (root / split).mkdir(parents=True)
    for lang, n in lines.items():
        (root / split / f"{lang}.{split}").write_text("".join(f"{lang} {i}\n" for i in range(n)), encoding="utf-8")
    return root


def test_read_official_line_count_mismatch(tmp_path: Path) -> None:
    root = _official(tmp_path, {"eng_Latn": 997, "fra_Latn": 996})
    with pytest.raises(BenchmarkError, match=r"fra_Latn\.dev: expected 997 lines, found 996"):
        flores.read_official(root, "dev")
    assert flores.read_official(root, "dev", ["eng_Latn"], first_n=2) == {"eng_Latn": ["eng_Latn 0", "eng_Latn 1"]}


def test_read_official_missing_file_and_bad_split(tmp_path: Path) -> None:
    root = _official(tmp_path, {"eng_Latn": 997})
    with pytest.raises(BenchmarkError, match=r"deu_Latn\.dev: missing"):
        flores.read_official(root, "dev", ["eng_Latn", "deu_Latn"])
    with pytest.raises(BenchmarkError, match="unknown FLORES-200 split 'test'"):
        flores.read_official(root, "test")
    with pytest.raises(BenchmarkError, match="no \\*.devtest files"):
        flores.read_official(root, "devtest")


def test_read_official_shared_matches_bundle() -> None:
    root = needs_shared("flores200")
    bundle = flores.load_sentences(langs=["eng_Latn", "nqo_Nkoo", "zho_Hans"])
    for split, offset in (("dev", 0), ("devtest", flores.SPLIT_SIZES["dev"])):
        full = flores.read_official(root, split)
        assert sorted(full) == list(flores.LANGUAGES)
        for lang in bundle.columns:
            for idx in bundle.index:
                if offset <= idx < offset + flores.SPLIT_SIZES[split]:
                    assert full[lang][idx - offset] == bundle.at[idx, lang]


def test_sib_english_text_matches_flores() -> None:
    upstream = sib.read_official(needs_shared("sib200"))
    assert list(upstream.columns) == ["index_id", "split", "category", "text"]
    labels = sib.load_labels()
    assert (upstream[["index_id", "split", "category"]] == labels).all().all()
    eng = flores.load_sentences(langs=[flores.PIVOT])[flores.PIVOT]
    differ = upstream[upstream["text"].to_numpy() != eng.loc[upstream["index_id"]].to_numpy()]
    # Upstream SIB lost the leading quote pair of two sentences; otherwise identical to FLORES.
    assert sorted(differ["index_id"]) == [997, 1239]
    for i, text in zip(differ["index_id"], differ["text"]):
        assert text == eng[i].replace('"', "")
    quoted = upstream.set_index("index_id").at[1095, "text"]  # a CSV-quoted field with "" escapes
    assert quoted == eng[1095] and quoted.count('"') == 2


def test_sib_categories_match_upstream_labels_file() -> None:
    labels = needs_shared("sib200", "labels.txt").read_text(encoding="utf-8").split("\n")
    assert tuple(c for c in labels if c) == sib.CATEGORIES


# --- upstream fetch (network replaced by local copies) --------------------------------------------


def _serve_shared(monkeypatch: pytest.MonkeyPatch, tamper: str | None = None) -> list[str]:
    shared = needs_shared()
    served: list[str] = []

    def fake_download(url: str, timeout: float = 0) -> bytes:
        served.append(url)
        tail = url.split("/")
        if "flores-200-dev" in url or "flores-200-devtest" in url:
            local = shared / "flores200" / tail[-2].removeprefix("flores-200-") / tail[-1]
        elif tail[-1].startswith("metadata_"):
            local = shared / "flores200" / tail[-1]
        else:
            local = shared / "sib200" / tail[-1]
        data = local.read_bytes()
        return data + b"x" if tamper and url.endswith(tamper) else data

    monkeypatch.setattr(spec, "download", fake_download)
    return served


def test_fetch_upstream_verifies_and_lays_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    served = _serve_shared(monkeypatch)
    dest = flores.fetch_upstream(tmp_path / "flores")
    assert len(served) == 2 * 205 + 2
    assert all(flores.FLORES200.upstream.revision in u for u in served[:410])
    assert len(flores.read_official(dest, "devtest")) == 205
    assert (dest / "metadata_dev.tsv").is_file()
    served.clear()
    flores.fetch_upstream(dest)  # already complete and verified: nothing re-downloaded
    assert served == []
    sib_dir = sib.fetch_upstream(tmp_path / "sib")
    assert len(sib.read_official(sib_dir)) == 1004


def test_fetch_upstream_checksum_mismatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _serve_shared(monkeypatch, tamper="test.tsv")
    with pytest.raises(BenchmarkError, match=r"test\.tsv: sha256 mismatch"):
        sib.fetch_upstream(tmp_path / "sib")
    assert not (tmp_path / "sib" / "test.tsv").exists()
    assert not any(p.name.endswith(".tmp") for p in (tmp_path / "sib").iterdir())


def test_download_failure_is_one_line_error() -> None:
    with pytest.raises(BenchmarkError, match=r"download failed: http://127\.0\.0\.1:9/x"):
        spec.download("http://127.0.0.1:9/x", timeout=2)


# --- build script --------------------------------------------------------------------------------


def test_build_is_deterministic_and_bundle_current(tmp_path: Path) -> None:
    shared = needs_shared()
    script = ROOT / "scripts" / "build_bundle.py"
    mod_spec = importlib.util.spec_from_file_location("build_bundle", script)
    assert mod_spec and mod_spec.loader
    build_bundle = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(build_bundle)
    out, pins = tmp_path / "bundle", tmp_path / "pins"
    assert build_bundle.main(["--shared", str(shared), "--out", str(out), "--pins", str(pins)]) == 0

    def digests(folder: Path) -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}

    # The committed bundle came from an earlier run: equal bytes means both deterministic and current.
    assert digests(out) == digests(BUNDLE_DIR)
    assert digests(pins) == digests(spec.PINS_DIR)


def test_upstream_metadata_covers_every_line_and_agrees_with_the_bundle(shared_data: Path, tmp_path: Path) -> None:
    """`full`'s bootstrap clusters: the upstream metadata covers all 2009 dev+devtest lines (the bundle
    only SIB-200's 1004), and on the bundle's lines names the same article."""
    meta = flores.read_official_metadata(shared_data / "flores200")
    assert len(meta) == 997 + 1012 and list(meta.index) == list(range(2009))
    bundled = flores.load_metadata()
    assert (meta.loc[bundled.index, "url"] == bundled["url"]).all()
    assert meta.loc[997:, "url"].nunique() < 1012  # devtest sentences cluster by article
    for split in ("dev", "devtest"):
        shutil.copy(shared_data / "flores200" / f"metadata_{split}.tsv", tmp_path / f"metadata_{split}.tsv")
    lines = (tmp_path / "metadata_dev.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "metadata_dev.tsv").write_text("".join(lines[:-1]), encoding="utf-8")
    with pytest.raises(BenchmarkError, match=r"metadata_dev.tsv: expected 997 rows of 5 tab-separated fields$"):
        flores.read_official_metadata(tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ('{"hf-dataset:a/b": {"resolved": "xyz"}}', "hf-dataset:a/b.source: Field required"),
    ('{"bogus": {}}', "key 'bogus' is not hf-dataset:..., url:... or github:..."),
    ("[1", "Expecting ',' delimiter"),
])
def test_a_bad_lock_file_is_one_line(tmp_path, text, message) -> None:
    from benchmark.data import lock

    path = tmp_path / "lock.json"
    path.write_text(text)
    with pytest.raises(BenchmarkError) as err:
        lock.read(path)
    assert str(err.value).startswith(f"{path}: not a valid lock file (") and message in str(err.value)
    assert "\n" not in str(err.value)
    assert lock.read(tmp_path / "absent.json") == {}  # nothing locked yet
