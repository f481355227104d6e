"""The handful of MLflow writes a stage makes, straight into MLflow's own sqlite schema.

Every ``dvc repro`` stage is a new process, and ``MlflowClient`` on a sqlite store costs seconds
in each before the first row is written: ``import mlflow`` (GenAI, gateway, FastAPI, ...), then
SQLAlchemy's models and alembic's schema check. A stage needs none of that to write a few rows, so
:class:`SqliteStore` writes the same rows that ``SqlAlchemyStore`` (MLflow 3.17, schema revision
:data:`SCHEMA_REVISION`) writes for ``create_run``, ``log_batch``, ``set_terminated``, a status
``update_run`` and a local ``log_artifact``, and reads the few runs and tags a stage looks up, with
the stdlib's ``sqlite3``. The database stays MLflow's: MLflow creates and migrates it and every
reader (UI, ``MlflowClient``, ``benchmark compare``) reads it as before.

It only writes what it can write exactly as MLflow would. :func:`open_store` gives MLflow's client
(:class:`benchmark.mlflow_store.ClientStore`) unless the URI is a plain ``sqlite:///`` file that
exists at exactly the known schema revision; and any single call outside the plain cases (an
experiment that is new or deleted, a key MLflow would reject, a value it would truncate or reject, a
run that is no longer active, a param logged again with another value, an artifact store that is not
a local directory) is handed to that client, which then creates, raises, truncates or writes exactly
as it always did.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import posixpath
import re
import shutil
import sqlite3
import tempfile
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from benchmark.mlflow_store import ClientStore, Metric, Store, db_path, now_ms

# ``alembic_version`` of a database created or upgraded by MLflow 3.17.2 (requirements.lock).
# Another revision (an MLflow upgrade) means MLflow writes, until this module is checked against it.
SCHEMA_REVISION = "dc11669786a5"

# MLflow's limits and key rule (mlflow.utils.validation).
_MAX_KEY, _MAX_PARAM, _MAX_TAG = 250, 6000, 8000
_KEY = re.compile(r"^[/\w.\- :]*$")
_FLOAT_MAX = 1.7976931348623157e308  # SQL has no inf; MLflow stores +-inf as +-max float
_RUN_NAME = "mlflow.runName"
_ARTIFACT_TMP = ".artifact.uploading."  # mlflow.store.artifact.local_artifact_repo


class Fallback(Exception):
    """This call is not a plain case: MLflow's own client makes it."""


def open_store(uri: str) -> Store:
    """The store a stage writes ``uri`` through: the direct writer, MLflow's client behind it for the
    calls it hands over, where it can write; else MLflow's client alone (see module doc)."""
    client = ClientStore(uri)
    con = connect(uri)
    return client if con is None else SqliteStore(con, client)


def connect(uri: str) -> sqlite3.Connection | None:
    """A connection to ``uri``'s database if the direct writer can write it, else ``None``."""
    path = db_path(uri)
    if path is None or not os.path.isfile(path):
        return None  # a new database: MLflow creates and migrates it
    # Workspaces scope every query, and an active model id makes MLflow log model metrics too.
    if os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").strip().lower() in ("true", "1") \
            or os.environ.get("MLFLOW_WORKSPACE") or os.environ.get("MLFLOW_ACTIVE_MODEL_ID"):
        return None
    try:
        con = sqlite3.connect(path, timeout=20, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        (revision,) = con.execute("SELECT version_num FROM alembic_version").fetchone() or (None,)
    except sqlite3.Error:
        revision = None
    if revision != SCHEMA_REVISION:
        con.close()
        return None
    # MLflow's pragmas for sqlite sessions (mlflow.store.db.utils). The busy timeout is what makes
    # concurrent stages (`dvc queue start -j N`) wait for each other's short write transactions
    # instead of failing with "database is locked".
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA busy_timeout = 20000")
    return con


def _bad_key(key: str) -> bool:
    """Keys MLflow rejects (mlflow.utils.validation: name characters, path uniqueness, length)."""
    norm = posixpath.normpath(key)
    return (not _KEY.match(key) or len(key) > _MAX_KEY
            or norm != key or norm == "." or norm.startswith("..") or norm.startswith("/"))


def _sanitize(value: float) -> tuple[float, int]:
    """(stored value, is_nan) as ``SqlAlchemyStore.sanitize_metric_value``."""
    if math.isnan(value):
        return 0, 1
    if math.isinf(value):
        return (_FLOAT_MAX if value > 0 else -_FLOAT_MAX), 0
    return value, 0


def append_to_uri_path(uri: str, *paths: str) -> str:
    """``mlflow.utils.uri.append_to_uri_path`` for the cases a run's artifact URI needs."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.query:
        raise Fallback("artifact location with a query string")
    if not parsed.scheme:
        return posixpath.join(uri, *paths)
    if not parsed.path.startswith("/"):
        raise Fallback("relative artifact location URI")
    return urllib.parse.urlunparse(parsed._replace(path=posixpath.join(parsed.path, *paths)))


_Method = TypeVar("_Method", bound=Callable)


def _or_fallback(method: _Method) -> _Method:
    """The same call on the fallback store (MLflow's client) where the direct one raised
    :class:`Fallback`, which it does before it writes anything (a write transaction rolls back)."""

    @functools.wraps(method)
    def call(self: SqliteStore, *args: object) -> object:
        try:
            return method(self, *args)
        except Fallback:
            return getattr(self.fallback, method.__name__)(*args)

    return call  # type: ignore[return-value]


class SqliteStore:
    """:class:`benchmark.mlflow_store.Store` straight into MLflow's sqlite tables; ``fallback`` makes
    the calls outside the plain cases."""

    def __init__(self, con: sqlite3.Connection, fallback: Store) -> None:
        self.con = con
        self.fallback = fallback

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction, write-locked from the start (reads in it see no concurrent writer)."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def _active(self, con: sqlite3.Connection, run_id: str) -> None:
        row = con.execute("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
        if row is None or row[0] != "active":
            raise Fallback(f"run {run_id} is missing or deleted")

    @_or_fallback
    def experiment(self, name: str) -> str:
        row = self.con.execute("SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments "
                               "WHERE name = ?", (name,)).fetchone()
        if row is None or row[2] != "active" or row[1] is None:
            raise Fallback("a new or deleted experiment: MLflow creates it, or raises")
        return str(row[0])

    def find_runs(self, experiment_id: str, tags: Mapping[str, str],
                  statuses: Sequence[str]) -> list[tuple[str, str]]:
        """(id, status) of the active runs with every tag ``k`` = ``v`` and a status in ``statuses``,
        newest first: MLflow's ``search_runs(filter tags.`k` = 'v' and ..., order_by start_time DESC)``
        less the other statuses, ties broken by run id as MLflow does."""
        joins = "".join(f" JOIN tags t{i} ON t{i}.run_uuid = r.run_uuid AND t{i}.key = ? AND t{i}.value = ?"
                        for i in range(len(tags)))
        rows = self.con.execute(
            f"SELECT r.run_uuid, r.status FROM runs r{joins} "
            f"WHERE r.experiment_id = ? AND r.lifecycle_stage = 'active' "
            f"AND r.status IN ({','.join('?' * len(statuses))}) "
            "ORDER BY CASE WHEN r.start_time IS NULL THEN 1 ELSE 0 END, r.start_time DESC, r.run_uuid",
            (*(x for kv in tags.items() for x in kv), int(experiment_id), *statuses)).fetchall()
        return [(run_id, status) for run_id, status in rows]

    def tag(self, run_id: str, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM tags WHERE run_uuid = ? AND key = ?", (run_id, key)).fetchone()
        return row[0] if row else None

    @_or_fallback
    def create_run(self, experiment_id: str, run_name: str, tags: Mapping[str, str]) -> str:
        """``SqlAlchemyStore.create_run`` via ``MlflowClient.create_run`` (no tag validation there either)."""
        if _RUN_NAME in tags and tags[_RUN_NAME] != run_name:
            raise Fallback("run name and mlflow.runName tag differ")
        run_id = uuid.uuid4().hex
        start = now_ms()
        rows = {**tags, _RUN_NAME: run_name}
        with self._write() as con:
            row = con.execute("SELECT lifecycle_stage, artifact_location FROM experiments WHERE experiment_id = ?",
                              (int(experiment_id),)).fetchone()
            if row is None or row[0] != "active" or row[1] is None:
                raise Fallback(f"experiment {experiment_id} is missing or deleted")
            artifact_uri = append_to_uri_path(row[1], run_id, "artifacts")
            con.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
                "VALUES (?, ?, 'UNKNOWN', '', '', ?, 'RUNNING', ?, NULL, '', 'active', ?, ?, NULL)",
                (run_id, run_name, tags.get("mlflow.user", "unknown"), start, artifact_uri, int(experiment_id)))
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                            [(k, v, run_id) for k, v in rows.items()])
        return run_id

    @_or_fallback
    def log_metrics(self, run_id: str, items: Sequence[Metric]) -> None:
        self._log_batch(run_id, metrics=items)

    @_or_fallback
    def log_params(self, run_id: str, items: Sequence[tuple[str, str]]) -> None:
        self._log_batch(run_id, params=items)

    @_or_fallback
    def set_tags(self, run_id: str, items: Sequence[tuple[str, str]]) -> None:
        self._log_batch(run_id, tags=items)

    def _log_batch(self, run_id: str, metrics: Sequence[Metric] = (), params: Sequence[tuple[str, str]] = (),
                   tags: Sequence[tuple[str, str]] = ()) -> None:
        """``SqlAlchemyStore.log_batch``: params (never changed), metrics and their latest values, tags."""
        if any(not isinstance(v, str) for _, v in (*params, *tags)) \
                or any(_bad_key(k) for k, *_ in (*metrics, *params, *tags)) \
                or any(len(v) > _MAX_PARAM for _, v in params) or any(len(v) > _MAX_TAG for _, v in tags) \
                or any(k == _RUN_NAME for k, _ in tags) or len({k for k, _ in params}) != len(params):
            raise Fallback("a key or value MLflow would reject or truncate")
        rows, seen = [], set()
        for key, value, timestamp, step in metrics:
            if not isinstance(timestamp, int) or timestamp < 0 or not isinstance(step, int):
                raise Fallback("metric timestamp or step MLflow would store otherwise (e.g. numpy ints: as blobs)")
            stored, is_nan = _sanitize(float(value))
            if (key, stored, is_nan, timestamp, step) not in seen:
                seen.add((key, stored, is_nan, timestamp, step))
                rows.append((key, stored, timestamp, run_id, step, is_nan))
        with self._write() as con:
            self._active(con, run_id)
            if params:
                old = dict(con.execute("SELECT key, value FROM params WHERE run_uuid = ?", (run_id,)).fetchall())
                if any(k in old and old[k] != v for k, v in params):
                    raise Fallback("a param logged again with another value")
                con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                                [(k, v, run_id) for k, v in params if k not in old])
            if rows:
                con.executemany("INSERT OR IGNORE INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                                "VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._update_latest(con, run_id, rows)
            if tags:
                con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?) "
                                "ON CONFLICT (key, run_uuid) DO UPDATE SET value = excluded.value",
                                [(k, v, run_id) for k, v in tags])

    @staticmethod
    def _update_latest(con: sqlite3.Connection, run_id: str, rows: list[tuple]) -> None:
        # A key's latest value is its greatest (step, timestamp, value); the first of equals stays.
        best: dict[str, tuple] = {}
        for key, value, timestamp, _, step, is_nan in rows:
            if key not in best or (step, timestamp, value) > best[key][:3]:
                best[key] = (step, timestamp, value, is_nan)
        keys = sorted(best)
        old: dict[str, tuple] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            old.update((k, (s, t, v)) for k, s, t, v in con.execute(
                f"SELECT key, step, timestamp, value FROM latest_metrics WHERE run_uuid = ? "
                f"AND key IN ({','.join('?' * len(chunk))})", (run_id, *chunk)))
        con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [(k, v, t, s, n, run_id) for k, (s, t, v, n) in best.items() if k not in old])
        con.executemany("UPDATE latest_metrics SET value = ?, timestamp = ?, step = ?, is_nan = ? "
                        "WHERE run_uuid = ? AND key = ?",
                        [(v, t, s, n, run_id, k) for k, (s, t, v, n) in best.items()
                         if k in old and (s, t, v) > old[k]])

    @_or_fallback
    def set_terminated(self, run_id: str, status: str) -> None:
        with self._write() as con:
            self._active(con, run_id)
            con.execute("UPDATE runs SET status = ?, end_time = ? WHERE run_uuid = ?", (status, now_ms(), run_id))

    @_or_fallback
    def reopen(self, run_id: str) -> None:
        """``MlflowClient.update_run(run_id, status="RUNNING")``: the status only; MLflow keeps the
        old ``end_time`` (as ``mlflow.start_run(run_id=...)`` does) until the run ends again."""
        with self._write() as con:
            self._active(con, run_id)
            con.execute("UPDATE runs SET status = 'RUNNING' WHERE run_uuid = ?", (run_id,))

    @_or_fallback
    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None) -> None:
        """``LocalArtifactRepository.log_artifact`` of one file: an atomic copy under the run's artifacts."""
        row = self.con.execute("SELECT artifact_uri FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()
        uri = row[0] if row else None
        if not uri or not os.path.isfile(local_path) or (artifact_path and _bad_key(artifact_path)):
            raise Fallback("not a plain file artifact")
        parsed = urllib.parse.urlparse(uri)
        if parsed.scheme == "file" and parsed.netloc in ("", "localhost") and not parsed.query:
            root = urllib.request.url2pathname(urllib.parse.unquote(parsed.path))
        elif not parsed.scheme:
            root = uri
        else:
            raise Fallback("artifacts are not in a local directory")
        target_dir = os.path.join(root, os.path.normpath(artifact_path)) if artifact_path else root
        os.makedirs(target_dir, exist_ok=True)
        target = os.path.join(target_dir, os.path.basename(local_path))
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(local_path, target):
                return
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=_ARTIFACT_TMP)
        try:
            with os.fdopen(fd, "wb") as out, open(local_path, "rb") as src:
                shutil.copyfileobj(src, out)
            shutil.copystat(local_path, tmp)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)

    def close(self) -> None:
        self.con.close()
        self.fallback.close()
