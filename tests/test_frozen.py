"""The frozen-bottom split: storing lower-layer states once and running only the top layers per run
gives the encoder's own embeddings; the training memo changes cost, not values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.config import resolve
from benchmark.data.flores import load_sentences
from benchmark.io import BenchmarkError
from benchmark.models import frozen_states as frozen
from benchmark.models import layers
from benchmark.models.encoder import load_encoder
from benchmark.training.objectives import Contrastive, tokenize

LANGS = ["eng_Latn", "zho_Hans", "arb_Arab", "hin_Deva"]


def _texts(n: int = 6) -> list[str]:
    table = load_sentences(langs=LANGS)
    return [t for lang in LANGS for t in table[lang].tolist()[:n]]


def _states(tmp_path: Path, profile: str, n_frozen: int) -> tuple[object, frozen.FrozenStates, list[str]]:
    params = resolve({"profile": profile})
    encoder = load_encoder(params.encoder)
    texts = _texts()
    frozen.store(encoder, texts, n_frozen, params.encoder.prefix, params.encoder.batch_size, tmp_path / frozen.STATES)
    (tmp_path / frozen.META).write_text(json.dumps({"frozen_layers": n_frozen}))
    return encoder, frozen.FrozenStates.open(tmp_path), texts


@pytest.mark.parametrize("profile,n_frozen", [("tiny", 1), pytest.param("smoke", 11, marks=pytest.mark.slow)])
def test_top_layers_over_frozen_states_match_a_full_pass(tmp_path: Path, profile: str, n_frozen: int) -> None:
    encoder, states, texts = _states(tmp_path, profile, n_frozen)
    split = states.embed(encoder.model, texts, batch_size=5)
    full = encoder.embed(texts, prefix=resolve({"profile": profile}).encoder.prefix, batch_size=5)
    assert split.shape == full.shape == (len(texts), encoder.hidden_size)
    cos = (split * full).sum(1) / np.linalg.norm(split, axis=1) / np.linalg.norm(full, axis=1)
    assert cos.min() > 0.99999, cos.min()
    np.testing.assert_allclose(split, full, atol=2e-4)


def test_frozen_states_are_bit_stable_and_refuse_unknown_texts(tmp_path: Path) -> None:
    encoder, states, texts = _states(tmp_path, "tiny", 1)
    first = states.embed(encoder.model, texts, batch_size=3)
    again = states.embed(encoder.model, list(reversed(texts)), batch_size=3)[::-1]
    assert np.array_equal(first, again), "the order texts are asked in must not change a bit"
    with pytest.raises(BenchmarkError, match="no frozen states"):
        states.embed(encoder.model, ["a sentence nobody stored"], batch_size=3)
    with pytest.raises(BenchmarkError, match="frozen stage first"):
        frozen.FrozenStates.open(tmp_path / "absent")


def test_bottom_memo_serves_the_same_states() -> None:
    params = resolve({"profile": "tiny"})
    encoder = load_encoder(params.encoder)
    objective = Contrastive(encoder.model, image_dim=None)
    objective.frozen_layers = 1
    encoder.model.requires_grad_(False)
    texts = _texts(3)
    batch = tokenize(encoder.tokenizer, texts, 48)
    plain, _ = objective.encode(batch["input_ids"], batch["attention_mask"])
    objective.memo = layers.BottomMemo()
    ids = encoder.tokenizer(texts, truncation=True, max_length=48)["input_ids"]
    objective.memo.fill(encoder.model, ids, 1, encoder.tokenizer.pad_token_id)
    assert objective.memo.lookup(batch["input_ids"], batch["attention_mask"]) is not None
    memo, _ = objective.encode(batch["input_ids"], batch["attention_mask"])
    mask = batch["attention_mask"].bool()
    torch.testing.assert_close(memo[mask], plain[mask], atol=1e-5, rtol=1e-5)
    other = tokenize(encoder.tokenizer, ["not in the memo"], 48)
    assert objective.memo.lookup(other["input_ids"], other["attention_mask"]) is None
