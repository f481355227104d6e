"""Proof that the images are used: held-out COCO scores of a trained objective, with the true image
and with another image.

A pipeline that fed zeros instead of image features would pass every other test; it cannot pass
these. For each trained arm, on the held-out images (``image_id % 5 == 0``, never trained on):

* contrastive, image-caption: R@1 caption->image and image->caption among the held-out images
  (always with the true images, so the shuffled control shows what a model that never saw matched
  pairs scores); chance is 1 / #images;
* contrastive, caption-caption: R@1 from the first caption of each image to the others' second;
* MLM: masked-token accuracy with fixed masks, given the true image, a deranged one, or none;
* VQA: soft-score accuracy given the true image, a deranged one, or none; beside the answer prior.

Names: ``heldout.<metric>.<image>`` with image in {true, shuffled, none}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import torch

from benchmark.armspec import ArmSpec
from benchmark.armspec import Objective as ObjectiveName
from benchmark.data.vqa import answer_prior_accuracy
from benchmark.models.encoder import mean_pool
from benchmark.schema import Registry
from benchmark.training.datasets import FeatureBank
from benchmark.training.objectives import Batch, ImageSource, ImageSourceKind, MaskedLM, Objective
from benchmark.training.tasks import make_data

EVAL_SEED = 20240601  # masks and derangements of the evaluation, the same for every arm
EVAL_BATCH = 64


def _batches(data: Any, n: int) -> Iterator[tuple[list[int], Batch]]:
    for start in range(0, n, EVAL_BATCH):
        rows = list(range(start, min(n, start + EVAL_BATCH)))
        yield rows, data.batch(rows)


def _sources(spec: ArmSpec) -> list[ImageSourceKind]:
    return ["true", "shuffled"] if spec.uses_images else ["none"]


def _source(kind: ImageSourceKind, table: pd.DataFrame) -> ImageSource:
    return ImageSource(kind, sorted(set(table["image_id"].astype(int))), seed=EVAL_SEED)


@torch.no_grad()
def evaluate(spec: ArmSpec, objective: Objective, table: pd.DataFrame, tokenizer: Any, max_length: int,
             bank: FeatureBank, *, train_table: pd.DataFrame | None = None,
             answers: list[str] | None = None) -> dict[str, float]:
    """Held-out evidence metrics of ``spec``'s trained ``objective`` on ``table`` (held-out rows)."""
    measure = EVIDENCE.get(spec.objective or "")
    if measure is None:
        raise ValueError(f"arm {spec.name}: objective {spec.objective!r} has no image evidence")
    was_training = objective.training
    objective.eval()
    try:
        return measure(spec, objective, table, train_table, tokenizer, max_length, bank, answers)
    finally:
        objective.train(was_training)


def _r1(scores: torch.Tensor, correct: torch.Tensor) -> float:
    """Share of rows whose arg-max column is a correct one (``correct``: bool ``[rows, cols]``)."""
    return float(correct[torch.arange(len(scores)), scores.argmax(1)].float().mean())


def _contrastive(spec: ArmSpec, objective: Any, table: pd.DataFrame, train_table: pd.DataFrame | None,
                 tokenizer: Any, max_length: int, bank: FeatureBank, answers: list[str] | None) -> dict[str, float]:
    table = table.sort_values(["image_id", "caption_id"]).reset_index(drop=True)
    images = sorted(table["image_id"].astype(int).unique())

    def text(rows: pd.DataFrame) -> torch.Tensor:
        enc = tokenizer(rows["caption"].tolist(), truncation=True, max_length=max_length, padding="longest",
                        return_tensors="pt", return_token_type_ids=False)
        return torch.nn.functional.normalize(objective.embed_text(enc["input_ids"], enc["attention_mask"]), dim=-1)

    if spec.data == "caption_pairs":
        first = table.groupby("image_id").nth(0)
        second = table.groupby("image_id").nth(1)
        scores = text(first) @ text(second).T
        return {"heldout.caption_r1.none": _r1(scores, torch.eye(len(images), dtype=torch.bool)),
                "heldout.r1_chance": 1.0 / len(images)}
    feats = bank.features[[bank.row_of[i] for i in images]]
    img = torch.nn.functional.normalize(objective.image_proj(feats.mean(dim=1)), dim=-1)
    txt = text(table)
    owner = torch.tensor(table["image_id"].astype(int).tolist())
    match = owner[:, None] == torch.tensor(images)[None, :]  # [captions, images]
    return {"heldout.r1_caption_to_image.true": _r1(txt @ img.T, match),
            "heldout.r1_image_to_caption.true": _r1(img @ txt.T, match.T),
            "heldout.r1_chance": 1.0 / len(images)}


def _mlm(spec: ArmSpec, objective: MaskedLM, table: pd.DataFrame, train_table: pd.DataFrame | None,
         tokenizer: Any, max_length: int, bank: FeatureBank, answers: list[str] | None) -> dict[str, float]:
    saved = objective.generator.get_state()
    out: dict[str, float] = {}
    for name in _sources(spec):
        objective.generator.manual_seed(EVAL_SEED)  # the same masks for every image source and arm
        data = make_data(spec, table, tokenizer, max_length, bank, _source(name, table))
        hits = total = 0.0
        for _, batch in _batches(data, len(data)):
            _, stats = objective(batch)
            hits += stats["accuracy"] * stats["masked_tokens"]
            total += stats["masked_tokens"]
        out[f"heldout.mlm_accuracy.{name}"] = hits / total
    objective.generator.set_state(saved)
    return out


def _vqa(spec: ArmSpec, objective: Objective, table: pd.DataFrame, train_table: pd.DataFrame | None,
         tokenizer: Any, max_length: int, bank: FeatureBank, answers: list[str] | None) -> dict[str, float]:
    assert train_table is not None and answers is not None
    out = {"heldout.answer_prior": answer_prior_accuracy(train_table, table)["overall"]}
    for name in _sources(spec):
        data = make_data(spec, table, tokenizer, max_length, bank, _source(name, table), answers)
        score = 0.0
        for rows, batch in _batches(data, len(data)):
            hidden, mask = objective.encode(batch["input_ids"], batch["attention_mask"], batch.get("image_features"))
            logits = objective.classifier(mean_pool(hidden, mask))  # type: ignore[operator]
            score += float(batch["answer_scores"].gather(1, logits.argmax(1, keepdim=True)).sum())
        out[f"heldout.vqa_accuracy.{name}"] = score / len(data)
    return out


# Each objective's held-out evidence on COCO, from (spec, objective, held-out table, training table,
# tokenizer, max_length, bank, answers): one entry per name of armspec's Objective. Not here: a textual
# arm's (``task``: benchmark.training.text_evidence) and the positive control's (parallel_evidence).
EVIDENCE: Registry[Callable[..., dict[str, float]] | None] = Registry("objective evidence", {
    "contrastive": _contrastive,
    "mlm": _mlm,
    "vqa": _vqa,
    "task": None,
}, names=ObjectiveName)
