"""One place that makes a run reproducible: seeds, deterministic kernels, pinned threads.

Import this module before torch touches CUDA: cuBLAS reads ``CUBLAS_WORKSPACE_CONFIG`` once, when the
first handle is created, so it is set at import time rather than inside :func:`seed_everything`.
"""

from __future__ import annotations

import os
import random
import warnings

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
    """``auto`` → ``cuda`` when available, else ``cpu``; a CUDA request without CUDA is an error."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise BenchmarkError(f"device {requested!r} requested but no CUDA device is available")
    return requested


def bf16_autocast_ok(dev: torch.device) -> bool:
    """Whether ``torch.autocast`` accepts bf16 on ``dev``'s type (CUDA, CPU; not e.g. MPS on old torch)."""
    try:  # an unknown device type raises; a known one without bf16 warns and disables itself
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autocast(dev.type, dtype=torch.bfloat16):
                return torch.is_autocast_enabled(dev.type)
    except (RuntimeError, ValueError):
        return False
