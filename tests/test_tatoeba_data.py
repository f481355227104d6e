"""Tatoeba (LASER v1 test set): the bundled copy, the language table, and the official-layout reader.

Offline and fast. Comparisons with the source files skip when ``../shared/data/tatoeba`` is absent;
the bundle-only tests and the bad-input tests (on copies written to ``tmp_path``) run anyway.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from fontTools.unicodedata import script as unicode_script

from benchmark.data import flores, tatoeba
from benchmark.data.languages import CC100_FLORES
from benchmark.data.spec import BUNDLE_DIR, UnresolvedPin, read_manifest
from benchmark.io import BenchmarkError

SHARED_TATOEBA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tatoeba"


@pytest.fixture(scope="module")
def bundle() -> pd.DataFrame:
    return tatoeba.load_bundle()


@pytest.fixture
def shared() -> Path:
    if not SHARED_TATOEBA.is_dir():
        pytest.skip(f"{SHARED_TATOEBA} absent (the source data exists only in the development checkout)")
    return SHARED_TATOEBA


def write_pair(folder: Path, lang: str, text: bytes, eng: bytes) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    path, eng_path = folder / f"tatoeba.{lang}-eng.{lang}", folder / f"tatoeba.{lang}-eng.eng"
    path.write_bytes(text)
    eng_path.write_bytes(eng)
    return path, eng_path


def lines(n: int, word: str = "x") -> bytes:
    return "".join(f"{word} {i}\n" for i in range(n)).encode("utf-8")


# --- bundle --------------------------------------------------------------------------------------


def test_bundle_size_columns_and_order(bundle: pd.DataFrame) -> None:
    assert list(bundle.columns) == list(tatoeba.COLUMNS)
    assert len(bundle) == tatoeba.TOTAL_PAIRS == 88_877 == tatoeba.TATOEBA.splits["test"]
    assert tuple(sorted(bundle["language"].unique())) == tatoeba.LANGUAGES and len(tatoeba.LANGUAGES) == 112
    assert bundle["index_id"].dtype == "int32"
    # Rows by language, then line; each language's index_id is 0..n-1.
    assert bundle.equals(bundle.sort_values(["language", "index_id"]).reset_index(drop=True))
    counts = bundle.groupby("language").size()
    assert (bundle.groupby("language")["index_id"].max() + 1).tolist() == counts.tolist()
    assert bundle.set_index(["language", "index_id"]).index.is_unique
    assert (counts == 1000).sum() == 72 and counts.max() == 1000 and counts["swh"] == 390
    assert bundle["text"].str.strip().ne("").all() and bundle["eng"].str.strip().ne("").all()


def test_manifest_entry_and_spec() -> None:
    entry = read_manifest(BUNDLE_DIR)["files"][tatoeba.BUNDLE_FILE]
    assert (entry["rows"], entry["columns"]) == (88_877, 4)
    assert tatoeba.TATOEBA.bundled_files == (tatoeba.BUNDLE_FILE,)
    assert tatoeba.TATOEBA.languages == tatoeba.LANGUAGES
    pin = tatoeba.TATOEBA.upstream
    assert isinstance(pin, UnresolvedPin) and pin.revision_short_unresolved == "74bc6ae7"
    assert pin.url("tatoeba.fra-eng.fra") == (
        "https://raw.githubusercontent.com/facebookresearch/LASER/74bc6ae7/data/tatoeba/v1/tatoeba.fra-eng.fra"
    )
    assert len(pin.files) == 224
    source = read_manifest(BUNDLE_DIR)["source"]["tatoeba"]
    assert source == {"files": 224, "repo": "facebookresearch/LASER", "revision_short_unresolved": "74bc6ae7"}


def test_max_pairs_and_language_subset() -> None:
    df = tatoeba.load_bundle(languages=["swh", "afr", "swh"], max_pairs=3)
    assert df["language"].tolist() == ["afr"] * 3 + ["swh"] * 3  # sorted, deduplicated
    # The seeded sample's line numbers, ascending; index_id stays the line number of the files.
    assert df["index_id"].tolist() == [890, 929, 983, 237, 272, 356]
    full = tatoeba.load_bundle(languages=["afr", "swh"])
    assert df.equals(full.merge(df[["language", "index_id"]], on=["language", "index_id"]))  # the same rows
    # As many as a language has or more: all of it, in order (swh has 390, jav 205).
    assert len(tatoeba.load_bundle(languages=["swh"], max_pairs=500)) == 390
    assert tatoeba.load_bundle(languages=["jav"], max_pairs=250)["index_id"].tolist() == list(range(205))
    assert tatoeba.load_bundle(languages=["swh"], max_pairs=390).equals(tatoeba.load_bundle(languages=["swh"]))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(BenchmarkError, match=r"^max_pairs .*: must be a positive integer$"):
            tatoeba.load_bundle(max_pairs=bad)  # type: ignore[arg-type]
        with pytest.raises(BenchmarkError, match=r"^max_pairs .*: must be a positive integer$"):
            tatoeba.sample_ids("ara", 1000, bad)  # type: ignore[arg-type]


def test_max_pairs_is_a_fixed_seeded_sample_not_the_first_lines() -> None:
    """The sample of :func:`tatoeba.sample_ids`: fixed values (sha256 of seed, language and line), not
    the first n lines, independent of the other languages read, nested across sizes."""
    assert tatoeba.SAMPLE_SEED == 20181117
    ara = tatoeba.sample_ids("ara", 1000, 250)
    assert ara == sorted(set(ara)) and len(ara) == 250 and all(0 <= i < 1000 for i in ara)
    assert ara[:10] == [13, 14, 16, 17, 18, 20, 21, 26, 28, 30] and ara[-5:] == [985, 987, 992, 996, 999]
    assert ara == tatoeba.sample_ids("ara", 1000, 250)  # deterministic
    assert sum(i < 250 for i in ara) == 68  # of the first 250 lines, about a quarter as a random draw has
    assert tatoeba.sample_ids("fra", 1000, 250) != ara  # each language its own draw
    assert set(tatoeba.sample_ids("ara", 1000, 50)) <= set(ara)  # smoke's 50 are among mini's 250
    assert tatoeba.sample_ids("ara", 1000, 1000) == tatoeba.sample_ids("ara", 1000, None) == list(range(1000))
    alone = tatoeba.load_bundle(languages=["ara"], max_pairs=250)
    assert alone["index_id"].tolist() == ara
    xtreme = tatoeba.load_bundle(languages=sorted(tatoeba.XTREME_LANGUAGES), max_pairs=250)
    pd.testing.assert_frame_equal(xtreme[xtreme["language"] == "ara"].reset_index(drop=True), alone)
    assert len(xtreme) == 36 * 250 - (250 - 205) - (250 - 234)  # jav 205, tel 234: all of theirs


_WORD = re.compile(r"[\w']+")


def _near_duplicate_share(sentences: list[str], threshold: float = 0.6) -> float:
    """Share of sentences with another sentence of the same pool whose set of lower-cased words
    (``[\\w']+``) overlaps it by Jaccard >= 0.6: "Sami wanted some money." / "Sami wanted money." (0.75)."""
    words = [set(_WORD.findall(s.lower())) for s in sentences]
    return sum(
        any(j != i and len(w & v) / len(w | v) >= threshold for j, v in enumerate(words)) for i, w in enumerate(words)
    ) / len(words)


def test_the_sample_avoids_the_clusters_of_the_first_lines(bundle: pd.DataFrame) -> None:
    """Arabic's file opens with a cluster ("Sami earned good money.", "Sami just wanted money.", ...):
    among its first 250 English lines, 70 (28%) have a near-duplicate among those 250, a harder pool
    than the file's; in the seeded sample 27 (10.8%). Measured over the whole file's 1,000 pool: 17.1%;
    a uniformly random 250 has 7.2% on average (by the file's near-duplicate graph)."""
    ara = bundle[bundle["language"] == "ara"]
    first = ara[ara["index_id"] < 250]["eng"].tolist()
    sampled = tatoeba.load_bundle(languages=["ara"], max_pairs=250)["eng"].tolist()
    assert first[:2] == ["Sami earned good money.", "Sami just wanted money."]
    assert _near_duplicate_share(first) == 70 / 250
    assert _near_duplicate_share(sampled) == 27 / 250


def test_load_bundle_rejects_unknown_code_before_io(tmp_path: Path) -> None:
    # tmp_path has no bundle at all: the code is checked first.
    with pytest.raises(BenchmarkError, match=r"^unknown Tatoeba language code 'fr' \(did you mean 'fra'\?"):
        tatoeba.load_bundle(tmp_path, languages=["fr"])


def test_load_bundle_checks_the_checksum(tmp_path: Path) -> None:
    dest = tmp_path / "bundle"
    dest.mkdir()
    for name in ("MANIFEST.json", tatoeba.BUNDLE_FILE):
        shutil.copyfile(BUNDLE_DIR / name, dest / name)
    data = bytearray((dest / tatoeba.BUNDLE_FILE).read_bytes())
    data[100] ^= 0xFF
    (dest / tatoeba.BUNDLE_FILE).write_bytes(bytes(data))
    with pytest.raises(BenchmarkError, match=rf"{tatoeba.BUNDLE_FILE}: sha256 mismatch"):
        tatoeba.load_bundle(dest)


# --- the shared source files ---------------------------------------------------------------------


def test_languages_are_exactly_the_files(shared: Path) -> None:
    names = sorted(p.name for p in shared.glob("tatoeba.*"))
    assert names == sorted(n for lang in tatoeba.LANGUAGES for n in (f"tatoeba.{lang}-eng.{lang}", f"tatoeba.{lang}-eng.eng"))
    assert set(names) == set(tatoeba.TATOEBA.upstream.files)


def test_bundle_counts_match_the_files(shared: Path, bundle: pd.DataFrame) -> None:
    counts = bundle.groupby("language").size().to_dict()
    for lang in tatoeba.LANGUAGES:
        for side in (lang, "eng"):
            n = (shared / f"tatoeba.{lang}-eng.{side}").read_bytes().count(b"\n")
            assert counts[lang] == n, (lang, side)


def test_bundle_equals_read_official(shared: Path, bundle: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(tatoeba.read_official(shared), bundle)
    subset = tatoeba.read_official(shared, ["yue", "afr"])
    pd.testing.assert_frame_equal(subset, tatoeba.load_bundle(languages=["afr", "yue"]))
    # The full profile samples the upstream files as the bundle is sampled: the same pairs.
    pd.testing.assert_frame_equal(tatoeba.sample(tatoeba.read_official(shared, ["ara", "jav"]), 250),
                                  tatoeba.load_bundle(languages=["ara", "jav"], max_pairs=250))


def test_pins_match_the_files(shared: Path) -> None:
    from benchmark.io import sha256_file

    pin = tatoeba.TATOEBA.upstream
    assert {name: sha256_file(shared / name) for name in pin.files} == pin.files


# --- language table ------------------------------------------------------------------------------

# One-to-one simplified/traditional pairs whose simplified form is not also a traditional character.
HANS_HANT = (
    "们們 这這 个個 说說 来來 时時 会會 为為 学學 国國 对對 开開 过過 还還 没沒 样樣 吗嗎 点點 见見 话話 "
    "给給 电電 买買 卖賣 车車 书書 长長 钱錢 问問 门門 东東 觉覺 让讓 经經 动動 气氣 现現 爱愛 听聽 认認 "
    "识識 头頭 欢歡 请請 谢謝 飞飛 马馬 鱼魚 鸟鳥 语語 读讀 写寫 难難 题題 间間 边邊 远遠 进進 运運 机機 "
    "场場 饭飯 岁歲 从從 将將 汉漢 儿兒 妈媽 爷爺 兴興 关關 帮幫 应應 该該 谁誰 试試 离離 总總 实實 亲親 "
    "热熱 办辦 员員 鸡雞 猫貓 无無 业業 两兩 乐樂 习習 乱亂 产產"
).split()
HANS = {pair[0] for pair in HANS_HANT}
HANT = {pair[1] for pair in HANS_HANT}


def majority_script(sentences: list[str]) -> str:
    """ISO 15924 script of most letters; Hiragana/Katakana/Han -> Jpan when kana dominate, Han ->
    Hans or Hant by a vote of the sentences with more simplified-only or traditional-only characters."""
    counts = Counter(unicode_script(ch) for s in sentences for ch in s if ch.isalpha())
    top = counts.most_common(1)[0][0]
    if top in ("Hira", "Kana"):
        return "Jpan"
    if top == "Hani":
        simplified = sum(sum(c in HANS for c in s) > sum(c in HANT for c in s) for s in sentences)
        traditional = sum(sum(c in HANT for c in s) > sum(c in HANS for c in s) for s in sentences)
        assert simplified != traditional
        return "Hans" if simplified > traditional else "Hant"
    return top


def test_info_scripts_are_the_texts_majority(bundle: pd.DataFrame) -> None:
    measured = {lang: majority_script(g["text"].tolist()) for lang, g in bundle.groupby("language")}
    declared = {lang: info.script for lang, info in tatoeba.INFO.items()}
    assert measured == declared
    # The English side is Latin everywhere.
    assert majority_script(bundle["eng"].tolist()) == "Latn"


def test_info_table_is_consistent() -> None:
    assert tuple(tatoeba.INFO) == tatoeba.LANGUAGES == tuple(sorted(tatoeba.LANGUAGES))
    codes = [i.flores for i in tatoeba.INFO.values() if i.flores is not None]
    assert set(codes) <= set(flores.LANGUAGES) and len(codes) == len(set(codes))
    for lang, info in tatoeba.INFO.items():
        assert re.fullmatch(r"[A-Z][a-z]{3}", info.script) and info.name
        if info.flores is not None and info.flores != "srp_Cyrl":  # FLORES has Serbian in Cyrillic only
            assert info.flores.endswith("_" + info.script), lang
    # Cases chosen on purpose (see the comment above INFO).
    assert {k: tatoeba.INFO[k].flores for k in ("ara", "cmn", "pes", "swh", "yid", "sqi", "wuu", "ber")} == {
        "ara": "arb_Arab", "cmn": "zho_Hant", "pes": "pes_Arab", "swh": "swh_Latn", "yid": "ydd_Hebr",
        "sqi": "als_Latn", "wuu": None, "ber": None,
    }  # fmt: skip


def test_language_table() -> None:
    table = tatoeba.language_table(["cmn", "wuu", "bre", "afr"])
    assert table.index.name == "language" and list(table.index) == ["cmn", "wuu", "bre", "afr"]
    assert list(table.columns) == ["script", "in_cc100", "flores", "name"]
    assert table["in_cc100"].dtype == bool
    assert table["in_cc100"].tolist() == [True, False, False, True]
    assert table.loc["wuu", "flores"] is None and table.loc["afr", "flores"] == "afr_Latn"
    assert table.loc["bre", "name"] == "Breton" and table.loc["cmn", "script"] == "Hant"
    full = tatoeba.language_table()
    assert len(full) == 112
    assert full["in_cc100"].tolist() == [i.flores in CC100_FLORES for i in tatoeba.INFO.values()]
    with pytest.raises(BenchmarkError, match=r"^unknown Tatoeba language code 'zho' \(did you mean 'cmn'\?"):
        tatoeba.language_table(["zho"])


def test_xtreme_languages() -> None:
    assert len(tatoeba.XTREME_LANGUAGES) == 36 and set(tatoeba.XTREME_LANGUAGES) <= set(tatoeba.LANGUAGES)
    assert len(set(tatoeba.XTREME_LANGUAGES.values())) == 36
    assert all(re.fullmatch(r"[a-z]{2}", two) for two in tatoeba.XTREME_LANGUAGES.values())
    assert tatoeba.XTREME_LANGUAGES["cmn"] == "zh" and tatoeba.XTREME_LANGUAGES["pes"] == "fa"
    # All of XTREME's Tatoeba languages were in XLM-R's pretraining data.
    assert tatoeba.language_table(list(tatoeba.XTREME_LANGUAGES))["in_cc100"].all()


# --- read_official: good and bad inputs ----------------------------------------------------------


def test_read_official_small_folder(tmp_path: Path) -> None:
    write_pair(tmp_path, "fra", "Bonjour.\r\nMerci.\n".encode(), b"Hello.\r\nThanks.\n")
    write_pair(tmp_path, "afr", "\ufeffHallo.\n".encode(), b"Hello.")  # BOM dropped, no final newline
    (tmp_path / "README.md").write_text("ignored")
    df = tatoeba.read_official(tmp_path)
    assert df.to_dict("list") == {
        "language": ["afr", "fra", "fra"],
        "index_id": [0, 0, 1],
        "text": ["Hallo.", "Bonjour.", "Merci."],
        "eng": ["Hello.", "Hello.", "Thanks."],
    }
    assert df["index_id"].dtype == "int32"
    assert tatoeba.read_official(tmp_path, ["fra"])["language"].tolist() == ["fra", "fra"]


def test_mismatched_line_counts(tmp_path: Path) -> None:
    path, eng_path = write_pair(tmp_path, "fra", lines(998), lines(1000))
    msg = f"{path}: 998 lines, but {eng_path} has 1000: line i of one is the translation of line i of the other"
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path)
    assert str(err.value) == msg


def test_unknown_code_file(tmp_path: Path) -> None:
    write_pair(tmp_path, "fra", lines(3), lines(3))
    path, _ = write_pair(tmp_path, "xxx", lines(3), lines(3))
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path)
    assert str(err.value) == (
        f"{path.parent / 'tatoeba.xxx-eng.eng'}: unknown Tatoeba language code 'xxx' (expected one of the 112 "
        "three-letter LASER codes of benchmark.data.tatoeba.LANGUAGES, e.g. 'fra')"
    )
    # Asking for the known language only reads just that pair.
    assert len(tatoeba.read_official(tmp_path, ["fra"])) == 3


def test_unknown_requested_code(tmp_path: Path) -> None:
    write_pair(tmp_path, "fra", lines(3), lines(3))
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path, ["fra", "xxx"])
    assert str(err.value) == (
        "unknown Tatoeba language code 'xxx' (expected one of the 112 three-letter LASER codes of "
        "benchmark.data.tatoeba.LANGUAGES, e.g. 'fra')"
    )
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path, ["zh"])
    assert str(err.value) == "unknown Tatoeba language code 'zh' (did you mean 'cmn'? ('zh' is XTREME's code for it))"


def test_empty_line(tmp_path: Path) -> None:
    text = lines(16) + b"\n" + lines(3)
    path, _ = write_pair(tmp_path, "fra", text, lines(20))
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path)
    assert str(err.value) == f"{path}: line 17 is empty"
    _, eng_path = write_pair(tmp_path, "fra", lines(20), lines(4) + b"  \n" + lines(15))
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path)
    assert str(err.value) == f"{eng_path}: line 5 is empty"


def test_not_utf8(tmp_path: Path) -> None:
    path, _ = write_pair(tmp_path, "fra", b"ok\nca\xe7a\n", b"ok\nthat\n")  # Latin-1 "ça"
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path)
    assert str(err.value) == (
        f"{path}: not valid UTF-8: byte 0xe7 at offset 5 (line 2): invalid continuation byte"
    )


def test_missing_files(tmp_path: Path) -> None:
    path, eng_path = write_pair(tmp_path, "fra", lines(2), lines(2))
    eng_path.unlink()
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path)
    assert str(err.value) == f"{eng_path}: missing"
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path, ["afr"])
    assert str(err.value) == f"{tmp_path / 'tatoeba.afr-eng.afr'}: missing"
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path / "nowhere")
    assert str(err.value).startswith(f"{tmp_path / 'nowhere'}: no such directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(empty)
    assert str(err.value) == f"{empty}: no tatoeba.<xxx>-eng.<xxx> files"


def test_errors_are_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    write_pair(tmp_path, "fra", lines(3), lines(2))
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(BenchmarkError) as err:
        tatoeba.read_official(tmp_path)
    assert "\n" not in str(err.value)
    assert sorted(tmp_path.rglob("*")) == before
