"""fp32 linear layers through oneDNN when nothing needs their gradient (inference on CPU).

Linear layers are ~80% of a transformer layer's time on CPU. PyTorch's default CPU path for them
(``addmm`` into MKL's sgemm) reached ~150 GFLOPS on e5-small's shapes on the 2-core x86-64 VM this
benchmark targets; oneDNN's fp32 matmul, the kernel ``torch.compile``'s CPU backend emits for the
same op, reached ~200: ≈ 1.1x for the whole encoder (``scripts/bench_layer.py``). Every embedding
pass, the frozen bottom and the held-out evaluations run without autograd, so they take it;
training (autograd) keeps PyTorch's kernels. Both are exact fp32 and deterministic at a fixed
thread count, and differ from each other in the last bits only (max |Δ| ≈ 1e-6 on e5 layers);
:func:`kernel` names the one in use for the run's tags.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn

_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
_state = {"onednn": _ONEDNN}


class InferenceLinear(nn.Linear):
    """An ``nn.Linear`` (same parameters, same state dict) whose gradient-free fp32 CPU calls go
    through oneDNN; anything else (autograd, CUDA, other dtypes) is ``nn.Linear`` itself."""

    def forward(self, x: Tensor) -> Tensor:
        if (_state["onednn"] and not torch.is_grad_enabled() and x.device.type == "cpu"
                and x.dtype == self.weight.dtype == torch.float32):
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, "none", [], "")
        return super().forward(x)


def use_onednn(model: nn.Module) -> nn.Module:
    """Turn every plain ``nn.Linear`` of ``model`` into an :class:`InferenceLinear`, in place.

    Only the class changes (parameters, buffers, hooks and state-dict keys stay as they are), so
    checkpoints, optimizers and weight hashes do not see the difference.
    """
    for module in model.modules():
        if type(module) is nn.Linear:
            module.__class__ = InferenceLinear
    return model


def kernel() -> str:
    """The kernel gradient-free fp32 CPU linears run on: ``onednn`` or ``aten`` (PyTorch's own)."""
    return "onednn" if _state["onednn"] else "aten"


@contextlib.contextmanager
def aten_kernels() -> Iterator[None]:
    """PyTorch's own linear kernels inside the block (for benchmarks and tests that compare the two)."""
    before = _state["onednn"]
    _state["onednn"] = False
    try:
        yield
    finally:
        _state["onednn"] = before
