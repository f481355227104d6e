#!/usr/bin/env python
"""Throughput of ``Encoder.embed`` against sentence-transformers on the same weights and texts.

Both sides get the same BertModel weights (ours is saved to a temp dir and loaded by
``SentenceTransformer(modules=[Transformer, Pooling(mean)])``), the same prefixed texts, batch size
and thread count. Runs alternate (ours, ST, ours, ST, ...) so drift hits both; medians are reported.
Texts are sampled evenly across every FLORES-200 language, so token lengths vary across scripts.

    python scripts/bench_encode.py [-n 1024] [--batch-size 32] [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmark.config import resolve  # noqa: E402
from benchmark.io import BenchmarkError  # noqa: E402
from benchmark.models.encoder import Encoder, load_encoder  # noqa: E402

BUNDLE = REPO_ROOT / "benchmark" / "data" / "bundle" / "flores200_sib.parquet"


def flores_texts(n: int, flores_dir: Path, seed: int) -> tuple[list[str], int]:
    """``n`` sentences, round-robin over all languages, each from a random row; (texts, #langs)."""
    if BUNDLE.is_file():
        import pyarrow.parquet as pq

        table = pq.read_table(BUNDLE)
        langs = sorted(c for c in table.column_names if c != "index_id")
        columns = {lang: table.column(lang).to_pylist() for lang in langs}
    else:
        files = sorted((flores_dir / "devtest").glob("*.devtest"))
        if not files:
            raise BenchmarkError(f"no FLORES data: neither {BUNDLE} nor {flores_dir}/devtest/*.devtest")
        langs = [f.stem for f in files]
        columns = {f.stem: f.read_text(encoding="utf-8").split("\n")[:-1] for f in files}
    rng = np.random.default_rng(seed)
    rows = len(columns[langs[0]])
    return [columns[langs[i % len(langs)]][int(rng.integers(rows))] for i in range(n)], len(langs)


def build_st(enc: Encoder, tmp: Path):
    """A SentenceTransformer over a saved copy of ``enc``'s model and tokenizer."""
    from sentence_transformers import SentenceTransformer, models

    enc.model.save_pretrained(tmp)
    enc.tokenizer.save_pretrained(tmp)
    transformer = models.Transformer(str(tmp), max_seq_length=enc.max_length)
    pooling = models.Pooling(enc.hidden_size, pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu").eval()


def setup(description: str, argv: list[str] | None) -> tuple[argparse.Namespace, list[str], int, Encoder]:
    """The options every encoder benchmark takes, the sampled texts and the loaded e5-small."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1024, help="number of sentences (default 1024)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3, help="timed runs per side (default 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--prefix", default="query: ")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flores-dir", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "flores200")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    texts, n_langs = flores_texts(args.n, args.flores_dir, args.seed)
    t0 = time.perf_counter()
    cfg = resolve({"profile": "mini", "encoder": {"max_length": args.max_length}}).encoder
    enc = load_encoder(cfg)
    print(f"model load: {time.perf_counter() - t0:.2f}s  ({sum(p.numel() for p in enc.model.parameters()):,} params)")
    return args, texts, n_langs, enc


def alternate(fns: dict[str, Callable[[], np.ndarray]], runs: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Run ``fns`` in turn ``runs`` times (a, b, a, b, ...: drift hits all alike), printing each round;
    the median seconds of each and its last output."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    outputs: dict[str, np.ndarray] = {}
    for run in range(runs):
        for name, fn in fns.items():
            t = time.perf_counter()
            outputs[name] = fn()
            times[name].append(time.perf_counter() - t)
        print(f"run {run + 1}: " + "  ".join(f"{name} {t[-1]:.2f}s" for name, t in times.items()), flush=True)
    return {name: statistics.median(t) for name, t in times.items()}, outputs


def main(argv: list[str] | None = None) -> int:
    args, texts, n_langs, enc = setup(__doc__, argv)
    with tempfile.TemporaryDirectory() as tmp:
        st = build_st(enc, Path(tmp))
    st_attn = st[0].auto_model.config._attn_implementation
    lengths = np.array([len(x) for x in enc.tokenizer([args.prefix + t for t in texts])["input_ids"]])
    print(
        f"{len(texts)} sentences from {n_langs} languages; tokens/sentence mean {lengths.mean():.1f}, "
        f"max {lengths.max()}; batch {args.batch_size}; threads {torch.get_num_threads()}; "
        f"attention ours={enc.model.config._attn_implementation} st={st_attn}"
    )

    prefixed = [args.prefix + t for t in texts]

    def ours() -> np.ndarray:
        return enc.embed(texts, prefix=args.prefix, batch_size=args.batch_size)

    def theirs() -> np.ndarray:
        return st.encode(
            prefixed, batch_size=args.batch_size, convert_to_numpy=True,
            normalize_embeddings=False, show_progress_bar=False,
        )

    # Warm-up on a slice: first-call allocations and kernel selection are not throughput.
    warm = texts[: 4 * args.batch_size]
    enc.embed(warm, prefix=args.prefix, batch_size=args.batch_size)
    st.encode([args.prefix + t for t in warm], batch_size=args.batch_size, show_progress_bar=False)

    med, outputs = alternate({"ours": ours, "st": theirs}, args.runs)
    a, b = outputs["ours"], outputs["st"]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    print(f"agreement: max |ours - st| = {np.abs(a - b).max():.2e}, min cosine = {cos.min():.8f}")
    rate = {k: len(texts) / v for k, v in med.items()}
    print(f"ours: {rate['ours']:.1f} sent/s (median {med['ours']:.2f}s of {args.runs})")
    print(f"st:   {rate['st']:.1f} sent/s (median {med['st']:.2f}s of {args.runs})")
    print(f"speedup: {rate['ours'] / rate['st']:.2f}x")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
