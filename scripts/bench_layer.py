#!/usr/bin/env python
"""Throughput of the e5-small encoder with oneDNN linears (the default) vs PyTorch's own kernels.

Same weights, texts, batches and threads; runs alternate (onednn, aten, onednn, ...) so drift hits
both; medians are reported, with the largest difference between the two embeddings. Texts are
sampled evenly across every FLORES-200 language (see ``bench_encode.py``).

    python scripts/bench_layer.py [-n 1024] [--batch-size 32] [--runs 3] [--threads 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "scripts"))

from bench_encode import alternate, setup  # noqa: E402

from benchmark.models import fast_linear  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args, texts, n_langs, enc = setup(__doc__, argv)
    tokens = sum(len(x) for x in enc.tokenizer([args.prefix + t for t in texts])["input_ids"])
    print(f"{len(texts)} sentences from {n_langs} languages, {tokens} tokens; batch {args.batch_size}; "
          f"threads {torch.get_num_threads()}; default kernel: {fast_linear.kernel()}")

    def embed() -> np.ndarray:
        return enc.embed(texts, prefix=args.prefix, batch_size=args.batch_size)

    def aten() -> np.ndarray:
        with fast_linear.aten_kernels():
            return embed()

    embed(), aten()  # warm-up: first-call allocations and kernel selection are not throughput
    med, out = alternate({"onednn": embed, "aten": aten}, args.runs)
    for name, seconds in med.items():
        print(f"{name}: {len(texts) / seconds:.1f} sent/s, {12 * tokens / seconds:,.0f} layer-tokens/s "
              f"(median {seconds:.2f}s of {args.runs})")
    print(f"speed-up {med['aten'] / med['onednn']:.2f}x; max |onednn - aten| = "
          f"{np.abs(out['onednn'] - out['aten']).max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
