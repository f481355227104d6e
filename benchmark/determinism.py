"""One place that makes a run reproducible: seeds, deterministic kernels, pinned threads.

Import this module before torch touches CUDA: cuBLAS reads ``CUBLAS_WORKSPACE_CONFIG`` once, when the
first handle is created, so it is set at import time rather than inside :func:`seed_everything`.
"""

from __future__ import annotations

import fcntl
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import IO

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmark.io import BenchmarkError  # noqa: E402


def seed_everything(seed: int, threads: int) -> torch.Generator:
    """Seed every RNG, force deterministic kernels and pin the thread count; return a seeded generator.

    Thread count matters for bit-identity on CPU: reductions are split per thread, so a different
    count can change the last bits of a sum.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; a CUDA request without CUDA is an error. On a
    machine with several GPUs, a plain ``cuda`` outside torchrun is this process's own GPU
    (:func:`claim_gpu`), so that concurrent stages (``dvc queue start -j N``) do not all land on cuda:0."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise BenchmarkError(f"device {requested!r} requested but no CUDA device is available")
    if requested == "cuda" and "WORLD_SIZE" not in os.environ and (count := torch.cuda.device_count()) > 1:
        return f"cuda:{claim_gpu(count)}"
    return requested


_HELD: list[IO[str]] = []  # the claimed GPU's lock file, open (so held) until the process ends


def claim_gpu(count: int, folder: Path | None = None, poll_s: float = 2.0) -> int:
    """The index of the first of ``count`` GPUs that no other process on this machine has claimed: an
    exclusive ``flock`` on ``<folder>/benchmark-gpu-<i>.lock`` (``$BENCHMARK_GPU_LOCKS``, else the temp
    folder), held until this process exits (the kernel releases it even after a kill). Claimed once per
    process; with every GPU claimed, it waits for one."""
    if _HELD:
        return int(Path(_HELD[0].name).stem.rsplit("-", 1)[1])
    folder = Path(folder or os.environ.get("BENCHMARK_GPU_LOCKS") or tempfile.gettempdir())
    waited = False
    while True:
        for i in range(count):
            handle = (folder / f"benchmark-gpu-{i}.lock").open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            _HELD.append(handle)
            return i
        if not waited:
            print(f"benchmark: all {count} GPUs are claimed by other benchmark processes; waiting for one",
                  file=sys.stderr)
            waited = True
        time.sleep(poll_s)


def bf16_autocast_ok(dev: torch.device) -> bool:
    """Whether ``torch.autocast`` accepts bf16 on ``dev``'s type (CUDA, CPU; not e.g. MPS on old torch)."""
    try:  # an unknown device type raises; a known one without bf16 warns and disables itself
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                return torch.is_autocast_enabled(dev.type)
    except (RuntimeError, ValueError):
        return False
