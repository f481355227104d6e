"""Where a stage's MLflow writes go: the :class:`Store` interface, and :class:`ClientStore`, MLflow's own
client behind it.

:func:`benchmark.mlflow_sqlite.open_store` picks the implementation once per stage: the direct sqlite
writer (:class:`benchmark.mlflow_sqlite.SqliteStore`) where it can write exactly what MLflow would, else
this one, which also makes every single call the direct writer hands over. Either way the same rows.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from benchmark import paths

try:
    import fcntl
except ImportError:  # Windows: no flock; concurrent first writers of a new store are not serialised there
    fcntl = None  # type: ignore[assignment]

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow's documented limits on one log_batch call: per-language metrics exceed the first.
_METRICS_PER_BATCH, _PARAMS_PER_BATCH = 1000, 100

Metric = tuple[str, float, int, int]  # key, value, timestamp (ms), step


def now_ms() -> int:
    return int(time.time() * 1000)  # mlflow.utils.time.get_current_time_millis


def db_path(uri: str) -> str | None:
    """The file of a plain ``sqlite:///<path>`` URI (relative or absolute), else ``None``."""
    if not uri.startswith("sqlite:///") or "?" in uri:
        return None
    path = uri[len("sqlite:///"):]
    return path if path and path != ":memory:" else None


class Store(Protocol):
    """The MLflow calls a stage makes; ``run_id``s and ``experiment_id``s are MLflow's."""

    def experiment(self, name: str) -> str:
        """The id of experiment ``name``, created where there is none."""

    def find_runs(self, experiment_id: str, tags: Mapping[str, str],
                  statuses: Sequence[str]) -> list[tuple[str, str]]:
        """(id, status) of the runs tagged with every ``tags`` item and in one of ``statuses``, newest first."""

    def tag(self, run_id: str, key: str) -> str | None: ...

    def create_run(self, experiment_id: str, run_name: str, tags: Mapping[str, str]) -> str: ...

    def log_metrics(self, run_id: str, items: Sequence[Metric]) -> None: ...

    def log_params(self, run_id: str, items: Sequence[tuple[str, str]]) -> None: ...

    def set_tags(self, run_id: str, items: Sequence[tuple[str, str]]) -> None: ...

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None) -> None: ...

    def set_terminated(self, run_id: str, status: str) -> None: ...

    def reopen(self, run_id: str) -> None:
        """Status RUNNING again, as ``mlflow.start_run(run_id=...)`` resumes a run."""

    def close(self) -> None: ...


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Held while MLflow may create a sqlite store or its experiment: an exclusive ``flock`` on
    ``<database>.lock`` beside the database (no-op for any other URI).

    MLflow's ``SqlAlchemyStore`` creates a missing database's tables and runs its migrations with no
    lock between processes, and ``create_experiment`` fails for all but one of several processes that
    create the same experiment. Two queued experiments start their first MLflow stage at the same
    moment on a new store, so one of them failed with ``duplicate column name: step`` (two alembic
    upgrades of one file). Stages of one checkout share the store's directory, so the lock lives there."""
    path = db_path(uri)
    if path is None or fcntl is None:
        yield
        return
    lock = Path(path).expanduser().parent
    lock.mkdir(parents=True, exist_ok=True)
    with open(lock / f"{Path(path).name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server_managed(uri: str) -> bool:
    """A tracking server (``http(s)://``, Databricks): it chooses where artifacts go."""
    return uri.split(":", 1)[0].lower() in ("http", "https", "databricks")


class ClientStore:
    """:class:`Store` through ``MlflowClient``: any tracking URI (a server, a new sqlite file)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._client: Any = None

    @property
    def client(self) -> Any:
        """MLflow's client, imported on first use only: ``import mlflow`` costs seconds in every stage
        process, and a stage on the direct sqlite writer may never need it."""
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def experiment(self, name: str) -> str:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

        # A server stores artifacts where it was told to (`mlflow server --artifacts-destination`, proxied
        # to every client); a path on this machine would leave each teammate's artifacts on their own disk.
        artifacts = None if _server_managed(self.uri) else (paths.main_repo_root() / "mlruns" / "artifacts").as_uri()
        with _store_lock(self.uri):  # queued experiments may get here at once on a new store
            exp = self.client.get_experiment_by_name(name)  # on a new sqlite store: MLflow creates it
            if exp is not None:
                return exp.experiment_id
            try:
                return self.client.create_experiment(name, artifact_location=artifacts)
            except MlflowException as err:  # a store without our lock (a server): another worker won
                if err.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                    raise
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    raise
                return exp.experiment_id

    def find_runs(self, experiment_id: str, tags: Mapping[str, str],
                  statuses: Sequence[str]) -> list[tuple[str, str]]:
        found = self.client.search_runs(  # attributes.status takes no IN list: statuses filtered here
            [experiment_id],
            filter_string=" and ".join(f"tags.`{k}` = '{v}'" for k, v in tags.items()),
            order_by=["attributes.start_time DESC"],
        )
        return [(run.info.run_id, run.info.status) for run in found if run.info.status in statuses]

    def tag(self, run_id: str, key: str) -> str | None:
        return self.client.get_run(run_id).data.tags.get(key)

    def create_run(self, experiment_id: str, run_name: str, tags: Mapping[str, str]) -> str:
        return self.client.create_run(experiment_id, run_name=run_name, tags=dict(tags)).info.run_id

    def log_metrics(self, run_id: str, items: Sequence[Metric]) -> None:
        from mlflow.entities import Metric as Entity

        metrics = [Entity(*item) for item in items]
        for i in range(0, len(metrics), _METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + _METRICS_PER_BATCH])

    def log_params(self, run_id: str, items: Sequence[tuple[str, str]]) -> None:
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in items]
        for i in range(0, len(params), _PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=params[i : i + _PARAMS_PER_BATCH])

    def set_tags(self, run_id: str, items: Sequence[tuple[str, str]]) -> None:
        for k, v in items:
            self.client.set_tag(run_id, k, v)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None) -> None:
        self.client.log_artifact(run_id, local_path, artifact_path)

    def set_terminated(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status=status)

    def reopen(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

    def close(self) -> None:
        """Nothing to release: ``MlflowClient`` has no close."""
