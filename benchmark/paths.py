"""Where each stage reads and writes, relative to the repo root (DVC runs stages from there), and which
checkout that root belongs to."""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path("data")
BUNDLE = DATA / "bundle"
ARTIFACTS = Path("artifacts")
METRICS = Path("metrics")
RESULTS = Path("results")
PARAMS = Path("params.yaml")
VALIDATE = ARTIFACTS / "validate"  # the params gate every stage depends on (stage ``validate``)
CHECKPOINTS = Path("checkpoints")
ENCODER_FILE = "encoder.safetensors"  # a run's trained encoder tensors, in its checkpoints and its model


def runs() -> Path:
    """One JSON per run: its arm spec and training seed (stage ``runs``)."""
    return ARTIFACTS / "runs"


def image_features() -> Path:
    return ARTIFACTS / "image_features.safetensors"


def frozen() -> Path:
    """The frozen bottom's hidden states for every evaluation text (stage ``frozen``)."""
    return ARTIFACTS / "frozen"


def task_states() -> Path:
    """The frozen bottom's states for the textual runs' English rows (stage ``task-states``)."""
    return ARTIFACTS / "task_states"


def model(run: str) -> Path:
    """A run's trained tensors (the top layers and the objective's heads) after training."""
    return ARTIFACTS / "models" / run


def checkpoints(run: str) -> Path:
    return CHECKPOINTS / run


def predictions(target: str, run: str) -> Path:
    """A run's per-item predictions on one target (stage ``evaluate``)."""
    return ARTIFACTS / "predictions" / run / f"{target}.parquet"


def evaluation(run: str, name: str) -> Path:
    """A run's metrics on one target, or ``embed`` (stage ``evaluate``)."""
    return METRICS / "evaluate" / run / f"{name}.json"


def per_language(target: str, run: str) -> Path:
    return METRICS / "evaluate" / run / f"{target}.per_language.csv"


def stage_metrics(stage: str, run: str) -> Path:
    return METRICS / stage / f"{run}.json"


def cache_dir() -> Path:
    """Shared by every checkout of the repo (also ``dvc exp run --temp`` copies); overridable."""
    env = os.environ.get("BENCHMARK_CACHE_DIR")
    return Path(env) if env else main_repo_root() / "cache" / "embeddings"


def temp_workspace_owner(here: Path) -> Path | None:
    """The checkout that owns ``here`` when ``here`` lies in one of DVC's temporary experiment
    workspaces (``<checkout>/.dvc/tmp/exps/tmpXXXX``: ``dvc exp run --temp``, and every queued
    experiment run by ``dvc queue start``), else ``None``."""
    parts = here.parts
    for i in range(len(parts) - 3):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return None


def main_repo_root(start: Path | None = None) -> Path:
    """The user's checkout, even inside ``dvc exp run --temp``'s copy under ``.dvc/tmp/exps``."""
    here = (start or Path.cwd()).resolve()
    owner = temp_workspace_owner(here)
    if owner is not None:
        return owner
    for candidate in (here, *here.parents):
        if (candidate / "dvc.yaml").exists() or (candidate / ".git").exists():
            return candidate
    return here
