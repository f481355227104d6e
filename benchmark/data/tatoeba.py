"""Tatoeba (LASER v1 test set): the spec, the bundled copy, and the official-layout reader.

112 languages, each paired with English: ``tatoeba.<xxx>-eng.<xxx>`` and ``tatoeba.<xxx>-eng.eng``,
line i of one the translation of line i of the other; 1000 pairs for 72 languages, fewer for the
rest (88,877 in all). The English side is chosen per language, so it differs from one language to
the next and scores are not directly comparable across languages. XTREME evaluates 36 of them
(:data:`XTREME_LANGUAGES`). The bundle holds every pair of every language in one parquet file.

A profile that scores fewer pairs (``targets.tatoeba.max_pairs``) scores a fixed pseudo-random sample
of each language's lines (:func:`sample_ids`), not the first n: the files are ordered in clusters of
near-identical sentences, so the first lines are not a representative pool (Arabic's first 250 English
lines: 28% have a near-duplicate among them, 10.8% in the sample; tests/test_tatoeba_data.py).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmark.data import flores
from benchmark.data.languages import CC100_FLORES
from benchmark.data.spec import BUNDLE_DIR, DatasetSpec, UnresolvedPin, fetch_pin, load_pins, verify_file
from benchmark.io import BenchmarkError, read_lines
from benchmark.schema import declare

BUNDLE_FILE = "tatoeba.parquet"
COLUMNS: tuple[str, ...] = ("language", "index_id", "text", "eng")
TOTAL_PAIRS = 88_877
FILE_NAME = re.compile(r"^tatoeba\.([a-z]{3})-eng\.([a-z]{3})$")
# The seed of the max_pairs sample (:func:`sample_ids`): a constant, declared here once (20181117, the
# date of the Tatoeba snapshot the LASER files were cut from), so every run and every training seed
# is scored on the same pairs. Changing it changes the items of every profile with max_pairs set.
SAMPLE_SEED = 20181117


class LanguageInfo(NamedTuple):
    name: str  # English name
    script: str  # ISO 15924 script of the non-English side: the majority script of its letters
    flores: str | None  # the same language's FLORES-200 code, None where FLORES-200 lacks it


# One row per LASER code (the 112 file codes). ``script`` is what the data holds, checked by
# tests/test_tatoeba_data.py: the majority Unicode script of the letters of the bundled sentences,
# with Hiragana/Katakana/Han -> Jpan and Han -> Hans or Hant by a vote of the sentences' simplified-
# vs traditional-only characters. Mixed cases, each given as its majority: cmn mixes Traditional and
# Simplified (466 vs 441 sentences by OpenCC, 407 vs 386 by the test's character pairs; Hant by a
# narrow margin, so cmn -> zho_Hant below, though either is in CC-100), srp is 69% Latin /
# 31% Cyrillic letters, uzb 69% Latin / 31% Cyrillic, lfn 73% Latin / 27% Cyrillic, kur 97% Latin.
# ``flores``: the FLORES-200 code of the same language, by the rules of
# benchmark.data.languages.CC100_XLMR (a macrolanguage maps to FLORES's member: ara -> arb_Arab,
# aze -> azj_Latn, mon -> khk_Cyrl, sqi -> als_Latn, uzb -> uzn_Latn, yid -> ydd_Hebr, kur (Latin,
# Kurmanji) -> kmr_Latn); where FLORES has the language in two scripts, the one of the data's
# majority (cmn -> zho_Hant); where it has one script only, that one even if the data's majority
# differs (srp -> srp_Cyrl). None: FLORES-200 lacks the language (e.g. Algerian Arabic arq, Berber
# ber as a group, Breton, Western Frisian, Latin, Wu Chinese wuu, the constructed languages).
INFO: dict[str, LanguageInfo] = {
    "afr": LanguageInfo("Afrikaans", "Latn", "afr_Latn"),
    "amh": LanguageInfo("Amharic", "Ethi", "amh_Ethi"),
    "ang": LanguageInfo("Old English", "Latn", None),
    "ara": LanguageInfo("Arabic", "Arab", "arb_Arab"),
    "arq": LanguageInfo("Algerian Arabic", "Arab", None),
    "arz": LanguageInfo("Egyptian Arabic", "Arab", "arz_Arab"),
    "ast": LanguageInfo("Asturian", "Latn", "ast_Latn"),
    "awa": LanguageInfo("Awadhi", "Deva", "awa_Deva"),
    "aze": LanguageInfo("Azerbaijani", "Latn", "azj_Latn"),
    "bel": LanguageInfo("Belarusian", "Cyrl", "bel_Cyrl"),
    "ben": LanguageInfo("Bengali", "Beng", "ben_Beng"),
    "ber": LanguageInfo("Berber languages", "Latn", None),
    "bos": LanguageInfo("Bosnian", "Latn", "bos_Latn"),
    "bre": LanguageInfo("Breton", "Latn", None),
    "bul": LanguageInfo("Bulgarian", "Cyrl", "bul_Cyrl"),
    "cat": LanguageInfo("Catalan", "Latn", "cat_Latn"),
    "cbk": LanguageInfo("Chavacano", "Latn", None),
    "ceb": LanguageInfo("Cebuano", "Latn", "ceb_Latn"),
    "ces": LanguageInfo("Czech", "Latn", "ces_Latn"),
    "cha": LanguageInfo("Chamorro", "Latn", None),
    "cmn": LanguageInfo("Mandarin Chinese", "Hant", "zho_Hant"),
    "cor": LanguageInfo("Cornish", "Latn", None),
    "csb": LanguageInfo("Kashubian", "Latn", None),
    "cym": LanguageInfo("Welsh", "Latn", "cym_Latn"),
    "dan": LanguageInfo("Danish", "Latn", "dan_Latn"),
    "deu": LanguageInfo("German", "Latn", "deu_Latn"),
    "dsb": LanguageInfo("Lower Sorbian", "Latn", None),
    "dtp": LanguageInfo("Central Dusun", "Latn", None),
    "ell": LanguageInfo("Greek", "Grek", "ell_Grek"),
    "epo": LanguageInfo("Esperanto", "Latn", "epo_Latn"),
    "est": LanguageInfo("Estonian", "Latn", "est_Latn"),
    "eus": LanguageInfo("Basque", "Latn", "eus_Latn"),
    "fao": LanguageInfo("Faroese", "Latn", "fao_Latn"),
    "fin": LanguageInfo("Finnish", "Latn", "fin_Latn"),
    "fra": LanguageInfo("French", "Latn", "fra_Latn"),
    "fry": LanguageInfo("Western Frisian", "Latn", None),
    "gla": LanguageInfo("Scottish Gaelic", "Latn", "gla_Latn"),
    "gle": LanguageInfo("Irish", "Latn", "gle_Latn"),
    "glg": LanguageInfo("Galician", "Latn", "glg_Latn"),
    "gsw": LanguageInfo("Swiss German", "Latn", None),
    "heb": LanguageInfo("Hebrew", "Hebr", "heb_Hebr"),
    "hin": LanguageInfo("Hindi", "Deva", "hin_Deva"),
    "hrv": LanguageInfo("Croatian", "Latn", "hrv_Latn"),
    "hsb": LanguageInfo("Upper Sorbian", "Latn", None),
    "hun": LanguageInfo("Hungarian", "Latn", "hun_Latn"),
    "hye": LanguageInfo("Armenian", "Armn", "hye_Armn"),
    "ido": LanguageInfo("Ido", "Latn", None),
    "ile": LanguageInfo("Interlingue", "Latn", None),
    "ina": LanguageInfo("Interlingua", "Latn", None),
    "ind": LanguageInfo("Indonesian", "Latn", "ind_Latn"),
    "isl": LanguageInfo("Icelandic", "Latn", "isl_Latn"),
    "ita": LanguageInfo("Italian", "Latn", "ita_Latn"),
    "jav": LanguageInfo("Javanese", "Latn", "jav_Latn"),
    "jpn": LanguageInfo("Japanese", "Jpan", "jpn_Jpan"),
    "kab": LanguageInfo("Kabyle", "Latn", "kab_Latn"),
    "kat": LanguageInfo("Georgian", "Geor", "kat_Geor"),
    "kaz": LanguageInfo("Kazakh", "Cyrl", "kaz_Cyrl"),
    "khm": LanguageInfo("Khmer", "Khmr", "khm_Khmr"),
    "kor": LanguageInfo("Korean", "Hang", "kor_Hang"),
    "kur": LanguageInfo("Kurdish", "Latn", "kmr_Latn"),
    "kzj": LanguageInfo("Coastal Kadazan", "Latn", None),
    "lat": LanguageInfo("Latin", "Latn", None),
    "lfn": LanguageInfo("Lingua Franca Nova", "Latn", None),
    "lit": LanguageInfo("Lithuanian", "Latn", "lit_Latn"),
    "lvs": LanguageInfo("Latvian", "Latn", "lvs_Latn"),
    "mal": LanguageInfo("Malayalam", "Mlym", "mal_Mlym"),
    "mar": LanguageInfo("Marathi", "Deva", "mar_Deva"),
    "max": LanguageInfo("North Moluccan Malay", "Latn", None),
    "mhr": LanguageInfo("Eastern Mari", "Cyrl", None),
    "mkd": LanguageInfo("Macedonian", "Cyrl", "mkd_Cyrl"),
    "mon": LanguageInfo("Mongolian", "Cyrl", "khk_Cyrl"),
    "nds": LanguageInfo("Low German", "Latn", None),
    "nld": LanguageInfo("Dutch", "Latn", "nld_Latn"),
    "nno": LanguageInfo("Norwegian Nynorsk", "Latn", "nno_Latn"),
    "nob": LanguageInfo("Norwegian Bokmål", "Latn", "nob_Latn"),
    "nov": LanguageInfo("Novial", "Latn", None),
    "oci": LanguageInfo("Occitan", "Latn", "oci_Latn"),
    "orv": LanguageInfo("Old East Slavic", "Cyrl", None),
    "pam": LanguageInfo("Kapampangan", "Latn", None),
    "pes": LanguageInfo("Persian", "Arab", "pes_Arab"),
    "pms": LanguageInfo("Piedmontese", "Latn", None),
    "pol": LanguageInfo("Polish", "Latn", "pol_Latn"),
    "por": LanguageInfo("Portuguese", "Latn", "por_Latn"),
    "ron": LanguageInfo("Romanian", "Latn", "ron_Latn"),
    "rus": LanguageInfo("Russian", "Cyrl", "rus_Cyrl"),
    "slk": LanguageInfo("Slovak", "Latn", "slk_Latn"),
    "slv": LanguageInfo("Slovenian", "Latn", "slv_Latn"),
    "spa": LanguageInfo("Spanish", "Latn", "spa_Latn"),
    "sqi": LanguageInfo("Albanian", "Latn", "als_Latn"),
    "srp": LanguageInfo("Serbian", "Latn", "srp_Cyrl"),
    "swe": LanguageInfo("Swedish", "Latn", "swe_Latn"),
    "swg": LanguageInfo("Swabian", "Latn", None),
    "swh": LanguageInfo("Swahili", "Latn", "swh_Latn"),
    "tam": LanguageInfo("Tamil", "Taml", "tam_Taml"),
    "tat": LanguageInfo("Tatar", "Cyrl", "tat_Cyrl"),
    "tel": LanguageInfo("Telugu", "Telu", "tel_Telu"),
    "tgl": LanguageInfo("Tagalog", "Latn", "tgl_Latn"),
    "tha": LanguageInfo("Thai", "Thai", "tha_Thai"),
    "tuk": LanguageInfo("Turkmen", "Latn", "tuk_Latn"),
    "tur": LanguageInfo("Turkish", "Latn", "tur_Latn"),
    "tzl": LanguageInfo("Talossan", "Latn", None),
    "uig": LanguageInfo("Uyghur", "Arab", "uig_Arab"),
    "ukr": LanguageInfo("Ukrainian", "Cyrl", "ukr_Cyrl"),
    "urd": LanguageInfo("Urdu", "Arab", "urd_Arab"),
    "uzb": LanguageInfo("Uzbek", "Latn", "uzn_Latn"),
    "vie": LanguageInfo("Vietnamese", "Latn", "vie_Latn"),
    "war": LanguageInfo("Waray", "Latn", "war_Latn"),
    "wuu": LanguageInfo("Wu Chinese", "Hans", None),
    "xho": LanguageInfo("Xhosa", "Latn", "xho_Latn"),
    "yid": LanguageInfo("Yiddish", "Hebr", "ydd_Hebr"),
    "yue": LanguageInfo("Cantonese", "Hant", "yue_Hant"),
    "zsm": LanguageInfo("Standard Malay", "Latn", "zsm_Latn"),
}
LANGUAGES: tuple[str, ...] = tuple(sorted(INFO))

# XTREME's 36 Tatoeba languages, LASER code -> XTREME's code: dict ``lang3_dict`` of
# google-research/xtreme third_party/run_retrieval.py (tatoeba branch; @22b13c6e), the same 36 as
# the original utils_preprocess.py. Later versions of utils_preprocess.py add XTREME-R's five
# (aze az, lit lt, pol pl, ukr uk, ron ro), which are not in this table.
XTREME_LANGUAGES: dict[str, str] = {
    "ara": "ar", "heb": "he", "vie": "vi", "ind": "id", "jav": "jv", "tgl": "tl", "eus": "eu",
    "mal": "ml", "tam": "ta", "tel": "te", "afr": "af", "nld": "nl", "deu": "de", "ell": "el",
    "ben": "bn", "hin": "hi", "mar": "mr", "urd": "ur", "fra": "fr", "ita": "it", "por": "pt",
    "spa": "es", "bul": "bg", "rus": "ru", "jpn": "ja", "kat": "ka", "kor": "ko", "tha": "th",
    "swh": "sw", "cmn": "zh", "kaz": "kk", "tur": "tr", "est": "et", "fin": "fi", "hun": "hu",
    "pes": "fa",
}  # fmt: skip

TATOEBA: DatasetSpec = declare(
    DatasetSpec,
    name="tatoeba",
    description=(
        "Tatoeba test set of LASER (v1): up to 1000 English sentences and their translations for each "
        "of 112 languages (88,877 pairs), from the Tatoeba corpus of 2018-11-17; the English side "
        "differs per language. XTREME evaluates 36 of the languages. Bundled: every pair."
    ),
    license="CC-BY-2.0-FR",
    license_url="https://tatoeba.org/eng/terms_of_use",
    citation=(
        "@article{artetxe2019massively, title={Massively Multilingual Sentence Embeddings for Zero-Shot "
        "Cross-Lingual Transfer and Beyond}, author={Artetxe, Mikel and Schwenk, Holger}, "
        "journal={Transactions of the Association for Computational Linguistics}, volume={7}, "
        "pages={597--610}, year={2019}, doi={10.1162/tacl_a_00288}}"
    ),
    homepage="https://github.com/facebookresearch/LASER/tree/main/data/tatoeba/v1",
    languages=LANGUAGES,
    splits={"test": TOTAL_PAIRS},
    # Only the short SHA 74bc6ae7 of the LASER commit is known, so the main pin is an UnresolvedPin
    # (DatasetSpec.upstream accepts one, as extra_upstream does): the sha256 of all 224 files still
    # fixes the bytes; resolving the full SHA when online would make it an UpstreamPin.
    upstream=UnresolvedPin(**load_pins("tatoeba")),
    bundled_files=(BUNDLE_FILE,),
)


def _file_names(lang: str) -> tuple[str, str]:
    return f"tatoeba.{lang}-eng.{lang}", f"tatoeba.{lang}-eng.eng"


_flores_codes = {i.flores for i in INFO.values() if i.flores is not None}
if (
    len(LANGUAGES) != 112
    or not set(XTREME_LANGUAGES) <= set(LANGUAGES)
    or len(XTREME_LANGUAGES) != 36
    or not _flores_codes <= set(flores.LANGUAGES)
    or set(TATOEBA.upstream.files) != {name for lang in LANGUAGES for name in _file_names(lang)}
):
    raise BenchmarkError("tatoeba: INFO, XTREME_LANGUAGES and the pins must agree (112 languages, 36 in XTREME, "
                         "FLORES-200 codes from benchmark.data.flores.LANGUAGES)")


# ISO 639-3 macrolanguage codes whose member LASER uses instead (for the hint only).
_MACRO = {"zho": "cmn", "fas": "pes", "msa": "zsm", "swa": "swh", "lav": "lvs", "nor": "nob"}


def _hint(code: object) -> str:
    generic = "expected one of the 112 three-letter LASER codes of benchmark.data.tatoeba.LANGUAGES, e.g. 'fra'"
    if not isinstance(code, str):
        return generic
    xtreme = {two: three for three, two in XTREME_LANGUAGES.items()}
    if code in xtreme:
        return f"did you mean {xtreme[code]!r}? ({code!r} is XTREME's code for it)"
    by_flores = {i.flores: lang for lang, i in INFO.items() if i.flores is not None}
    base = code.split("_")[0]
    guess = by_flores.get(code) or _MACRO.get(base) or (base if base in INFO and base != code else None)
    if guess:
        return f"did you mean {guess!r}? (Tatoeba uses LASER's three-letter codes)"
    close = difflib.get_close_matches(code, LANGUAGES, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return generic


def _unknown(code: object) -> str:
    return f"unknown Tatoeba language code {code!r} ({_hint(code)})"


def _check_languages(languages: Iterable[str] | None) -> list[str]:
    """Requested codes, checked before any I/O, deduplicated and sorted (rows are by language)."""
    if languages is None:
        return list(LANGUAGES)
    if isinstance(languages, str):
        languages = [languages]
    langs = list(languages)
    if not langs:
        raise BenchmarkError("no Tatoeba language given (languages=None means all 112)")
    for code in langs:
        if not isinstance(code, str) or code not in INFO:
            raise BenchmarkError(_unknown(code))
    return sorted(set(langs))


def language_table(languages: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per language (index ``language``): ``script``, ``in_cc100``, ``flores``, ``name``.

    ``in_cc100``: XLM-R was pretrained on the language (its FLORES-200 code is in
    :data:`benchmark.data.languages.CC100_FLORES`); False where FLORES-200 lacks the language.
    """

    if isinstance(languages, str):
        languages = [languages]
    langs = list(LANGUAGES) if languages is None else list(languages)
    for code in langs:
        if not isinstance(code, str) or code not in INFO:
            raise BenchmarkError(_unknown(code))
    info = [INFO[code] for code in langs]
    return pd.DataFrame(
        {
            "script": pd.Series([i.script for i in info], dtype="str"),
            "in_cc100": pd.Series([i.flores in CC100_FLORES for i in info], dtype=bool),
            "flores": pd.Series([i.flores for i in info], dtype=object),  # object: keeps None
            "name": pd.Series([i.name for i in info], dtype="str"),
        }
    ).set_axis(pd.Index(langs, name="language"))


def _frame(langs: list[str], index_id: list[int], text: list[str], eng: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "language": pd.Series(langs, dtype="str"),
            "index_id": pd.Series(index_id, dtype="int32"),
            "text": pd.Series(text, dtype="str"),
            "eng": pd.Series(eng, dtype="str"),
        }
    )


def _read_pair(folder: Path, lang: str) -> tuple[list[str], list[str]]:
    path, eng_path = (folder / name for name in _file_names(lang))
    text, eng = read_lines(path), read_lines(eng_path)  # missing / not UTF-8: one line naming the file
    if len(text) != len(eng):
        raise BenchmarkError(f"{path}: {len(text)} lines, but {eng_path} has {len(eng)}: line i of one is "
                             "the translation of line i of the other")
    for p, lines in ((path, text), (eng_path, eng)):
        for i, line in enumerate(lines, 1):
            if not line.strip():
                raise BenchmarkError(f"{p}: line {i} is empty")
    return text, eng


def read_official(folder: Path, languages: list[str] | None = None) -> pd.DataFrame:
    """Read ``<folder>/tatoeba.<xxx>-eng.{<xxx>,eng}`` (LASER's layout) into one row per pair.

    Columns ``language``, ``index_id`` (0-based line number), ``text`` (the non-English side),
    ``eng``; rows by language, then ``index_id``. ``languages=None`` reads every pair of files in the
    folder (other files, e.g. README.md, are ignored). Raises :class:`BenchmarkError` naming the file
    for a missing file, a file of an unknown code, sides of different lengths, a file that is not
    UTF-8, or an empty line. Nothing is written.
    """
    folder = Path(folder)
    if languages is not None:
        langs = _check_languages(languages)  # a typo costs no I/O
    if not folder.is_dir():
        raise BenchmarkError(f"{folder}: no such directory (expected LASER's tatoeba.<xxx>-eng.<xxx> files)")
    if languages is None:
        found: set[str] = set()
        for path in sorted(folder.iterdir()):
            match = FILE_NAME.match(path.name)
            if not match or match.group(2) not in (match.group(1), "eng"):
                continue
            if match.group(1) not in INFO:
                raise BenchmarkError(f"{path}: {_unknown(match.group(1))}")
            found.add(match.group(1))
        if not found:
            raise BenchmarkError(f"{folder}: no tatoeba.<xxx>-eng.<xxx> files")
        langs = sorted(found)
    cols: tuple[list, list, list, list] = ([], [], [], [])
    for lang in langs:
        text, eng = _read_pair(folder, lang)
        cols[0].extend([lang] * len(text))
        cols[1].extend(range(len(text)))
        cols[2].extend(text)
        cols[3].extend(eng)
    return _frame(*cols)


def _check_max_pairs(max_pairs: object) -> None:
    if max_pairs is not None and (isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1):
        raise BenchmarkError(f"max_pairs {max_pairs!r}: must be a positive integer")


def _sample_key(lang: str, index_id: int) -> bytes:
    return hashlib.sha256(f"tatoeba|{SAMPLE_SEED}|{lang}|{index_id}".encode("ascii")).digest()


def sample_ids(lang: str, n: int, max_pairs: int | None) -> list[int]:
    """The 0-based line numbers of language ``lang`` that ``max_pairs`` keeps, ascending.

    ``n``: the language's pairs. All of them when ``max_pairs`` is None or at least ``n``; else the
    ``max_pairs`` lines whose ``sha256(f"tatoeba|{SAMPLE_SEED}|{lang}|{i}")`` digests are smallest
    (a seeded random sample without replacement, independent of numpy's generator versions), sorted.
    It depends on the language, the line number and :data:`SAMPLE_SEED` only, not on the run, its
    training seed or which other languages are read; a smaller ``max_pairs`` keeps a subset of a larger.
    """
    _check_max_pairs(max_pairs)
    if max_pairs is None or max_pairs >= n:
        return list(range(n))
    return sorted(sorted(range(n), key=lambda i: _sample_key(lang, i))[:max_pairs])


def sample(table: pd.DataFrame, max_pairs: int | None) -> pd.DataFrame:
    """The rows of ``table`` (columns and order of :func:`read_official`) that :func:`sample_ids` keeps.

    ``index_id`` stays each pair's line number in the original files, so predictions trace back to them.
    """
    _check_max_pairs(max_pairs)
    if max_pairs is None:
        return table
    keep = pd.Series(False, index=table.index)
    for lang, ids in table.groupby("language", sort=False)["index_id"]:
        n = int(ids.max()) + 1  # a language's index_id is 0..n-1 (read_official, the bundle)
        keep[ids.index] = ids.isin(sample_ids(str(lang), n, max_pairs)).to_numpy()
    return table[keep].reset_index(drop=True)


def load_bundle(
    data_dir: Path = BUNDLE_DIR, languages: list[str] | None = None, max_pairs: int | None = None
) -> pd.DataFrame:
    """Bundled pairs, checksum-verified: the columns and row order of :func:`read_official`.

    ``languages``: a subset (default all 112); ``max_pairs``: keep :func:`sample_ids`' seeded sample
    of n pairs of each language (all of a language that has no more than n).
    """
    langs = _check_languages(languages)
    _check_max_pairs(max_pairs)
    path = verify_file(data_dir, BUNDLE_FILE)
    table = pq.read_table(path, columns=list(COLUMNS))
    if languages is not None:
        table = table.filter(pc.is_in(table["language"], value_set=pa.array(langs, pa.string())))
    frame = _frame(
        table["language"].to_pylist(), table["index_id"].to_pylist(), table["text"].to_pylist(), table["eng"].to_pylist()
    )
    return sample(frame, max_pairs)


def fetch_upstream(dest: Path, mirror: Path | None = None) -> Path:
    """Download the 224 pinned LASER files into ``dest`` (the layout :func:`read_official` reads), verified.

    ``mirror``: a local directory holding the same files, copied instead of downloaded.
    """
    return fetch_pin(TATOEBA.upstream, dest, mirror=(lambda p: Path(mirror) / p) if mirror else None)


__all__ = [
    "BUNDLE_FILE",
    "INFO",
    "LANGUAGES",
    "SAMPLE_SEED",
    "TATOEBA",
    "XTREME_LANGUAGES",
    "LanguageInfo",
    "fetch_upstream",
    "language_table",
    "load_bundle",
    "read_official",
    "sample",
    "sample_ids",
]
