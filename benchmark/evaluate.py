"""Evaluate the configured encoder on any FLORES-200 directory in the official layout.

The bundled subset is a convenience, not a limit: point this at a full FLORES-200 copy (e.g.
``<dir>/devtest/<lang>.devtest``) to get per-language xsim on every line.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.config import Params
from benchmark.data import flores
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import BenchmarkError, atomic_path
from benchmark.models.encoder import load_encoder
from benchmark.pipeline.retrieval import evaluate


def evaluate_flores_dir(params: Params, root: Path, *, split: str, first_n: int | None,
                        languages: list[str] | None, prefix: str | None, out: Path) -> pd.DataFrame:
    pivot = params.targets.retrieval.pivot
    if languages is not None and pivot not in languages:
        languages = [pivot, *languages]
    if first_n is not None and first_n < 2:
        raise BenchmarkError("--first-n must be at least 2")
    lines = flores.read_official(root, split, languages, first_n)
    if pivot not in lines:
        raise BenchmarkError(f"{root / split}: pivot language file {pivot}.{split} not found")
    seed_everything(params.seed, params.runtime.threads)
    encoder = load_encoder(params.encoder, seed=params.seed, device=resolve_device(params.runtime.device))
    langs = sorted(lines)
    texts = [t for lang in langs for t in lines[lang]]
    flat = encoder.embed(texts, prefix=params.encoder.prefix if prefix is None else prefix,
                         batch_size=params.encoder.batch_size,
                         batch_tokens=params.encoder.batch_tokens, progress=f"embed {split}")
    n = len(lines[pivot])
    emb = {f"lang/{lang}": flat[i * n : (i + 1) * n] for i, lang in enumerate(langs)}
    import numpy as np

    emb["ids"] = np.arange(n)
    table, _ = evaluate(emb, pivot, params.targets.retrieval.margin_k)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    print(f"{len(table)} languages x {n} sentences -> {out}; mean xsim margin X→eng "
          f"{table['xsim_margin_x2eng'].mean():.4f}")
    return table
