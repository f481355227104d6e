"""Training checkpoints: complete or absent, loadable without unpickling arbitrary objects.

A checkpoint is one directory ``step-<8 digits>/`` written through :func:`benchmark.io.atomic_dir`:

* ``encoder.safetensors`` - the text encoder's *trainable* tensors (names as in its ``BertModel``);
  frozen ones are the pretrained encoder's and are not copied into every checkpoint (with the top
  layer of e5-small training that is 7 MB instead of 470 MB);
* ``heads.safetensors``   - the objective's own heads (everything outside ``encoder.``);
* ``state.pt``            - optimizer, scheduler, step, loop state and every RNG state, as tensors
  and plain Python values only, read back with ``torch.load(..., weights_only=True)``;
* ``sha256.json``         - each of those files' sha256, written with them: :func:`verify` checks
  them before anything is resumed, selected or exported, so a file changed on disk (a flipped
  byte, a truncated copy) is never trained on or shipped silently.

Resuming restores all of it, so a run killed at any point and resumed from :func:`latest` ends with
the same bytes as one that never stopped; a corrupted newest checkpoint is passed over, saying so,
for the newest intact one (or a fresh start).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from benchmark.io import BenchmarkError, atomic_dir, recover_dir, sha256_file, warn
from benchmark.paths import ENCODER_FILE

HEADS_FILE = "heads.safetensors"
STATE_FILE = "state.pt"
SUMS_FILE = "sha256.json"
WEIGHT_FILES = (ENCODER_FILE, HEADS_FILE)
_NAME = re.compile(r"^step-(\d{8})$")


@contextlib.contextmanager
def exclusive(root: Path | str) -> Iterator[None]:
    """Hold ``.<root name>.lock`` beside ``root`` for the block: a second training of the same run (a
    rerun while an orphaned one still trains) is refused in one line instead of writing checkpoints
    beside it. The kernel releases the lock when its holder dies, so a killed run never blocks the
    next. Beside the folder, not in it: the folder is a DVC output and stays byte-identical."""
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(f".{root.name}.lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchmarkError(f"{root}: another training of this run is writing here; let it finish "
                                 "or stop it (`pkill -f 'benchmark train'`) before rerunning") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def step_dir(root: Path | str, step: int) -> Path:
    return Path(root) / f"step-{step:08d}"


def latest(root: Path | str) -> Path | None:
    """The newest complete and intact checkpoint under ``root`` (``None`` if there is none).

    Half-written ones live in atomic_dir's hidden ``.step-*.tmp`` siblings and never match; one whose
    files fail :func:`verify` is skipped with a warning naming the file, and the one before it is used.
    """
    root = Path(root)
    if not root.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))
                    and all((p / f).is_file() for f in (*WEIGHT_FILES, STATE_FILE))), reverse=True)
    for _, path in found:
        try:
            verify(path, (*WEIGHT_FILES, STATE_FILE))
        except BenchmarkError as err:
            warn(f"{err}; passing over this checkpoint for the one before it")
            continue
        return path
    return None


def verify(ckpt: Path | str, files: tuple[str, ...] = WEIGHT_FILES) -> None:
    """Raise a one-line :class:`BenchmarkError` naming the first of ``files`` whose sha256 is not the
    one written with the checkpoint (or that is missing, or a checkpoint without its checksums)."""
    ckpt = Path(ckpt)
    try:
        sums = json.loads((ckpt / SUMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BenchmarkError(f"{ckpt / SUMS_FILE}: checksums unreadable ({type(err).__name__}): "
                             "the checkpoint cannot be verified") from None
    for name in files:
        path = ckpt / name
        if name not in sums or not path.is_file():
            raise BenchmarkError(f"{path}: missing from the checkpoint")
        actual = sha256_file(path)
        if actual != sums[name]:
            raise BenchmarkError(f"{path}: corrupted (sha256 {actual[:12]}..., written as {sums[name][:12]}...)")


def checkpoints(root: Path | str) -> list[Path]:
    """Every complete-looking checkpoint under ``root``, oldest first."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name)) if root.is_dir() else []


def remove_partial(root: Path | str) -> None:
    """Delete leftovers of checkpoints whose writer was killed mid-write (a checkpoint it was
    replacing comes back: :func:`benchmark.io.recover_dir`)."""
    root = Path(root)
    if root.is_dir():
        for p in root.glob(".step-*.old"):
            recover_dir(root / p.name.split(".")[1])
        for p in root.glob(".step-*.tmp"):
            shutil.rmtree(p, ignore_errors=True)


def weights_sha256(ckpt: Path | str) -> str:
    """One digest over the checkpoint's weight files (encoder, then heads)."""
    ckpt = Path(ckpt)
    return "+".join(sha256_file(ckpt / f) for f in WEIGHT_FILES)


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
        sums = {name: sha256_file(tmp / name) for name in (*WEIGHT_FILES, STATE_FILE)}
        (tmp / SUMS_FILE).write_text(json.dumps(sums, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_weights(ckpt: Path | str, objective: torch.nn.Module) -> None:
    """Copy the checkpoint's encoder and head weights into ``objective``.

    Strict both ways: every tensor in the files must exist in ``objective``, and every tensor of
    ``objective`` they lack must be a frozen encoder parameter (which keeps its pretrained value).
    """
    ckpt = Path(ckpt)
    verify(ckpt)
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
    verify(ckpt, (*WEIGHT_FILES, STATE_FILE))
    load_weights(ckpt, objective)
    state = torch.load(ckpt / STATE_FILE, map_location="cpu", weights_only=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"], generators)
    return int(state["step"]), state["loop"]


def loop_state(ckpt: Path | str) -> dict[str, Any]:
    """The loop's own state of a checkpoint (config, sampler, totals) without loading any weights."""
    return torch.load(Path(ckpt) / STATE_FILE, map_location="cpu", weights_only=True)["loop"]
