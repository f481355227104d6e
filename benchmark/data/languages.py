"""XLM-R's pretraining languages (CC-100), as FLORES-200 codes: the published list, mapped once here
for every language breakdown (FLORES, SIB-200, Tatoeba, XTREME)."""

from __future__ import annotations

from benchmark.data.flores import LANGUAGES
from benchmark.io import BenchmarkError

# The 100 languages XLM-R was pretrained on (CC-100 as used by Conneau et al. 2020, "Unsupervised
# Cross-lingual Representation Learning at Scale", Table 6; the same list as the XLM-R README,
# https://github.com/facebookresearch/fairseq/tree/main/examples/xlmr#introduction), as
# (CC-100 code, FLORES-200 code or None). Rule: a FLORES code is in CC-100 iff it is *the* listed
# language in the script CC-100 holds it in; close relatives that FLORES-200 lists separately are not:
#   ar -> arb_Arab only (not the dialects acm/acq/aeb/ajp/apc/ars/ary/arz, nor romanized arb_Latn);
#   az -> azj_Latn (North, Latin; not azb_Arab); fa -> pes_Arab (not Dari prs_Arab);
#   ku "Kurdish (Kurmanji)" -> kmr_Latn (not Sorani ckb_Arab); lv -> lvs_Latn (not Latgalian ltg_Latn);
#   no -> nob_Latn only: CC-Net's language ID (fastText lid.176) labels Nynorsk "nn" apart from "no";
#   zh-Hans/zh-Hant -> zho_Hans/zho_Hant (not Cantonese yue_Hant); ms -> zsm_Latn (id is ind_Latn);
#   macrolanguages map to FLORES's member: mg -> plt_Latn, mn -> khk_Cyrl, ne -> npi_Deva,
#   om -> gaz_Latn, ps -> pbt_Arab, sq -> als_Latn, sw -> swh_Latn, uz -> uzn_Latn, yi -> ydd_Hebr;
#   sr -> srp_Cyrl and sd -> snd_Arab (FLORES's scripts for them); tl (Filipino) -> tgl_Latn.
# No FLORES-200 code: br (Breton), fy (Western Frisian), la (Latin), the romanized bn_rom, hi_rom,
# ta_rom, te_rom, ur_rom (FLORES has no romanized Bengali/Hindi/Tamil/Telugu/Urdu), and my_zaw
# (Burmese in the Zawgyi font encoding: the same language as my -> mya_Mymr, which FLORES has in Unicode).
CC100_XLMR: tuple[tuple[str, str | None], ...] = (
    ("af", "afr_Latn"), ("am", "amh_Ethi"), ("ar", "arb_Arab"), ("as", "asm_Beng"), ("az", "azj_Latn"),
    ("be", "bel_Cyrl"), ("bg", "bul_Cyrl"), ("bn", "ben_Beng"), ("bn_rom", None), ("br", None),
    ("bs", "bos_Latn"), ("ca", "cat_Latn"), ("cs", "ces_Latn"), ("cy", "cym_Latn"), ("da", "dan_Latn"),
    ("de", "deu_Latn"), ("el", "ell_Grek"), ("en", "eng_Latn"), ("eo", "epo_Latn"), ("es", "spa_Latn"),
    ("et", "est_Latn"), ("eu", "eus_Latn"), ("fa", "pes_Arab"), ("fi", "fin_Latn"), ("fr", "fra_Latn"),
    ("fy", None), ("ga", "gle_Latn"), ("gd", "gla_Latn"), ("gl", "glg_Latn"), ("gu", "guj_Gujr"),
    ("ha", "hau_Latn"), ("he", "heb_Hebr"), ("hi", "hin_Deva"), ("hi_rom", None), ("hr", "hrv_Latn"),
    ("hu", "hun_Latn"), ("hy", "hye_Armn"), ("id", "ind_Latn"), ("is", "isl_Latn"), ("it", "ita_Latn"),
    ("ja", "jpn_Jpan"), ("jv", "jav_Latn"), ("ka", "kat_Geor"), ("kk", "kaz_Cyrl"), ("km", "khm_Khmr"),
    ("kn", "kan_Knda"), ("ko", "kor_Hang"), ("ku", "kmr_Latn"), ("ky", "kir_Cyrl"), ("la", None),
    ("lo", "lao_Laoo"), ("lt", "lit_Latn"), ("lv", "lvs_Latn"), ("mg", "plt_Latn"), ("mk", "mkd_Cyrl"),
    ("ml", "mal_Mlym"), ("mn", "khk_Cyrl"), ("mr", "mar_Deva"), ("ms", "zsm_Latn"), ("my", "mya_Mymr"),
    ("my_zaw", None), ("ne", "npi_Deva"), ("nl", "nld_Latn"), ("no", "nob_Latn"), ("om", "gaz_Latn"),
    ("or", "ory_Orya"), ("pa", "pan_Guru"), ("pl", "pol_Latn"), ("ps", "pbt_Arab"), ("pt", "por_Latn"),
    ("ro", "ron_Latn"), ("ru", "rus_Cyrl"), ("sa", "san_Deva"), ("sd", "snd_Arab"), ("si", "sin_Sinh"),
    ("sk", "slk_Latn"), ("sl", "slv_Latn"), ("so", "som_Latn"), ("sq", "als_Latn"), ("sr", "srp_Cyrl"),
    ("su", "sun_Latn"), ("sv", "swe_Latn"), ("sw", "swh_Latn"), ("ta", "tam_Taml"), ("ta_rom", None),
    ("te", "tel_Telu"), ("te_rom", None), ("th", "tha_Thai"), ("tl", "tgl_Latn"), ("tr", "tur_Latn"),
    ("ug", "uig_Arab"), ("uk", "ukr_Cyrl"), ("ur", "urd_Arab"), ("ur_rom", None), ("uz", "uzn_Latn"),
    ("vi", "vie_Latn"), ("xh", "xho_Latn"), ("yi", "ydd_Hebr"), ("zh-Hans", "zho_Hans"), ("zh-Hant", "zho_Hant"),
)
CC100_FLORES: frozenset[str] = frozenset(code for _, code in CC100_XLMR if code is not None)

_mapped = [code for _, code in CC100_XLMR if code is not None]
if (len(CC100_XLMR) != 100 or len({cc for cc, _ in CC100_XLMR}) != 100
        or len(_mapped) != len(CC100_FLORES) or not CC100_FLORES <= set(LANGUAGES)):
    raise BenchmarkError("CC100_XLMR must list 100 distinct languages mapped to distinct FLORES-200 codes")
