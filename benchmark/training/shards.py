"""Whether ``n`` processes can split one global batch into equal shards: the rule the distributed
trainer enforces (:func:`benchmark.training.distributed.check_divisible`) and ``validate`` predicts
(``runtime.nproc_per_node``), kept free of torch so the gate can read it."""

from __future__ import annotations

from collections.abc import Sequence


def shard_problem(batch_size: int, rows_per_example: Sequence[int], n: int) -> str | None:
    """Why ``n`` ranks cannot split ``batch_size`` rows into equal shards, in rows and in examples (a
    mean over the batch equals the mean of per-rank means only then); None when they can."""
    if n <= 1:
        return None
    if batch_size % n:
        return f"training.batch_size={batch_size} is not divisible by the torchrun world size {n}"
    for k in sorted(set(rows_per_example)):
        if k > 1 and (batch_size // k) % n:
            return (f"training.batch_size={batch_size} holds {batch_size // k} examples of {k} rows, "
                    f"not divisible by the torchrun world size {n}")
    return None
