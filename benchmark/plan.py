"""What a profile will cost before anyone pays for it: runs, steps, tokens, and hours from a measured step.

``benchmark params --profile full --plan`` prints this. The step is measured, not assumed: one
optimizer step of the real XLM-R-large geometry (24 layers x 1024, 250k vocabulary, every layer
trainable, AdamW), random weights, on whatever device is present (bf16 autocast on CUDA). Its FLOP
rate converts each phase's FLOPs into hours. On a CPU the measured hours are CPU hours; GPU-hours
are then an estimate at an *assumed* utilisation of an H100/H200's bf16 peak, and say so.

FLOPs per trained token follow Kaplan et al. (2020): 6 x non-embedding parameters plus
6 x layers x sequence x width for attention, and for the MLM arms their head: the transform
(width x width) and the decoder over the 250k pieces (width x vocabulary), met by the masked tokens
only (15 %; with ``training.mlm_vocabulary: captions`` the decoder is smaller, so this is an upper
bound for it). The classifier heads (a few thousand outputs at most) are left out. Token counts are upper bounds: every row padded to the
phase's maximum length (real batches are padded only to their longest row).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from benchmark import paths
from benchmark.arms import parse_run
from benchmark.config import Params
from benchmark.targets import registry
from benchmark.training.objectives import MASK_PROB

XLMR_LARGE = {"vocab_size": 250002, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
              "intermediate_size": 4096, "max_position_embeddings": 514, "type_vocab_size": 1}
H100_BF16_PEAK = 989e12  # dense bf16 FLOP/s of an H100/H200 SXM (NVIDIA's data sheet, without sparsity)
ASSUMED_MFU = 0.40  # for a GPU estimate made without a GPU: a typical BERT-large bf16 training utilisation


@dataclass(frozen=True)
class Phase:
    name: str
    runs: int
    steps: int  # optimizer steps per run
    rows: int  # rows per step
    length: int  # tokens per row (upper bound)
    head_flops_per_token: float = 0.0  # the phase's head, beyond the encoder (the MLM decoder)

    @property
    def tokens(self) -> int:
        return self.steps * self.rows * self.length


def train_flops_per_token(geometry: dict[str, int], length: int) -> float:
    d, layers, ff = geometry["hidden_size"], geometry["num_hidden_layers"], geometry["intermediate_size"]
    non_embedding = layers * (4 * d * d + 2 * d * ff)
    return 6.0 * non_embedding + 6.0 * layers * length * d


def mlm_head_flops_per_token(geometry: dict[str, int]) -> float:
    """Training FLOPs per input token of the MLM head: 6 x (transform + decoder) parameters, at the
    masked tokens only (MaskedLM's mask probability)."""
    d, vocab = geometry["hidden_size"], geometry["vocab_size"]
    return 6.0 * (d * d + d * vocab) * MASK_PROB


def phases(params: Params) -> list[Phase]:
    """The training the profile runs, per phase: intermediate tasks (the MLM arms apart: their decoder
    costs more), then each target's fine-tuning protocol per evaluated run (SIB-200's, XTREME's)."""
    specs = [parse_run(r)[0] for r in params.arms]
    mlm = sum(s.trained and s.objective == "mlm" for s in specs)
    other = sum(s.trained for s in specs) - mlm
    t = params.training
    rows = t.batch_size * t.grad_accum
    out = [Phase("intermediate task", other, t.steps, rows, t.max_length)] if other else []
    if mlm:
        out.append(Phase("intermediate task (MLM: + its 250k decoder)", mlm, t.steps, rows, t.max_length,
                         mlm_head_flops_per_token(XLMR_LARGE)))
    for target in registry.active(params.profile):
        out += [Phase(f.name, len(params.arms), f.steps, f.rows, f.length)
                for f in target.fine_tuning(params, paths.DATA)]
    return out


def measure_step(device: str, rows: int, length: int, repeats: int = 1) -> dict[str, Any]:
    """Seconds of one AdamW step of XLM-R large (random init, all layers trainable) on ``rows`` x
    ``length`` tokens; bf16 autocast on CUDA, fp32 on CPU. One untimed warm-up step first."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = XLMRobertaModel(XLMRobertaConfig(**XLMR_LARGE), add_pooling_layer=False).to(dev).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    ids = torch.randint(5, XLMR_LARGE["vocab_size"], (rows, length), device=dev,
                        generator=torch.Generator(device=dev).manual_seed(0))
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda")

    def step() -> None:
        with autocast:
            hidden = model(input_ids=ids).last_hidden_state
        hidden.float().pow(2).mean().backward()  # stands in for the objective's head
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t0 = time.perf_counter()
    for _ in range(repeats):
        step()
    sync()
    seconds = (time.perf_counter() - t0) / repeats
    flops = train_flops_per_token(XLMR_LARGE, length) * rows * length
    out = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
           "precision": "bf16 autocast" if dev.type == "cuda" else "fp32", "rows": rows, "length": length,
           "seconds_per_step": seconds, "tokens_per_s": rows * length / seconds, "tflop_per_s": flops / seconds / 1e12,
           "parameters": sum(p.numel() for p in model.parameters())}
    if dev.type == "cuda":
        out["mfu_vs_989_tflops"] = flops / seconds / H100_BF16_PEAK
        out["peak_memory_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
    return out


def plan(params: Params, device: str, rows: int | None = None) -> dict[str, Any]:
    """The plan as a YAML-ready mapping: phases, their tokens and FLOPs, and hours from a measured step."""
    length = params.training.max_length
    rows = rows or (params.training.batch_size if device.startswith("cuda") else 4)
    measured = measure_step(device, rows, length)
    rate = measured["tflop_per_s"] * 1e12
    on_gpu = device.startswith("cuda")
    gpu_rate = rate if on_gpu else H100_BF16_PEAK * ASSUMED_MFU
    table, total = [], 0.0
    for ph in phases(params):
        flops = (train_flops_per_token(XLMR_LARGE, ph.length) + ph.head_flops_per_token) * ph.tokens
        gpu_hours = flops / gpu_rate / 3600
        total += gpu_hours * ph.runs
        table.append({"phase": ph.name, "runs": ph.runs, "steps_per_run": ph.steps, "rows_per_step": ph.rows,
                      "max_tokens_per_row": ph.length, "tokens_per_run_upper_bound": ph.tokens,
                      "pflop_per_run": round(flops / 1e15, 1),
                      "hours_per_run_on_this_device": round(flops / rate / 3600, 2),
                      "gpu_hours_per_run": round(gpu_hours, 2), "gpu_hours_all_runs": round(gpu_hours * ph.runs, 1)})
    basis = ("measured on this GPU" if on_gpu else
             f"estimated: H100/H200 bf16 peak {H100_BF16_PEAK / 1e12:.0f} TFLOP/s at an assumed "
             f"{ASSUMED_MFU:.0%} utilisation (no GPU here; run this on one to measure)")
    return {"profile": params.profile, "runs": len(params.arms),
            "trained_runs": sum(parse_run(r)[0].trained for r in params.arms),
            "measured_step": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in measured.items()},
            "phases": table, "gpu_hours_total": round(total, 1), "gpu_hours_basis": basis,
            "not_counted": "evaluation passes (forward only: embedding FLORES-200, SIB-200 and Tatoeba per run), "
                           "the classifier heads, the image tower (frozen, run once)"}
