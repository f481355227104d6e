"""Language groups for breaking scores down: script, XLM-R tokenizer coverage, XLM-R pretraining membership.

Coverage is measured, not assumed: a language is *covered* iff fewer than 5% of the XLM-R
SentencePiece tokens of its bundled FLORES sentences are ``<unk>``. (Scripts the vocabulary lacks,
e.g. Tibetan, Ol Chiki, N'Ko, Tifinagh, come out near 50%: every word becomes "▁" + ``<unk>``.)
Pretraining membership is the published CC-100 list (:mod:`benchmark.data.languages`).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.data.flores import LANGUAGES, load_sentences, script
from benchmark.data.languages import CC100_FLORES
from benchmark.data.spec import BUNDLE_DIR
from benchmark.models.tokenizer import load_xlmr_tokenizer

UNK_THRESHOLD = 0.05  # covered iff unk_rate < UNK_THRESHOLD


@lru_cache(maxsize=1)
def _tokenizer():  # noqa: ANN202 - a transformers tokenizer, loaded once, when a rate is first computed
    return load_xlmr_tokenizer()


_RATES: dict[tuple[Path, str], float] = {}  # (data_dir, language) -> unk rate; the bundle is checksummed


def unk_rate(sentences: list[str]) -> float:
    """Share of ``<unk>`` among the XLM-R tokens of ``sentences`` (no special tokens)."""
    tok = _tokenizer()
    encodings = tok.backend_tokenizer.encode_batch(sentences, add_special_tokens=False)
    ids = np.concatenate([np.asarray(e.ids, dtype=np.int64) for e in encodings])
    return float(np.mean(ids == tok.unk_token_id))


def unk_rates(langs: Iterable[str] | None = None, data_dir: Path = BUNDLE_DIR, workers: int = 2) -> pd.Series:
    """Fraction of ``<unk>`` among the XLM-R tokens (no special tokens) of each language's bundled sentences.

    About 0.15 s per language and thread; the tokenizer releases the GIL, so ``workers`` threads
    share the languages (all 205: ~17 s on 2 cores). Cached per process.
    """
    langs = list(LANGUAGES) if langs is None else list(langs)
    data_dir = Path(data_dir)
    todo = [lang for lang in dict.fromkeys(langs) if (data_dir, lang) not in _RATES]
    if todo:
        sentences = load_sentences(data_dir, todo)  # raises on an unknown code
        _tokenizer()  # loaded once, before the threads share it
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for lang, rate in zip(todo, pool.map(lambda lang: unk_rate(sentences[lang].tolist()), todo)):
                _RATES[data_dir, lang] = rate
    return pd.Series([_RATES[data_dir, lang] for lang in langs], index=langs, name="unk_rate", dtype=float)


def language_groups(langs: Iterable[str] | None = None, data_dir: Path = BUNDLE_DIR, workers: int = 2) -> pd.DataFrame:
    """One row per language (index ``language``): ``script``, ``unk_rate``, ``covered``, ``in_cc100``."""
    langs = list(LANGUAGES) if langs is None else list(langs)
    rates = unk_rates(langs, data_dir, workers)
    table = pd.DataFrame({
        "script": [script(lang) for lang in langs],
        "unk_rate": rates.to_numpy(),
        "covered": (rates < UNK_THRESHOLD).to_numpy(),
        "in_cc100": [lang in CC100_FLORES for lang in langs],
    }, index=pd.Index(langs, name="language"))
    return table
