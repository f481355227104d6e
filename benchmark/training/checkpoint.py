"""Training checkpoints: complete or absent, loadable without unpickling arbitrary objects.

A checkpoint is one directory ``step-<8 digits>/`` written through :func:`benchmark.io.atomic_dir`:

* ``encoder.safetensors`` - the text encoder's *trainable* tensors (names as in its ``BertModel``);
  frozen ones are the pretrained encoder's and are not copied into every checkpoint (with the top
  layer of e5-small training that is 7 MB instead of 470 MB);
* ``heads.safetensors``   - the objective's own heads (everything outside ``encoder.``);
* ``state.pt``            - optimizer, scheduler, step, loop state and every RNG state, as tensors
  and plain Python values only, read back with ``torch.load(..., weights_only=True)``.

Resuming restores all of it, so a run killed at any point and resumed from :func:`latest` ends with
the same bytes as one that never stopped.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from benchmark.io import atomic_dir, sha256_file

ENCODER_FILE = "encoder.safetensors"
HEADS_FILE = "heads.safetensors"
STATE_FILE = "state.pt"
_NAME = re.compile(r"^step-(\d{8})$")


def step_dir(root: Path | str, step: int) -> Path:
    return Path(root) / f"step-{step:08d}"


def latest(root: Path | str) -> Path | None:
    """The complete checkpoint with the highest step under ``root`` (``None`` if there is none).

    Half-written ones live in atomic_dir's hidden ``.step-*.tmp`` siblings and never match.
    """
    root = Path(root)
    if not root.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))
             and all((p / f).is_file() for f in (ENCODER_FILE, HEADS_FILE, STATE_FILE))]
    return max(found)[1] if found else None


def checkpoints(root: Path | str) -> list[Path]:
    """Every complete-looking checkpoint under ``root``, oldest first."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name)) if root.is_dir() else []


def remove_partial(root: Path | str) -> None:
    """Delete leftovers of checkpoints whose writer was killed mid-write."""
    root = Path(root)
    if root.is_dir():
        for p in root.glob(".step-*.tmp"):
            shutil.rmtree(p, ignore_errors=True)


def weights_sha256(ckpt: Path | str) -> str:
    """One digest over the checkpoint's weight files (encoder, then heads)."""
    ckpt = Path(ckpt)
    return "+".join(sha256_file(ckpt / f) for f in (ENCODER_FILE, HEADS_FILE))


# --- RNG states as tensors and plain values ------------------------------------------------------

def rng_state(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    version, words, gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    return {
        "python": {"version": version, "words": torch.tensor(words, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {name: g.get_state() for name, g in generators.items()},
    }


def set_rng_state(state: dict[str, Any], generators: dict[str, torch.Generator]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(w) for w in py["words"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state({
        "bit_generator": "MT19937",
        "state": {"key": npy["key"].numpy().astype(np.uint32), "pos": npy["pos"]},
        "has_gauss": npy["has_gauss"],
        "gauss": npy["gauss"],
    })
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if set(state["generators"]) != set(generators):
        raise ValueError(f"checkpoint holds generators {sorted(state['generators'])}, expected {sorted(generators)}")
    for name, g in generators.items():
        g.set_state(state["generators"][name])


# --- save / load ---------------------------------------------------------------------------------

def _tensors(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in sd.items()}


def save(root: Path | str, step: int, objective: torch.nn.Module, optimizer: torch.optim.Optimizer,
         scheduler: Any, generators: dict[str, torch.Generator], loop: dict[str, Any]) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically; ``loop`` holds the loop's own state."""
    sd = objective.state_dict()
    frozen = {name for name, p in objective.named_parameters() if not p.requires_grad}
    encoder = {k.removeprefix("encoder."): v for k, v in sd.items() if k.startswith("encoder.") and k not in frozen}
    heads = {k: v for k, v in sd.items() if not k.startswith("encoder.")}
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng_state(generators),
        "loop": loop,
    }
    path = step_dir(root, step)
    with atomic_dir(path) as tmp:
        save_file(_tensors(encoder), tmp / ENCODER_FILE, metadata={"format": "pt"})
        save_file(_tensors(heads), tmp / HEADS_FILE, metadata={"format": "pt"})
        torch.save(state, tmp / STATE_FILE)
    return path


def load_weights(ckpt: Path | str, objective: torch.nn.Module) -> None:
    """Copy the checkpoint's encoder and head weights into ``objective``.

    Strict both ways: every tensor in the files must exist in ``objective``, and every tensor of
    ``objective`` they lack must be a frozen encoder parameter (which keeps its pretrained value).
    """
    ckpt = Path(ckpt)
    sd = {f"encoder.{k}": v for k, v in load_file(ckpt / ENCODER_FILE).items()}
    sd.update(load_file(ckpt / HEADS_FILE))
    frozen = {name for name, p in objective.named_parameters() if not p.requires_grad}
    missing, unexpected = objective.load_state_dict(sd, strict=False)
    lacking = [k for k in missing if k not in frozen]
    if unexpected or lacking:
        raise ValueError(f"{ckpt}: does not match the model "
                         f"(unexpected: {unexpected[:3]}, missing trainable: {lacking[:3]})")


def load(ckpt: Path | str, objective: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
         generators: dict[str, torch.Generator]) -> tuple[int, dict[str, Any]]:
    """Restore everything :func:`save` wrote; return ``(step, loop state)``."""
    ckpt = Path(ckpt)
    load_weights(ckpt, objective)
    state = torch.load(ckpt / STATE_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"], generators)
    return int(state["step"]), state["loop"]


def loop_state(ckpt: Path | str) -> dict[str, Any]:
    """The loop's own state of a checkpoint (config, sampler, totals) without loading any weights."""
    return torch.load(Path(ckpt) / STATE_FILE, map_location="cpu", weights_only=True)["loop"]
