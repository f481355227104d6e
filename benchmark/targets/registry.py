"""The evaluation targets: one typed spec each (MTEB ``TaskMetadata`` style), validated at import.

A :class:`TargetSpec` says everything the pipeline needs to know about a target, so that analysis,
report, ``compare``, ``check-reference``, the CLI and the evaluate stage read it from here and never
name a target themselves: its dataset (pin, license, languages), what it embeds, its protocol, the
per-item prediction schema, its scores (the columns the analysis uses, which way is better, how one
item scores), what its bootstrap resamples, and the module that runs it.

A target module (``module``) holds these functions, all reading the run's embeddings, never a file
another target wrote:

* ``check(params, data_dir)``: read and validate every input it will need (stage ``validate`` calls it
  for upstream data, before any stage can delete an output; the bundle is checked by its sha256).
* ``texts(params, data_dir) -> {group: [text, ...]}``: every text it embeds, by group. Groups are
  global: two targets naming one group must mean the same texts (FLORES and SIB share ``lang/<code>``);
  the evaluate stage embeds the union once per run.
* ``score(params, run, emb, data_dir) -> TargetResult``: per-language table, per-item predictions, summary
  (in ``scorer`` instead, when one is named: only stage ``evaluate`` imports it, so an edit to what
  scoring alone needs, such as the training loop a fine-tuning protocol runs, reruns only ``evaluate``).
* ``language_groups(params, languages, data_dir) -> DataFrame``: ``script``, ``covered``, ``in_cc100``
  per language, the analysis's breakdowns.
* ``measures(params, score) -> bool`` (optional): whether this configuration measures ``score``
  (XTREME scores only the tasks of ``targets.xtreme.tasks``); without it, every score is measured.

Its params block is ``targets.<name>`` (``config``, a strict pydantic model), so a typo in it is a
``validate`` error like any other key.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal

import pandas as pd
from pydantic import BaseModel, Field, StringConstraints, ValidationError, model_validator

from benchmark.data import flores, sib, tatoeba, xtreme
from benchmark.data.spec import DatasetSpec
from benchmark.io import BenchmarkError
from benchmark.profiles import PROFILES, Profile
from benchmark.schema import Frozen
from benchmark.targets.configs import RetrievalConfig, SibConfig, TatoebaConfig, XtremeConfig

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Protocol = Literal["zero-shot retrieval", "frozen-encoder probe trained on English",
                   "English fine-tuning, then zero-shot"]


class Score(Frozen):
    """One number per item and language that the analysis compares between arms."""

    name: Name  # the analysis's column (``target`` in results/margins.csv); unique over all targets
    display: str
    column: Name  # its per-language column, and ``mean_<column>`` in the target's metrics
    higher_is_better: bool
    # from the prediction rows: ``correct`` (1 - it for an error rate), label == predicted, or ``value``
    item: Literal["correct", "error", "label_match", "value"]
    where: dict[str, str] = {}  # the prediction rows it reads, e.g. {"direction": "x2eng", "scoring": "margin"}


class DatasetSuite(Frozen):
    """Several datasets scored as one target (XTREME's tasks), each with its own pin in ``members``."""

    name: Name
    license: str
    languages: tuple[str, ...]
    members: tuple[str, ...]


class TargetSpec(Frozen):
    name: Name  # folder and file name of its outputs; ``benchmark evaluate --targets``
    display: str
    dataset: DatasetSpec | DatasetSuite
    embeds: str
    protocol: Protocol
    predictions: tuple[str, ...]  # per-item columns of artifacts/predictions/<run>/<name>.parquet
    scores: Annotated[tuple[Score, ...], Field(min_length=1)]
    main_score: Name
    items: Literal["parallel", "per_language"]  # parallel: item i is one sentence in every language
    resampled: str  # what the item bootstrap draws, as the report states it
    profiles: tuple[Profile, ...]
    module: Annotated[str, StringConstraints(pattern=r"^benchmark\.targets\.[a-z_]+$")]
    # ``score`` in its own module (run by :mod:`benchmark.targets.scoring`, in stage ``evaluate`` only)
    # when scoring needs more than reading does (fine-tuning: the training loop); else ``module`` scores.
    scorer: Annotated[str, StringConstraints(pattern=r"^benchmark\.targets\.[a-z_]+$")] | None = None
    config: type[BaseModel]
    summary_extra: tuple[Name, ...] = ()  # other keys of its metrics JSON the report and reference keep

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

    def describe(self, params: Any) -> str:
        """How this configuration scores the target, for the report: the module's own ``describe``
        where its params shape the protocol, else the spec's protocol, texts and resampling."""
        own = getattr(self.runner(), "describe", None)
        return (own(params) if own is not None
                else f"{self.display}: {self.protocol}, {self.embeds}; its item bootstrap resamples {self.resampled}")

    def scores_in(self, params: Any) -> tuple[Score, ...]:
        """The scores ``params`` measures: every one, unless the module narrows them (``measures``)."""
        measures = getattr(self.runner(), "measures", None)
        return tuple(s for s in self.scores if measures is None or measures(params, s))

    def shown(self, params: Any) -> Score | None:
        """The score tables and plots lead with: the main one if measured, else the first measured."""
        measured = self.scores_in(params)
        return self.main if self.main in measured else next(iter(measured), None)


@dataclass(frozen=True)
class TargetResult:
    per_language: pd.DataFrame  # one row per language: ``language`` and each score's column
    predictions: pd.DataFrame  # one row per item (and direction/scoring where the target has them)
    summary: dict[str, float]  # ``mean_<column>`` of every score, and the target's own extras


_XSIM = ("xsim_margin_x2eng", "xsim_margin_eng2x", "xsim_cosine_x2eng", "xsim_cosine_eng2x")
_RETRIEVAL_PREDICTIONS = ("language", "direction", "scoring", "index_id", "retrieved_id", "correct")


def _xsim(prefix: str, scoring: str, direction: str, label: str) -> Score:
    arrow = {"x2eng": "X→eng", "eng2x": "eng→X"}[direction]
    return Score(name=f"{prefix}xsim_{scoring}_{direction}", display=f"{label} xsim {scoring} {arrow}",
                 column=f"xsim_{scoring}_{direction}", higher_is_better=False, item="error",
                 where={"direction": direction, "scoring": scoring})


def make_target(**fields: Any) -> TargetSpec:
    try:
        return TargetSpec(**fields)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BenchmarkError(f"invalid target spec {fields.get('name')!r}: {where + ': ' if where else ''}"
                             f"{first['msg'].removeprefix('Value error, ')}") from None


TARGETS: dict[str, TargetSpec] = {t.name: t for t in [
    make_target(
        # Named ``retrieval`` (its outputs' folder) since before Tatoeba joined: read "FLORES-200 retrieval".
        name="retrieval", display="FLORES-200 retrieval", dataset=flores.FLORES200,
        embeds="the evaluated FLORES-200 lines in every language (in mini/smoke/tiny: the SIB-200 test "
               "sentences), mean-pooled",
        protocol="zero-shot retrieval", predictions=_RETRIEVAL_PREDICTIONS,
        scores=tuple(_xsim("", s, d, "FLORES") for s, d in (c.split("_", 2)[1:] for c in _XSIM)),
        main_score="xsim_margin_x2eng", items="parallel",
        resampled="FLORES articles (every sentence of a source URL together), the same draw in every language",
        profiles=PROFILES, module="benchmark.targets.flores", config=RetrievalConfig,
    ),
    make_target(
        name="sib", display="SIB-200 topic probe", dataset=sib.SIB200,
        embeds="the SIB-200 test sentences in every language, and English train/dev for the probe",
        protocol="frozen-encoder probe trained on English",
        predictions=("language", "index_id", "label", "predicted"),
        scores=(Score(name="sib_accuracy", display="SIB-200 probe accuracy", column="accuracy",
                      higher_is_better=True, item="label_match"),),
        main_score="sib_accuracy", items="parallel",
        resampled="FLORES articles (every sentence of a source URL together), the same draw in every language",
        profiles=PROFILES, module="benchmark.targets.sib", scorer="benchmark.targets.sib_score", config=SibConfig,
        summary_extra=("english_test_accuracy", "english_dev_accuracy"),
    ),
    make_target(
        name="tatoeba", display="Tatoeba retrieval", dataset=tatoeba.TATOEBA,
        embeds="both sides of each language's Tatoeba pairs (its own English side), mean-pooled",
        protocol="zero-shot retrieval", predictions=_RETRIEVAL_PREDICTIONS,
        # XTREME's accuracy queries with the English side (eng→X): see benchmark/targets/tatoeba.py.
        scores=(Score(name="tatoeba_accuracy", display="Tatoeba accuracy (XTREME, eng→X)", column="accuracy",
                      higher_is_better=True, item="correct", where={"direction": "eng2x", "scoring": "cosine"}),
                _xsim("tatoeba_", "margin", "x2eng", "Tatoeba"), _xsim("tatoeba_", "margin", "eng2x", "Tatoeba")),
        main_score="tatoeba_accuracy", items="per_language",
        resampled="sentence pairs within each language, independently per language (each language has its own "
                  "English side, so no item is shared across languages)",
        profiles=PROFILES, module="benchmark.targets.tatoeba", config=TatoebaConfig,
    ),
    make_target(
        name="xtreme", display="XTREME (fine-tuned tasks) and Belebele",
        dataset=DatasetSuite(name="xtreme", license="per task: see benchmark/data/xtreme.py",
                             languages=tuple(sorted({lang for t in xtreme.TARGETS.values() for lang in t.languages})),
                             members=xtreme.FINETUNED),
        embeds="nothing shared: each task fine-tunes the run's encoder on its English training data",
        protocol="English fine-tuning, then zero-shot",
        predictions=("task", "language", "index_id", "item", "label", "predicted", "value"),
        scores=tuple(Score(name=f"xtreme_{t}", display=f"{xtreme.TARGETS[t].display_name} ({xtreme.TARGETS[t].metric}, "
                           "item score: accuracy, SQuAD F1 or sentence token accuracy)", column=t,
                           higher_is_better=True, item="value", where={"task": t}) for t in xtreme.FINETUNED),
        main_score="xtreme_xnli", items="per_language",
        resampled="test items within each language and task, independently (MLQA, TyDiQA, UD-POS and PAN-X "
                  "differ between languages)",
        profiles=("full",), module="benchmark.targets.xtreme", scorer="benchmark.targets.xtreme_score",
        config=XtremeConfig,
    ),
]}

SCORES: dict[str, tuple[TargetSpec, Score]] = {}
for _t in TARGETS.values():
    for _s in _t.scores:
        if _s.name in SCORES:
            raise BenchmarkError(f"target {_t.name!r}: score name {_s.name!r} is taken by {SCORES[_s.name][0].name!r}")
        SCORES[_s.name] = (_t, _s)


def get_target(name: str) -> TargetSpec:
    try:
        return TARGETS[name]
    except KeyError:
        raise BenchmarkError(f"unknown target {name!r}; expected one of {', '.join(TARGETS)}") from None


def active(profile: str) -> list[TargetSpec]:
    """The targets a profile evaluates, in registry order."""
    return [t for t in TARGETS.values() if profile in t.profiles]


def targets_of(profile: str, names: Sequence[str] | None = None) -> list[TargetSpec]:
    """``names`` (all of the profile's when None), each checked to be one the profile evaluates."""
    chosen = active(profile)
    if names is None:
        return chosen
    specs = [get_target(n) for n in names]
    off = [t.name for t in specs if t not in chosen]
    if off:
        raise BenchmarkError(f"target(s) {', '.join(off)} not evaluated in profile {profile!r}")
    return specs


def texts_of(params: Any, specs: Sequence[TargetSpec], data_dir: Path) -> dict[str, list[str]]:
    """Every group of texts the targets embed; a group two targets name must hold the same texts."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        for name, texts in spec.runner().texts(params, data_dir).items():
            if groups.setdefault(name, texts) != texts:
                raise BenchmarkError(f"target {spec.name!r}: group {name!r} differs from another target's")
    return groups


def configs() -> dict[str, tuple[Any, Any]]:
    """``targets.<name>`` blocks of params.yaml, for :class:`benchmark.config.TargetsConfig`: required
    for a target every profile evaluates; for the others present exactly in the profiles that do
    (:func:`check_blocks`)."""
    return {t.name: (t.config, ...) if set(t.profiles) == set(PROFILES) else (t.config | None, None)
            for t in TARGETS.values()}


def check_blocks(profile: str, targets: Any) -> None:
    """A ``targets.<name>`` block where the profile evaluates ``name``, and none where it does not."""
    for t in TARGETS.values():
        block = getattr(targets, t.name)
        if profile in t.profiles and block is None:
            raise ValueError(f"targets.{t.name}: profile {profile!r} evaluates {t.display}: its block is required")
        if profile not in t.profiles and block is not None:
            raise ValueError(f"targets.{t.name}: profile {profile!r} does not evaluate {t.display} (only "
                             f"{', '.join(t.profiles)}): remove the block")


def imported_by_name() -> dict[str, set[str]]:
    """The modules imported by name at run time, by the module that imports them (no ``import``
    statement shows them to :mod:`benchmark.imports`): this registry imports each target's
    ``module``, :mod:`benchmark.targets.scoring` each ``scorer``."""
    return {__name__: {t.module for t in TARGETS.values()},
            "benchmark.targets.scoring": {t.scorer or t.module for t in TARGETS.values()}}
