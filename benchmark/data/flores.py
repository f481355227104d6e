"""FLORES-200: the spec, loaders for the bundled SIB subset, and the official-layout reader.

The bundle holds only the 1004 FLORES lines SIB-200 uses (``index_id`` = position in dev+devtest),
for all 205 language codes. The ``full`` profile fetches the complete files with
:func:`fetch_upstream` and reads them with :func:`read_official`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from benchmark.data.spec import (
    BUNDLE_DIR,
    DatasetSpec,
    UnresolvedPin,
    UpstreamPin,
    fetch_pin,
    load_pins,
    verify_file,
)
from benchmark.io import BenchmarkError, read_lines
from benchmark.schema import declare

PIVOT = "eng_Latn"
CODE = re.compile(r"^[a-z]{3}_([A-Z][a-z]{3})$")  # a FLORES-200 code's shape: ISO 639-3 _ ISO 15924 script
SPLIT_SIZES: dict[str, int] = {"dev": 997, "devtest": 1012}
SENTENCES_FILE = "flores200_sib.parquet"
METADATA_FILE = "flores200_metadata.parquet"

# The 204 official FLORES-200 codes plus nqo_Nkoo (N'Ko, added by Common Parallel Corpora).
LANGUAGES: tuple[str, ...] = (
    "ace_Arab", "ace_Latn", "acm_Arab", "acq_Arab", "aeb_Arab", "afr_Latn", "ajp_Arab", "aka_Latn", "als_Latn",
    "amh_Ethi", "apc_Arab", "arb_Arab", "arb_Latn", "ars_Arab", "ary_Arab", "arz_Arab", "asm_Beng", "ast_Latn",
    "awa_Deva", "ayr_Latn", "azb_Arab", "azj_Latn", "bak_Cyrl", "bam_Latn", "ban_Latn", "bel_Cyrl", "bem_Latn",
    "ben_Beng", "bho_Deva", "bjn_Arab", "bjn_Latn", "bod_Tibt", "bos_Latn", "bug_Latn", "bul_Cyrl", "cat_Latn",
    "ceb_Latn", "ces_Latn", "cjk_Latn", "ckb_Arab", "crh_Latn", "cym_Latn", "dan_Latn", "deu_Latn", "dik_Latn",
    "dyu_Latn", "dzo_Tibt", "ell_Grek", "eng_Latn", "epo_Latn", "est_Latn", "eus_Latn", "ewe_Latn", "fao_Latn",
    "fij_Latn", "fin_Latn", "fon_Latn", "fra_Latn", "fur_Latn", "fuv_Latn", "gaz_Latn", "gla_Latn", "gle_Latn",
    "glg_Latn", "grn_Latn", "guj_Gujr", "hat_Latn", "hau_Latn", "heb_Hebr", "hin_Deva", "hne_Deva", "hrv_Latn",
    "hun_Latn", "hye_Armn", "ibo_Latn", "ilo_Latn", "ind_Latn", "isl_Latn", "ita_Latn", "jav_Latn", "jpn_Jpan",
    "kab_Latn", "kac_Latn", "kam_Latn", "kan_Knda", "kas_Arab", "kas_Deva", "kat_Geor", "kaz_Cyrl", "kbp_Latn",
    "kea_Latn", "khk_Cyrl", "khm_Khmr", "kik_Latn", "kin_Latn", "kir_Cyrl", "kmb_Latn", "kmr_Latn", "knc_Arab",
    "knc_Latn", "kon_Latn", "kor_Hang", "lao_Laoo", "lij_Latn", "lim_Latn", "lin_Latn", "lit_Latn", "lmo_Latn",
    "ltg_Latn", "ltz_Latn", "lua_Latn", "lug_Latn", "luo_Latn", "lus_Latn", "lvs_Latn", "mag_Deva", "mai_Deva",
    "mal_Mlym", "mar_Deva", "min_Arab", "min_Latn", "mkd_Cyrl", "mlt_Latn", "mni_Beng", "mos_Latn", "mri_Latn",
    "mya_Mymr", "nld_Latn", "nno_Latn", "nob_Latn", "npi_Deva", "nqo_Nkoo", "nso_Latn", "nus_Latn", "nya_Latn",
    "oci_Latn", "ory_Orya", "pag_Latn", "pan_Guru", "pap_Latn", "pbt_Arab", "pes_Arab", "plt_Latn", "pol_Latn",
    "por_Latn", "prs_Arab", "quy_Latn", "ron_Latn", "run_Latn", "rus_Cyrl", "sag_Latn", "san_Deva", "sat_Olck",
    "scn_Latn", "shn_Mymr", "sin_Sinh", "slk_Latn", "slv_Latn", "smo_Latn", "sna_Latn", "snd_Arab", "som_Latn",
    "sot_Latn", "spa_Latn", "srd_Latn", "srp_Cyrl", "ssw_Latn", "sun_Latn", "swe_Latn", "swh_Latn", "szl_Latn",
    "tam_Taml", "taq_Latn", "taq_Tfng", "tat_Cyrl", "tel_Telu", "tgk_Cyrl", "tgl_Latn", "tha_Thai", "tir_Ethi",
    "tpi_Latn", "tsn_Latn", "tso_Latn", "tuk_Latn", "tum_Latn", "tur_Latn", "twi_Latn", "tzm_Tfng", "uig_Arab",
    "ukr_Cyrl", "umb_Latn", "urd_Arab", "uzn_Latn", "vec_Latn", "vie_Latn", "war_Latn", "wol_Latn", "xho_Latn",
    "ydd_Hebr", "yor_Latn", "yue_Hant", "zho_Hans", "zho_Hant", "zsm_Latn", "zul_Latn",)

_PINS = load_pins("flores200")

FLORES200: DatasetSpec = declare(
    DatasetSpec,
    name="flores200",
    description=(
        "FLORES-200: 3001 English Wikimedia sentences professionally translated into 200+ languages; "
        "dev (997) and devtest (1012) are public and aligned line by line across languages. "
        "Bundled: the 1004 lines used by SIB-200, for all 205 codes (incl. nqo_Nkoo)."
    ),
    license="CC-BY-SA-4.0",
    license_url="https://creativecommons.org/licenses/by-sa/4.0/",
    citation=(
        "@article{nllb2022, title={No Language Left Behind: Scaling Human-Centered Machine Translation}, "
        "author={{NLLB Team} and Costa-juss{\\`a}, Marta R. and others}, journal={arXiv preprint "
        "arXiv:2207.04672}, year={2022}}"
    ),
    homepage="https://github.com/common-parallel-corpora/common-parallel-corpora",
    languages=LANGUAGES,
    splits=SPLIT_SIZES,
    upstream=UpstreamPin(**_PINS["sentences"]),
    extra_upstream={"metadata": UnresolvedPin(**_PINS["metadata"])},
    bundled_files=(SENTENCES_FILE, METADATA_FILE),
)

_expected = {f"flores-200-{s}/{lang}.{s}" for s in SPLIT_SIZES for lang in LANGUAGES}
if set(FLORES200.upstream.files) != _expected or len(LANGUAGES) != 205:
    raise BenchmarkError("flores200 pins do not cover exactly LANGUAGES x {dev, devtest}")


def _check_langs(langs: Iterable[str] | None) -> list[str]:
    if langs is None:
        return list(LANGUAGES)
    langs = list(langs)
    known = set(LANGUAGES)
    for lang in langs:
        if lang not in known:
            raise BenchmarkError(f"unknown FLORES-200 language {lang!r} (expected a code like 'eng_Latn')")
    return langs


def load_sentences(data_dir: Path = BUNDLE_DIR, langs: Iterable[str] | None = None) -> pd.DataFrame:
    """Bundled sentences: index ``index_id`` (SIB-200 ids), one column per language, in ``langs`` order."""
    langs = _check_langs(langs)  # before any I/O: a typo should not cost a checksum
    path = verify_file(data_dir, SENTENCES_FILE)
    table = pq.read_table(path, columns=["index_id", *langs])
    return table.to_pandas().set_index("index_id")


def load_metadata(data_dir: Path = BUNDLE_DIR) -> pd.DataFrame:
    """Bundled per-sentence metadata (flores_split, line, url, domain, topic, has_image, has_hyperlink)."""
    path = verify_file(data_dir, METADATA_FILE)
    return pq.read_table(path).to_pandas().set_index("index_id")


def read_official_metadata(root: Path) -> pd.DataFrame:
    """``<root>/metadata_{dev,devtest}.tsv`` as :func:`load_metadata`'s table (``url``, ``domain``,
    ``topic``) for every line of dev+devtest (``index_id`` = position in dev+devtest, as the bundle)."""
    parts = []
    for split, expected in SPLIT_SIZES.items():
        path = Path(root) / f"metadata_{split}.tsv"
        if not path.is_file():
            raise BenchmarkError(f"{path}: missing")
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        if not rows or rows[0] != ["URL", "domain", "topic", "has_image", "has_hyperlink"]:
            raise BenchmarkError(f"{path}: unexpected header {rows[0] if rows else 'none'}")
        if len(rows) - 1 != expected or any(len(r) != 5 for r in rows[1:]):
            raise BenchmarkError(f"{path}: expected {expected} rows of 5 tab-separated fields")
        parts += [{"flores_split": split, "line": i, "url": r[0], "domain": r[1], "topic": r[2]}
                  for i, r in enumerate(rows[1:])]
    table = pd.DataFrame(parts)
    table.index.name = "index_id"
    return table


def _read_lines(path: Path, expected: int) -> list[str]:
    lines = read_lines(path)
    if len(lines) != expected:
        raise BenchmarkError(f"{path}: expected {expected} lines, found {len(lines)}")
    return lines


def read_official(
    root: Path, split: str, langs: Iterable[str] | None = None, first_n: int | None = None
) -> dict[str, list[str]]:
    """Read ``<root>/<split>/<lang>.<split>`` files (the official layout), checking line counts.

    ``langs=None`` reads every ``*.<split>`` file present. Every file must have exactly the split's
    line count, since sentences are aligned across languages only by line number.
    """
    if split not in SPLIT_SIZES:
        raise BenchmarkError(f"unknown FLORES-200 split {split!r}; expected one of {', '.join(SPLIT_SIZES)}")
    folder = Path(root) / split
    if langs is None:
        langs = sorted(p.name[: -len(split) - 1] for p in folder.glob(f"*.{split}"))
        if not langs:
            raise BenchmarkError(f"{folder}: no *.{split} files")
    out = {lang: _read_lines(folder / f"{lang}.{split}", SPLIT_SIZES[split]) for lang in langs}
    if first_n is not None:
        out = {lang: lines[:first_n] for lang, lines in out.items()}
    return out


def _local_path(upstream_path: str) -> str:
    # Upstream "flores-200-dev/x.dev" -> the official layout "dev/x.dev" that read_official expects.
    return upstream_path.removeprefix("flores-200-")


def fetch_upstream(dest: Path, mirror: Path | None = None) -> Path:
    """Download the full FLORES-200 dev/devtest (+ metadata) at the pinned commits into ``dest``.

    Every file is checked against its pinned sha256 and written atomically; returns ``dest``, which
    then has the layout :func:`read_official` reads. ``mirror``: a local directory in that same
    layout (``<mirror>/{dev,devtest}/<lang>.<split>``, ``<mirror>/metadata_<split>.tsv``) to copy
    from instead of the network.
    """
    def from_mirror(path: str) -> Path:
        return Path(mirror) / _local_path(path) if mirror else Path(path)

    fetch_pin(FLORES200.upstream, dest, _local_path, from_mirror if mirror else None)
    for pin in FLORES200.extra_upstream.values():
        fetch_pin(pin, dest, mirror=from_mirror if mirror else None)
    return Path(dest)


def script(language: str) -> str:
    """ISO 15924 script of a FLORES-200 code: ``"fra_Latn"`` -> ``"Latn"``."""
    match = CODE.match(language)
    if not match:
        raise BenchmarkError(f"not a FLORES-200 language code: {language!r} (expected e.g. 'eng_Latn')")
    return match.group(1)
