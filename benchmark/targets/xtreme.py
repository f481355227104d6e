"""XTREME's fine-tuned tasks and Belebele (``full``): what they read and how their languages group.

The scoring, which fine-tunes the run's encoder per task (the seed's third phase), is
:mod:`benchmark.targets.xtreme_score`: only stage ``evaluate`` runs it, so only it depends on the
training loop. XTREME's retrieval tasks need no fine-tuning: Tatoeba is its own target
(:mod:`benchmark.targets.tatoeba`); BUCC is not scored (see README).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.config import Params
from benchmark.data import xtreme, xtreme_files
from benchmark.data.languages import CC100_XLMR
from benchmark.io import BenchmarkError
from benchmark.models.coverage import UNK_THRESHOLD, unk_rate


def check(params: Params, data_dir: Path) -> None:
    """Every task's pins resolved and its test files read and validated, before any output is deleted;
    the English training data is fetched from the Hub when fine-tuning starts (pins checked here)."""
    for name in params.targets.xtreme.tasks:
        spec = xtreme.get_target(name)
        pin = spec.train_source
        if pin is not None and not pin.resolved:
            raise BenchmarkError(f"{spec.display_name}: English training data {pin.source} is not pinned "
                                 f"({pin.unresolved})")
        test_tables(spec, data_dir)


def measures(params: Params, score: Any) -> bool:
    """A task's score exists only where the task is fine-tuned (``targets.xtreme.tasks``)."""
    return score.where["task"] in params.targets.xtreme.tasks


def texts(params: Params, data_dir: Path) -> dict[str, list[str]]:
    return {}  # fine-tuning reads its own text; nothing for the shared embedding pass


def test_tables(spec: xtreme.XtremeTarget, data_dir: Path) -> dict[str, pd.DataFrame]:
    root = data_dir / "full" / "xtreme" / spec.name
    return {lang: xtreme_files.load_target(spec.name, root, lang) for lang in spec.languages}


def language_groups(params: Params, languages: list[str], data_dir: Path) -> pd.DataFrame:
    """XTREME's languages are ISO 639-1 codes; CC-100 membership from XLM-R's list (same codes);
    script and coverage measured on the tasks' own test text."""
    from fontTools import unicodedata as ud

    texts: dict[str, list[str]] = {}
    for name in params.targets.xtreme.tasks:
        spec = xtreme.get_target(name)
        for lang, table in test_tables(spec, data_dir).items():
            column = "tokens" if spec.format == "tagging" else "context" if spec.format in ("span", "choice") else "text"
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
