"""What each arm trains on, as :class:`~benchmark.training.trainer.TrainData`: COCO captions (alone,
in pairs of one image, or with their image), COCO-QA/VQA questions with soft-score targets, and
translation pairs for the positive control.

The image an item sees comes from an :class:`~benchmark.training.objectives.ImageSource` (its own,
none, or a fixed derangement), applied here, before a batch exists, so objectives never know which
control they serve.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.numpy import load_file
from torch import Tensor

from benchmark.data.vqa import build_answer_vocab, soft_scores
from benchmark.io import BenchmarkError
from benchmark.training.objectives import Batch, ImageSource, tokenize


class FeatureBank:
    """Image features ``[N, P, D]`` addressed by image id."""

    def __init__(self, image_ids: Sequence[int], features: Tensor) -> None:
        self.features = features
        self.row_of: dict[Hashable, int] = {int(i): r for r, i in enumerate(image_ids)}

    @classmethod
    def load(cls, path: Path) -> FeatureBank:
        """The features stage ``images`` wrote (``image_ids``, ``features [N, prefix_tokens, D]``)."""
        if not path.exists():
            raise BenchmarkError(f"{path}: image features missing; run the images stage first")
        data = load_file(str(path))
        return cls(data["image_ids"].tolist(), torch.from_numpy(data["features"]))

    @property
    def tokens(self) -> int:
        return int(self.features.shape[1])

    @property
    def dim(self) -> int:
        return int(self.features.shape[2])

    def gather(self, source: ImageSource, image_ids: Sequence[int]) -> Tensor | None:
        return source.features(list(image_ids), self.features, self.row_of)


def _rows(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return tokenizer(list(texts), truncation=True, max_length=max_length, return_attention_mask=False,
                     return_token_type_ids=False)["input_ids"]


class Captions:
    """COCO captions; each epoch shows every image once through one of its captions (``groups``).

    ``pairs``: the batch also carries a second caption of the same image (``pair_*``, for
    caption-caption InfoNCE) - the next one of that image, cyclically, so the pair is as random as
    the sampled caption and needs no RNG of its own. ``bank``/``source``: the image prefix or
    contrastive target each caption sees; ``reserve`` text positions are left for the prefix.
    """

    def __init__(self, captions: pd.DataFrame, tokenizer: Any, max_length: int, *, pairs: bool = False,
                 bank: FeatureBank | None = None, source: ImageSource | None = None, reserve: int = 0) -> None:
        captions = captions.sort_values(["image_id", "caption_id"]).reset_index(drop=True)
        self.texts = captions["caption"].tolist()
        self.image_ids = captions["image_id"].astype(int).tolist()
        self.groups = self.image_ids
        self.tokenizer, self.max_length, self.reserve = tokenizer, max_length, reserve
        self.pairs, self.bank, self.source = pairs, bank, source
        by_image: dict[int, list[int]] = {}
        for i, image in enumerate(self.image_ids):
            by_image.setdefault(image, []).append(i)
        if pairs and min(len(v) for v in by_image.values()) < 2:
            raise ValueError("caption pairs need at least two captions per image")
        self.partner = [v[(v.index(i) + 1) % len(v)] for i, image in enumerate(self.image_ids)
                        for v in [by_image[image]]]

    def __len__(self) -> int:
        return len(self.texts)

    def token_rows(self) -> list[list[int]]:
        """Every token sequence a batch can hold (for :class:`benchmark.models.layers.BottomMemo`)."""
        rows = _rows(self.tokenizer, self.texts, self.max_length - self.reserve)
        return rows + (_rows(self.tokenizer, self.texts, self.max_length) if self.pairs else [])

    def batch(self, indices: list[int]) -> Batch:
        batch: Batch = tokenize(self.tokenizer, [self.texts[i] for i in indices], self.max_length,
                                reserve=self.reserve)
        images = [self.image_ids[i] for i in indices]
        batch["image_ids"] = torch.tensor(images)
        if self.pairs:
            pair = tokenize(self.tokenizer, [self.texts[self.partner[i]] for i in indices], self.max_length)
            batch["pair_input_ids"], batch["pair_attention_mask"] = pair["input_ids"], pair["attention_mask"]
        if self.bank is not None and self.source is not None:
            features = self.bank.gather(self.source, images)
            if features is not None:
                batch["image_features"] = features
        return batch


class Parallel:
    """Translation pairs: an English FLORES line and the same line in another language (the positive control).

    Items are (line, language): line ``j`` is paired with ``per_line`` of the other languages, taken in
    turn from a rotation of them (``j * per_line`` onward), so every language appears about equally
    often and the pool's rows stay few enough for their frozen states to be computed once (a row is a
    ~40-token FLORES sentence, not a ~15-token caption). ``groups`` is the line: each epoch shows every
    English line once, through one uniformly drawn language, and a batch never holds one English
    sentence twice (a false negative for InfoNCE). English is the text, the other language the pair
    (``pair_*``): :class:`~benchmark.training.objectives.Contrastive`'s text-text form; ``image_ids``
    carries the line ids for that objective's one-per-batch check.
    """

    def __init__(self, sentences: pd.DataFrame, pivot: str, tokenizer: Any, max_length: int, per_line: int) -> None:
        others = [lang for lang in sentences.columns if lang != pivot]
        if pivot not in sentences.columns or not others or per_line < 1:
            raise BenchmarkError(f"parallel data needs the pivot {pivot!r}, another language and per_line >= 1")
        k = min(per_line, len(others))
        self.english = sentences[pivot].tolist()
        self.lines = [int(i) for i in sentences.index]
        self.items = [(row, others[(row * k + i) % len(others)]) for row in range(len(self.lines)) for i in range(k)]
        self.other = {lang: sentences[lang].tolist() for lang in others}
        self.groups = [self.lines[row] for row, _ in self.items]
        self.tokenizer, self.max_length = tokenizer, max_length

    def __len__(self) -> int:
        return len(self.items)

    def token_rows(self) -> list[list[int]]:
        """Every token sequence a batch can hold (for :class:`benchmark.models.layers.BottomMemo`)."""
        pairs = [self.other[lang][row] for row, lang in self.items]
        return _rows(self.tokenizer, self.english, self.max_length) + _rows(self.tokenizer, pairs, self.max_length)

    def batch(self, indices: list[int]) -> Batch:
        rows = [self.items[i] for i in indices]
        batch: Batch = tokenize(self.tokenizer, [self.english[r] for r, _ in rows], self.max_length)
        pair = tokenize(self.tokenizer, [self.other[lang][r] for r, lang in rows], self.max_length)
        batch["pair_input_ids"], batch["pair_attention_mask"] = pair["input_ids"], pair["attention_mask"]
        batch["image_ids"] = torch.tensor([self.lines[r] for r, _ in rows])
        return batch


class Questions:
    """Questions with VQA soft scores over an answer vocabulary built from the training questions."""

    def __init__(self, questions: pd.DataFrame, tokenizer: Any, max_length: int, answers: list[str], *,
                 bank: FeatureBank | None = None, source: ImageSource | None = None, reserve: int = 0) -> None:
        self.texts = questions["question"].tolist()
        self.image_ids = questions["image_id"].astype(int).tolist()
        self.answers = answers
        index = {a: k for k, a in enumerate(answers)}
        self.scores = torch.zeros(len(questions), len(answers))
        for row, given in enumerate(questions["answers"]):
            for answer, score in soft_scores(given).items():
                if answer in index:  # answers outside the vocabulary cannot be predicted (VQA recipe)
                    self.scores[row, index[answer]] = score
        self.tokenizer, self.max_length, self.reserve = tokenizer, max_length, reserve
        self.bank, self.source = bank, source

    @staticmethod
    def vocabulary(train: pd.DataFrame, top_k: int) -> list[str]:
        majority = [max(sorted(soft_scores(a).items()), key=lambda kv: kv[1])[0] for a in train["answers"]]
        return build_answer_vocab(majority, top_k=top_k, normalize=False)

    def __len__(self) -> int:
        return len(self.texts)

    def token_rows(self) -> list[list[int]]:
        return _rows(self.tokenizer, self.texts, self.max_length - self.reserve)

    def batch(self, indices: list[int]) -> Batch:
        batch: Batch = tokenize(self.tokenizer, [self.texts[i] for i in indices], self.max_length,
                                reserve=self.reserve)
        batch["answer_scores"] = self.scores[indices]
        if self.bank is not None and self.source is not None:
            features = self.bank.gather(self.source, [self.image_ids[i] for i in indices])
            if features is not None:
                batch["image_features"] = features
        return batch


class Sentences:
    """Texts with integer class labels (SIB-200 fine-tuning), each tokenized with ``prefix``."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int], tokenizer: Any, max_length: int,
                 prefix: str = "") -> None:
        self.texts = [prefix + t for t in texts]
        self.labels = torch.tensor(list(labels), dtype=torch.int64)
        self.tokenizer, self.max_length = tokenizer, max_length

    def __len__(self) -> int:
        return len(self.texts)

    def token_rows(self) -> list[list[int]]:
        return _rows(self.tokenizer, self.texts, self.max_length)

    def batch(self, indices: list[int]) -> Batch:
        batch: Batch = tokenize(self.tokenizer, [self.texts[i] for i in indices], self.max_length)
        batch["labels"] = self.labels[indices]
        return batch
