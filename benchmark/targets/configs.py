"""Each target's block of params.yaml (``targets.<name>``), as strict pydantic models.

Kept free of heavy imports: :mod:`benchmark.config` builds ``TargetsConfig`` from the registry, and the
``validate`` stage must stay quick. Defaults live in ``benchmark/conf`` only, as for every other key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from benchmark.data import tatoeba
from benchmark.data.xtreme import FINETUNED
from benchmark.schema import Strict

Count = Annotated[int, Field(ge=1)]


class TargetConfig(Strict):
    """A target's block of params.yaml."""


class RetrievalConfig(TargetConfig):
    pivot: str  # checked against FLORES-200's codes with data.languages, in benchmark.config.Params
    margin_k: Count


class SibConfig(TargetConfig):
    c_grid: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)]
    max_iter: Annotated[int, Field(ge=10)]
    finetune: bool
    finetune_steps: Count
    finetune_batch_size: Annotated[int, Field(ge=2)]
    finetune_lr: Annotated[float, Field(gt=0)]


class TatoebaConfig(TargetConfig):
    # "xtreme": XTREME's 36 languages; "all": the 112 of the LASER test set; or a list of LASER codes.
    languages: Literal["xtreme", "all"] | Annotated[list[str], Field(min_length=1)]
    # A seeded sample of n pairs of each language (`benchmark.data.tatoeba.sample_ids`) (None: all, up to 1000). Fewer candidates make retrieval
    # easier: accuracies at different max_pairs are not comparable, nor with published numbers.
    max_pairs: Annotated[int, Field(ge=2)] | None
    margin_k: Count

    @field_validator("languages")
    @classmethod
    def _known(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            for code in value:
                if code not in tatoeba.LANGUAGES:
                    raise ValueError(f"unknown Tatoeba language code {code!r} (LASER's three-letter codes, "
                                     "e.g. 'fra', 'cmn', 'swh')")
            if len(set(value)) != len(value):
                raise ValueError("languages must not repeat")
        return value


class XtremeConfig(TargetConfig):
    """The seed's third phase (``full`` only): fine-tuning on each task's English training data."""

    # Of benchmark.data.xtreme.FINETUNED; [] turns the third phase off (a run without its English
    # training data at hand, such as the CPU rehearsal of `full`): the target then reports no scores.
    tasks: list[str]
    steps: Count
    batch_size: Annotated[int, Field(ge=2)]
    lr: Annotated[float, Field(gt=0)]
    max_length: Annotated[int, Field(ge=16, le=512)]
    max_train: Count | None  # the first n English training examples (None: all)
    max_test: Count | None  # the first n test items per language (None: all, as XTREME)

    @field_validator("tasks")
    @classmethod
    def _known(cls, tasks: list[str]) -> list[str]:
        unknown = [t for t in tasks if t not in FINETUNED]
        if unknown:
            raise ValueError(f"unknown XTREME task {unknown[0]!r}; expected some of {', '.join(FINETUNED)}")
        if len(set(tasks)) != len(tasks):
            raise ValueError("tasks must not repeat")
        return tasks
