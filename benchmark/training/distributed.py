"""Data parallelism across processes started by ``torchrun``: PyTorch's own DDP, and the few helpers
that keep one run's result the single-process one.

Every rank draws the SAME global batch from the seeded sampler, builds it whole, lets the objective
prepare it (MLM draws its masks there, over the global batch) and keeps its 1/world share of the
rows (:func:`shard`); DDP averages the gradients. A loss that couples rows is computed over the
global batch: InfoNCE gathers the embeddings (:func:`gather_rows`), a mean over tokens divides by the
global token count (:func:`total`). Outside a sharded loop (:func:`sharding`) every helper is the
identity, so a single-process run computes exactly what it did before.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import signal
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor

from benchmark.io import BenchmarkError
from benchmark.training.shards import shard_problem

_REFUSE_WAIT_S = 60
_sharded = 1  # the world size while a training loop runs sharded; 1 otherwise (see sharding())


def world() -> int:
    """Processes training this run: torchrun's ``WORLD_SIZE`` (or an initialised group's size)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def local_device(device: str) -> str:
    """``cuda`` means this rank's own GPU (``LOCAL_RANK``) under torchrun; anything else as given."""
    if world() > 1 and device == "cuda":
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def refuse(message: str) -> None:
    """Stop every rank over a bad setting with ONE line: rank 0 raises it (the CLI prints it); the
    others say nothing and wait for torchrun, which stops the remaining ranks once one has failed
    (SIGTERM, here with its default action: no "terminated" line from them either). Alone, or if
    nothing stops them, they exit with the status the CLI gives an error."""
    if rank() == 0:
        raise BenchmarkError(message)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    time.sleep(_REFUSE_WAIT_S)
    raise SystemExit(2)


def check_divisible(batch_size: int, rows_per_example: Sequence[int], n: int) -> None:
    """Refuse a global batch that ``n`` ranks cannot split into equal shards (:mod:`benchmark.training.shards`)."""
    problem = shard_problem(batch_size, rows_per_example, n)
    if problem is not None:
        refuse(problem)


def start(device: torch.device) -> bool:
    """Join torchrun's process group (nccl on CUDA, gloo on CPU); True if this call created it."""
    if world() <= 1 or dist.is_initialized():
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                            timeout=datetime.timedelta(minutes=30))
    return True


def finish(owned: bool, *, barrier: bool = True) -> None:
    """All ranks end together (rank 0 has written its last checkpoint); leave the group if ours."""
    if barrier:
        dist.barrier()
    if owned:
        dist.destroy_process_group()


@contextlib.contextmanager
def sharding(n: int) -> Iterator[None]:
    """Objectives see ``n`` ranks (:func:`sharded_world`) inside this block only: an evaluation pass
    on one rank after training must not wait for ranks that are not there."""
    global _sharded
    previous, _sharded = _sharded, n
    try:
        yield
    finally:
        _sharded = previous


def sharded_world() -> int:
    return _sharded


def shard(batch: dict[str, Any], r: int, n: int) -> dict[str, Any]:
    """Rank ``r``'s contiguous 1/n of a global batch. Row tensors (``[B*k, ...]``) and example tensors
    (``[B, ...]``, e.g. a k-way choice's labels) are cut at the same example boundaries; other values
    pass through. The padded width stays the global batch's, as in a single-process step."""
    rows = len(batch["input_ids"])
    k = int(batch.get("num_choices", 1))
    examples = rows // k
    lo, hi = examples * r // n, examples * (r + 1) // n
    out = {}
    for key, value in batch.items():
        if not isinstance(value, Tensor):
            out[key] = value
        elif len(value) == rows:
            out[key] = value[lo * k : hi * k]
        elif len(value) == examples:
            out[key] = value[lo:hi]
        else:
            raise ValueError(f"batch[{key!r}] has {len(value)} entries for {examples} examples of {k} rows")
    return out


def gather_rows(x: Tensor) -> Tensor:
    """Every rank's rows of ``x`` in rank order (= the global batch's order), with autograd: the
    backward sums each rank's gradient for these rows, so with every rank computing the same global
    loss a row's gradient is world x its single-process one, and DDP's average divides that out."""
    if _sharded <= 1:
        return x
    from torch.distributed.nn.functional import all_gather

    with warnings.catch_warnings():  # torch 2.13 points to a private module instead; this one works
        warnings.filterwarnings("ignore", "torch.distributed.nn.functional.all_gather is deprecated",
                                FutureWarning)
        return torch.cat(all_gather(x), dim=0)


def total(x: Tensor) -> Tensor:
    """Sum of ``x`` over ranks (e.g. the global batch's token count); ``x`` itself alone."""
    if _sharded <= 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x


def mean_stats(stats: dict[str, float], device: torch.device) -> dict[str, float]:
    """Each stat averaged over ranks. Objectives report, per rank, values whose average is the global
    batch's (row means over equal shards; token counts rescaled by the world, see :func:`total`)."""
    keys = sorted(stats)
    values = torch.tensor([stats[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(values)
    return dict(zip(keys, (values / dist.get_world_size()).tolist()))


def rank_seed(seed: int, r: int) -> int:
    """The global RNG's seed on rank ``r`` (dropout): rank 0 keeps ``seed`` (a one-rank run is the
    single-process run), the others get independent streams, not copies of rank 0's masks."""
    return seed if r == 0 else int(np.random.SeedSequence([seed, r]).generate_state(1, np.uint64)[0] >> 1)


def _own_rng(device: torch.device) -> dict[str, Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def rng_states(device: torch.device) -> list[dict[str, Tensor]]:
    """Every rank's global-RNG state (its dropout stream), for rank 0's checkpoint."""
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, {k: v.cpu() for k, v in _own_rng(device).items()})
    return states


def set_rng_state(states: list[dict[str, Tensor]], device: torch.device) -> None:
    """Restore this rank's global-RNG state from what :func:`rng_states` saved."""
    mine = states[dist.get_rank()]
    torch.set_rng_state(mine["torch"])
    if "cuda" in mine:
        torch.cuda.set_rng_state(mine["cuda"], device)
