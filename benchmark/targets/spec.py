"""What a target is: its typed spec (MTEB ``TaskMetadata`` style), its params block, what it is given, and
what it returns.

A target is one module under ``benchmark/targets/`` (or a plugin module, :mod:`benchmark.targets.registry`)
that declares ``SPEC``, a :class:`TargetSpec` naming its params model ``config`` (a :class:`TargetConfig`,
its block ``targets.<name>`` of params.yaml), and holds these functions. Each receives its own block and
the small shared :class:`Context`, never the whole configuration, and reads the run's embeddings, never a
file another target wrote:

* ``check(cfg, ctx)``: read and validate every input it will need (stage ``validate`` calls it before any
  stage can delete an output; the bundle is checked by its sha256).
* ``texts(cfg, ctx) -> {group: [text, ...]}``: every text it embeds, by group. Groups are global: two
  targets naming one group must mean the same texts; the evaluate stage embeds the union once per run.
* ``score(cfg, ctx, run, emb) -> TargetResult``: per-language table, per-item predictions, summary (in the
  spec's ``scorer`` module instead, when one is named: only stage ``evaluate`` imports it, so an edit to
  what scoring alone needs, such as the training loop a fine-tuning protocol runs, reruns only ``evaluate``).
* ``language_groups(cfg, ctx, languages) -> DataFrame``: ``script``, ``covered``, ``in_cc100`` per
  language, the analysis's breakdowns.
* ``describe(cfg) -> str`` (optional): how its params shape the protocol, for the report.
* ``measures(cfg, score) -> bool`` (optional): whether this configuration measures ``score``; without it,
  every score is measured.
* ``fine_tuning(cfg, ctx) -> [FineTuning, ...]`` (optional): the training its protocol runs per evaluated
  run, for ``benchmark params --plan``'s cost.
* ``pins(cfg) -> [(user, pin), ...]`` (optional): upstreams it reads beyond its dataset's, for ``benchmark
  lock`` and ``fetch``; ``unpack(cfg, dest)`` in the spec's ``fetcher`` module (optional): what ``fetch``
  does with them after downloading (extracting archives where the target reads them).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal, Protocol

import pandas as pd
from pydantic import Field, StringConstraints, model_validator

from benchmark.blocks import DataConfig, EncoderConfig, RuntimeConfig, TrainingConfig
from benchmark.data.spec import DatasetSpec
from benchmark.profiles import Profile
from benchmark.schema import Frozen, Strict

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Module = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w.]*$")]
ProtocolName = Literal["zero-shot retrieval", "frozen-encoder probe trained on English",
                    "English fine-tuning, then zero-shot"]


class TargetConfig(Strict):
    """A target's block of params.yaml (``targets.<name>``): a typo in it is a ``validate`` error."""


@dataclass(frozen=True)
class Context:
    """What every target may read beyond its own block: where the data is, which sentences and
    languages the study evaluates, the pivot language, and, for a target that fine-tunes the run's
    encoder, the encoder, the training budget and the device."""

    data_dir: Path
    data: DataConfig
    pivot: str  # the English side every retrieval and probe pivots on (``targets.retrieval.pivot``)
    seed: int
    encoder: EncoderConfig
    training: TrainingConfig
    runtime: RuntimeConfig


@dataclass(frozen=True)
class FineTuning:
    """Training a target's protocol runs for each evaluated run (what ``--plan`` prices)."""

    name: str
    steps: int  # optimizer steps per run
    rows: int  # rows per step
    length: int  # tokens per row (upper bound)


class Configured(Protocol):
    """What the registry needs of a configuration (:class:`benchmark.config.Params` is one)."""

    def block(self, name: str) -> Any: ...

    def context(self, data_dir: Path) -> Context: ...


class Score(Frozen):
    """One number per item and language that the analysis compares between arms."""

    name: Name  # the analysis's column (``target`` in results/margins.csv); unique over all targets
    display: str
    column: Name  # its per-language column, and ``mean_<column>`` in the target's metrics
    higher_is_better: bool
    # from the prediction rows: ``correct`` (1 - it for an error rate), label == predicted, or ``value``
    item: Literal["correct", "error", "label_match", "value"]
    where: dict[str, str] = {}  # the prediction rows it reads, e.g. {"direction": "x2eng", "scoring": "margin"}


class English(Frozen):
    """A target's scores on English itself, so the report sets each run's English change beside its
    cross-lingual one ("transfer" is not "forgetting less")."""

    short: str  # how the report's drift table names the target, e.g. "SIB"
    keys: dict[str, str]  # column label -> key of the target's metrics, e.g. {"eng dev": "english_dev_accuracy"}


class DatasetSuite(Frozen):
    """Several datasets scored as one target (XTREME's tasks), each with its own pin in ``members``."""

    name: Name
    license: str
    languages: tuple[str, ...]
    members: tuple[str, ...]


class TargetSpec(Frozen):
    name: Name  # its block ``targets.<name>``; folder and file name of its outputs; ``evaluate --targets``
    display: str
    dataset: DatasetSpec | DatasetSuite
    embeds: str
    protocol: ProtocolName
    predictions: tuple[str, ...]  # per-item columns of artifacts/predictions/<run>/<name>.parquet
    scores: Annotated[tuple[Score, ...], Field(min_length=1)]
    main_score: Name
    items: Literal["parallel", "per_language"]  # parallel: item i is one sentence in every language
    resampled: str  # what the item bootstrap draws, as the report states it
    profiles: tuple[Profile, ...]
    module: Module  # the module that declares it (and holds check, texts, language_groups, ...)
    # ``score`` in its own module (run by :mod:`benchmark.targets.scoring`, in stage ``evaluate`` only)
    # when scoring needs more than reading does (fine-tuning: the training loop); else ``module`` scores.
    scorer: Module | None = None
    # ``unpack(cfg, dest)`` in its own module, which ``benchmark fetch --profile`` runs after downloading
    # (the target's upstream files laid out where it reads them); no stage imports it.
    fetcher: Module | None = None
    config: type[TargetConfig]
    summary_extra: tuple[Name, ...] = ()  # other keys of its metrics JSON the report and reference keep
    english: English | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TargetSpec:
        names = [s.name for s in self.scores]
        if self.main_score not in names:
            raise ValueError(f"main_score {self.main_score!r} is not one of its scores {names}")
        for s in self.scores:
            unknown = set(s.where) - set(self.predictions)
            if unknown:
                raise ValueError(f"score {s.name!r} selects on {sorted(unknown)}, not prediction columns")
        needed = {"language", "index_id"} | {{"correct": "correct", "error": "correct", "value": "value"}.get(s.item, "label")
                                              for s in self.scores}
        if not needed <= set(self.predictions):
            raise ValueError(f"predictions must hold {sorted(needed)}")
        return self

    @property
    def main(self) -> Score:
        return next(s for s in self.scores if s.name == self.main_score)

    def runner(self) -> ModuleType:
        return importlib.import_module(self.module)

    # What the stages call: each hands the module its own block and the shared context.
    def check(self, params: Configured, data_dir: Path) -> None:
        self.runner().check(params.block(self.name), params.context(data_dir))

    def texts(self, params: Configured, data_dir: Path) -> dict[str, list[str]]:
        return self.runner().texts(params.block(self.name), params.context(data_dir))

    def language_groups(self, params: Configured, languages: list[str], data_dir: Path) -> pd.DataFrame:
        return self.runner().language_groups(params.block(self.name), params.context(data_dir), languages)

    def describe(self, params: Configured) -> str:
        """How this configuration scores the target, for the report: the module's own ``describe``
        where its params shape the protocol, else the spec's protocol, texts and resampling."""
        own = getattr(self.runner(), "describe", None)
        return (own(params.block(self.name)) if own is not None
                else f"{self.display}: {self.protocol}, {self.embeds}; its item bootstrap resamples {self.resampled}")

    def scores_in(self, params: Configured) -> tuple[Score, ...]:
        """The scores ``params`` measures: every one, unless the module narrows them (``measures``)."""
        measures = getattr(self.runner(), "measures", None)
        return tuple(s for s in self.scores if measures is None or measures(params.block(self.name), s))

    def fine_tuning(self, params: Configured, data_dir: Path) -> list[FineTuning]:
        own = getattr(self.runner(), "fine_tuning", None)
        return [] if own is None else own(params.block(self.name), params.context(data_dir))

    def shown(self, params: Configured) -> Score | None:
        """The score tables and plots lead with: the main one if measured, else the first measured."""
        measured = self.scores_in(params)
        return self.main if self.main in measured else next(iter(measured), None)


@dataclass(frozen=True)
class TargetResult:
    per_language: pd.DataFrame  # one row per language: ``language`` and each score's column
    predictions: pd.DataFrame  # one row per item (and direction/scoring where the target has them)
    summary: dict[str, float]  # ``mean_<column>`` of every score, and the target's own extras


def xsim_score(prefix: str, scoring: str, direction: str, label: str) -> Score:
    """LASER's xsim error of one scoring and direction, as a score (FLORES and Tatoeba both report it)."""
    arrow = {"x2eng": "X→eng", "eng2x": "eng→X"}[direction]
    return Score(name=f"{prefix}xsim_{scoring}_{direction}", display=f"{label} xsim {scoring} {arrow}",
                 column=f"xsim_{scoring}_{direction}", higher_is_better=False, item="error",
                 where={"direction": direction, "scoring": scoring})


RETRIEVAL_PREDICTIONS = ("language", "direction", "scoring", "index_id", "retrieved_id", "correct")

