"""XTREME's fine-tuned tasks and Belebele (``full``): what they read and how their languages group.

The scoring, which fine-tunes the run's encoder per task (the seed's third phase), is
:mod:`benchmark.targets.xtreme_score`: only stage ``evaluate`` runs it, so only it depends on the
training loop. XTREME's retrieval tasks need no fine-tuning: Tatoeba is its own target
(:mod:`benchmark.targets.tatoeba`); BUCC is not scored (see README).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import Field, field_validator

from benchmark.armspec import ArmSpec
from benchmark.blocks import Count
from benchmark.data import xtreme, xtreme_files
from benchmark.data.languages import CC100_XLMR
from benchmark.data.task_tables import fetched
from benchmark.data.tasks import TASKS, HubPin
from benchmark.data.xtreme import FINETUNED
from benchmark.io import BenchmarkError
from benchmark.models.coverage import UNK_THRESHOLD, unk_rate
from benchmark.schema import declare
from benchmark.targets.spec import Context, DatasetSuite, FineTuning, Score, TargetConfig, TargetSpec


class Config(TargetConfig):
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
    # "xtreme": each task's own recipe (benchmark.data.xtreme.RECIPES: epochs over its English training
    # set, max length, batch, lr; Belebele, which has none, the budget above); "fixed": steps, batch_size,
    # lr and max_length above for every task
    recipe: Literal["xtreme", "fixed"]

    @field_validator("tasks")
    @classmethod
    def _known(cls, tasks: list[str]) -> list[str]:
        unknown = [t for t in tasks if t not in FINETUNED]
        if unknown:
            raise ValueError(f"unknown XTREME task {unknown[0]!r}; expected some of {', '.join(FINETUNED)}")
        if len(set(tasks)) != len(tasks):
            raise ValueError("tasks must not repeat")
        return tasks


SPEC = declare(
    TargetSpec,
    name="xtreme", display="XTREME (fine-tuned tasks) and Belebele",
    dataset=DatasetSuite(name="xtreme", license="per task: see benchmark/data/xtreme.py",
                         languages=tuple(sorted({lang for t in xtreme.TARGETS.values() for lang in t.languages})),
                         members=FINETUNED),
    embeds="nothing shared: each task fine-tunes the run's encoder on its English training data",
    protocol="English fine-tuning, then zero-shot",
    predictions=("task", "language", "index_id", "item", "label", "predicted", "value"),
    scores=tuple(Score(name=f"xtreme_{t}", display=f"{xtreme.TARGETS[t].display_name} ({xtreme.TARGETS[t].metric}, "
                       "item score: accuracy, SQuAD F1 or sentence token accuracy)", column=t,
                       higher_is_better=True, item="value", where={"task": t}) for t in FINETUNED),
    main_score="xtreme_xnli", items="per_language",
    resampled="test items within each language and task, independently (MLQA, TyDiQA, UD-POS and PAN-X "
              "differ between languages)",
    profiles=("full",), module=__name__, scorer="benchmark.targets.xtreme_score",
    fetcher="benchmark.targets.xtreme_fetch", config=Config,
)


def check(cfg: Config, ctx: Context) -> None:
    """Every task's pins resolved, a reader for its English training data, and its test files read and
    validated, before any output is deleted (the training data is read when fine-tuning starts)."""
    for name in cfg.tasks:
        spec = xtreme.TARGETS[name]
        pin = spec.train_source
        if pin is not None and not _readable(spec):
            raise BenchmarkError(f"{spec.display_name}: no reader for its English training data {pin.source} "
                                 f"({pin.note}); leave {name} out of targets.xtreme.tasks")
        if pin is not None and not pin.resolved:
            raise BenchmarkError(f"{spec.display_name}: English training data {pin.source} is not pinned "
                                 f"({pin.unresolved})")
        test_tables(spec, ctx.data_dir)


def pins(cfg: Config) -> list[tuple[str, xtreme.Pin | HubPin]]:
    """What each fine-tuned task reads upstream: its test files, and its English training data (its own
    pin, or the textual task's pins it trains on)."""
    out: list[tuple[str, xtreme.Pin | HubPin]] = []
    for name in cfg.tasks:
        spec = xtreme.TARGETS[name]
        out.append((f"XTREME {name} test", spec.upstream))
        train = TASKS[spec.train_task].upstream if spec.train_task else [spec.train_source] if _readable(spec) else []
        out += [(f"XTREME {name} train", pin) for pin in train]  # nothing to lock where nothing reads it
    return out


def _readable(spec: xtreme.XtremeTarget) -> bool:
    """Whether a reader takes the task's English training data: a textual task's, a Hub dataset's, or a
    URL archive's files at ``train_layout`` (Belebele's assembled set has none)."""
    pin = spec.train_source
    return pin is None or pin.hub_repo is not None or spec.train_layout is not None


def measures(cfg: Config, score: Score) -> bool:
    """A task's score exists only where the task is fine-tuned (``targets.xtreme.tasks``)."""
    return score.where["task"] in cfg.tasks


def shared_fine_tune(spec: xtreme.XtremeTarget) -> tuple[str, str, int]:
    """What makes two tasks' fine-tunes one and the same: the English training data, the head's format and
    its labels (XQuAD and MLQA both train on SQuAD v1.1: XTREME fine-tunes once and tests both)."""
    source = spec.train_task or (spec.train_source.lock_key if spec.train_source else spec.name)
    return source, spec.format, len(spec.labels)


def budget(cfg: Config, name: str, examples: int | None = None) -> tuple[int, int, int, float]:
    """(steps, batch, max length, lr) of task ``name``'s fine-tune: its XTREME recipe over ``examples``
    training examples (its declared training set when None), or the block's fixed budget."""
    recipe = xtreme.RECIPES.get(name) if cfg.recipe == "xtreme" else None
    if recipe is None:
        return cfg.steps, cfg.batch_size, cfg.max_length, cfg.lr
    if cfg.max_train:
        examples = min(examples or recipe.train_examples, cfg.max_train)
    return recipe.steps(examples), recipe.batch_size, recipe.max_length, recipe.lr


def fine_tuning(cfg: Config, ctx: Context) -> list[FineTuning]:
    """One per fine-tune (XQuAD and MLQA share SQuAD's), at its recipe's steps, batch and length."""
    out, seen = [], set()
    for name in cfg.tasks:
        key = shared_fine_tune(xtreme.TARGETS[name])
        if key in seen:
            continue
        seen.add(key)
        steps, batch, length, _ = budget(cfg, name)
        shared = [t for t in cfg.tasks if shared_fine_tune(xtreme.TARGETS[t]) == key]
        out.append(FineTuning(f"XTREME fine-tuning: {'+'.join(shared)}", steps, batch, length))
    return out


def texts(cfg: Config, ctx: Context) -> dict[str, list[str]]:
    return {}  # fine-tuning reads its own text; nothing for the shared embedding pass


def root(spec: xtreme.XtremeTarget, data_dir: Path) -> Path:
    """Where a task's files lie in the data folder: its Hub repository as fetched (Belebele), or its
    archives as ``benchmark fetch`` extracted them (:mod:`benchmark.targets.xtreme_fetch`)."""
    if spec.upstream.hub_repo is not None:
        return fetched(data_dir, spec.upstream.hub_repo)
    return extracted(data_dir, spec.name)


def extracted(data_dir: Path, name: str) -> Path:
    """Where ``benchmark fetch`` extracts task ``name``'s archives (its English training data's too)."""
    return Path(data_dir) / "full" / "xtreme" / name


def test_tables(spec: xtreme.XtremeTarget, data_dir: Path) -> dict[str, pd.DataFrame]:
    return {lang: xtreme_files.load_target(spec.name, root(spec, data_dir), lang) for lang in spec.languages}


def language_groups(cfg: Config, ctx: Context, languages: list[str]) -> pd.DataFrame:
    """XTREME's languages are ISO 639-1 codes; CC-100 membership from XLM-R's list (same codes);
    script and coverage measured on the tasks' own test text."""
    from fontTools import unicodedata as ud

    texts: dict[str, list[str]] = {}
    for name in cfg.tasks:
        spec = xtreme.TARGETS[name]
        for lang, table in test_tables(spec, ctx.data_dir).items():
            column = xtreme.TEXT_COLUMN[spec.format]
            values = table[column].tolist()[:200]
            texts.setdefault(lang, []).extend(" ".join(v) if isinstance(v, list) else str(v) for v in values)
    cc100 = {code.split("-")[0] for code, _ in CC100_XLMR}
    rows = []
    for lang in languages:
        letters = [ud.script(ch) for t in texts.get(lang, []) for ch in t if ch.isalpha()]
        script = pd.Series(letters).mode().iloc[0] if letters else "Zyyy"
        rate = unk_rate(texts[lang]) if texts.get(lang) else 1.0
        rows.append({"language": lang, "script": script, "unk_rate": rate, "covered": rate < UNK_THRESHOLD,
                     "in_cc100": lang.split("_")[0] in cc100})
    return pd.DataFrame(rows).set_index("language")


def published(summary: dict[str, dict[str, float]], arm_of: Mapping[str, ArmSpec]) -> dict[str, dict[str, float]]:
    """The report writes it as ``results/targets/xtreme.json``, which ``check-reference`` holds against
    ``tests/reference/published.csv``: XTREME's task scores (points, mean over languages) per arm
    (``arm_of``: each run's), averaged over its runs, and under the published rows' names:
    ``xlm-r-large`` is the untrained baseline, ``xlm-r-large+x-stilts`` the best textual arm per task
    (X-STILTs reports its best intermediate task per target task)."""
    out: dict[str, dict[str, float]] = {}
    for arm in dict.fromkeys(spec.name for spec in arm_of.values()):
        runs = [summary[r] for r in summary if arm_of[r].name == arm]
        keys = [k for k in runs[0] if k.startswith("xtreme.mean_")]
        out[arm] = {k.removeprefix("xtreme.mean_"): sum(r[k] for r in runs) / len(runs) for k in keys}
    if "baseline" in out:
        out["xlm-r-large"] = out["baseline"]
    textual = [out[a] for a in out if a in {s.name for s in arm_of.values() if s.kind == "textual"}]
    if textual:
        out["xlm-r-large+x-stilts"] = {task: max(t[task] for t in textual) for task in textual[0]}
    return out
