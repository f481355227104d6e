"""What the positive control trains and is judged on: shared by stage ``task-states`` (which computes
its training rows' frozen states once, for every seed) and ``train@<run>`` (which trains on them).

Training pairs: each training line's English sentence with :data:`PAIRS_PER_LINE` of its translations
(:class:`~benchmark.training.datasets.Parallel`); held-out pairs: the same for the held-out articles'
lines (:func:`benchmark.targets.corpus.parallel_lines` chooses both).
"""

from __future__ import annotations

from typing import Any

from benchmark import paths
from benchmark.config import Params
from benchmark.targets.corpus import parallel_lines
from benchmark.training.datasets import Parallel

# Each English line is paired with this many other languages (in rotation, so every language is about
# equally often in the pool): 73 lines x 24 = 1,752 pairs in mini, each visited about twice in 100 steps
# x 32, and few enough rows (1,825 distinct sentences) for their frozen states to be computed once.
PAIRS_PER_LINE = 24
MEMO = "parallel"  # the name of its rows' frozen states in stage task-states' output


def parallel_data(params: Params, tokenizer: Any) -> tuple[Parallel, Parallel, dict[str, object]]:
    """(training pairs, held-out pairs, what MLflow records about them)."""
    corpus, train_ids, heldout_ids = parallel_lines(params.context(paths.DATA))
    pivot = params.pivot
    train, heldout = (Parallel(corpus.sentences.loc[ids], pivot, tokenizer, params.training.max_length,
                               per_line=PAIRS_PER_LINE) for ids in (train_ids, heldout_ids))
    logged = {"train.items": len(train), "train.lines": len(train_ids),
              "train.languages": len(corpus.languages) - 1, "heldout.lines": len(heldout_ids)}
    return train, heldout, logged
