"""Tracking URI resolution and MLflow run structure on a real sqlite store."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import pytest

from benchmark.config import resolve
from benchmark.paths import main_repo_root
from benchmark.tracking import stage_run, tracking_uri


def test_main_repo_root_escapes_dvc_temp_copies(tmp_path: Path) -> None:
    temp_copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc123"
    temp_copy.mkdir(parents=True)
    assert main_repo_root(temp_copy) == tmp_path / "repo"
    assert main_repo_root(temp_copy / "sub") == tmp_path / "repo"


def test_tracking_uri_is_absolute_and_overridable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = resolve({"profile": "tiny"})
    assert tracking_uri(params) == f"sqlite:///{tmp_path}/mlruns/mlflow.db"
    assert tracking_uri(resolve({"profile": "tiny", "tracking": {"uri": "sqlite:////x/y.db"}})) == "sqlite:////x/y.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere.db")
    assert tracking_uri(params) == "sqlite:////elsewhere.db"


def test_stages_nest_under_one_parent_until_report_closes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    params = resolve({"profile": "tiny"})
    with stage_run("a", params, "cpu") as a:
        a.log_metrics({f"m.{i}": float(i) for i in range(1500)})  # more than one MLflow batch
    with stage_run("report", params, "cpu", close_parent=True):
        pass
    with stage_run("a", params, "cpu"):  # the next pipeline run opens a new parent
        pass
    with pytest.raises(RuntimeError), stage_run("b", params, "cpu"):
        raise RuntimeError("stage crashed")

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("flores-transfer").experiment_id])
    parents = [r for r in runs if r.data.tags.get("pipeline.role") == "parent"]
    assert len(parents) == 2
    failed_parent, closed = sorted(parents, key=lambda r: r.info.status)
    assert (closed.info.status, failed_parent.info.status) == ("FINISHED", "FAILED")  # a failed stage ends it
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == closed.info.run_id]
    assert sorted(r.info.run_name for r in children) == ["a", "report"]
    first = next(r for r in children if r.info.run_name == "a")
    assert len(first.data.metrics) == 1500 and first.data.metrics["m.1499"] == 1499.0
    assert first.data.params["encoder.source"] == "random"
    failed = [r for r in runs if r.info.run_name == "b"]
    assert failed[0].info.status == "FAILED"
    assert failed[0].data.tags["mlflow.parentRunId"] == failed_parent.info.run_id


def _tracked(client, run_id: str) -> dict:
    """Everything MLflow reads back of a run, without what differs between two runs by design."""
    run = client.get_run(run_id)
    info = run.info
    history = {k: sorted((m.step, m.timestamp, repr(m.value)) for m in client.get_metric_history(run_id, k))
               for k in run.data.metrics}
    tags = {k: v for k, v in run.data.tags.items() if k != "mlflow.parentRunId"}
    metrics = {k: repr(v) for k, v in run.data.metrics.items()}  # NaN compares by its repr
    return {"name": info.run_name, "status": info.status, "lifecycle": info.lifecycle_stage, "user": info.user_id,
            "artifact_uri": info.artifact_uri.replace(run_id, "<id>"), "ended": info.end_time is not None,
            "experiment": info.experiment_id, "tags": tags, "params": run.data.params, "metrics": metrics,
            "history": history, "artifacts": sorted(f.path for f in client.list_artifacts(run_id, "out")),
            "parent": client.get_run(run.data.tags["mlflow.parentRunId"]).info.run_name}


def test_direct_sqlite_writes_what_mlflow_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same stage through MlflowClient and through the direct sqlite writer: identical runs."""
    import math

    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from benchmark import mlflow_sqlite, mlflow_store

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    params = resolve({"profile": "tiny"})
    client = MlflowClient(uri)
    client.create_experiment(params.tracking.experiment, artifact_location=(tmp_path / "artifacts").as_uri())

    def stage(name: str) -> str:
        with stage_run(name, params, "cpu", tags={"arm": "x"}) as run_:
            assert isinstance(run_.store, mlflow_sqlite.SqliteStore) == (name == "direct")
            run_.log_metrics({"m.a": 1.5, "m.nan": float("nan"), "m.inf": math.inf, "m.ninf": -math.inf})
            for step in (2, 1, 3):
                run_.log_metrics({"train.loss": 1.0 / step}, step=step)
            run_.log_metrics({"train.loss": 9.0}, step=2)  # not the latest: a lower step
            run_.log_params({"arm.objective": "contrastive", "long": "v" * 7000})
            run_.log_params({"arm.objective": "contrastive"})  # the same value again is fine
            run_.set_tags({"weights_sha256": "ab" * 32, "checkpoint": "checkpoints/x/step-6"})
            run_.set_tags({"checkpoint": "checkpoints/x/step-3"})  # overwritten
            run_.log_artifact(tmp_path / "table.csv", "out")
            with pytest.raises(MlflowException):  # MLflow's rules hold on either path
                run_.log_metrics({"a/../b": 1.0})
            with pytest.raises(MlflowException):
                run_.log_params({"arm.objective": "mlm"})
            return run_.run_id

    with monkeypatch.context() as m:
        m.setattr(mlflow_sqlite, "connect", lambda uri: None)
        via_mlflow = stage("mlflow")
    via_sqlite = stage("direct")
    a, b = _tracked(client, via_mlflow), _tracked(client, via_sqlite)
    assert a.pop("name") == "mlflow" and b.pop("name") == "direct"
    assert a["tags"].pop("mlflow.runName") == "mlflow" and b["tags"].pop("mlflow.runName") == "direct"
    assert a["tags"].pop("stage") == "mlflow" and b["tags"].pop("stage") == "direct"
    ts = {r: {k: [t for _, t, _ in h] for k, h in _tracked(client, r)["history"].items()} for r in (via_mlflow, via_sqlite)}
    for d, r in ((a, via_mlflow), (b, via_sqlite)):  # timestamps differ by run; everything else must not
        d["history"] = {k: [(s, v) for s, _, v in h] for k, h in d["history"].items()}
        assert all(t > 0 for times in ts[r].values() for t in times)
    assert a == b
    assert b["metrics"]["train.loss"] == repr(1.0 / 3) and b["metrics"]["m.nan"] == "nan"
    assert b["params"]["long"] == "v" * 6000 and b["tags"]["checkpoint"] == "checkpoints/x/step-3"
    assert b["artifacts"] == ["out/table.csv"] and b["parent"] == a["parent"]
    # Parent lookup: both stages found the one parent (each left it FINISHED, partial: no report yet).
    parents = client.search_runs([a["experiment"]], "tags.`pipeline.role` = 'parent'")
    assert len(parents) == 1 and parents[0].data.tags["pipeline.state"] == "partial"
    for store in (mlflow_sqlite.open_store(uri), mlflow_store.ClientStore(uri)):
        assert store.find_runs(a["experiment"], {"pipeline.role": "parent"}, ("RUNNING", "FINISHED")) \
            == [(parents[0].info.run_id, "FINISHED")]
        store.close()


def test_direct_sqlite_writer_knows_the_installed_mlflow_schema(tmp_path: Path) -> None:
    """An MLflow upgrade with a new schema revision must be checked against the direct writer."""
    import sqlite3

    from mlflow.tracking import MlflowClient

    from benchmark.mlflow_sqlite import SCHEMA_REVISION, SqliteStore, open_store
    from benchmark.mlflow_store import ClientStore

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    MlflowClient(uri).search_experiments()  # MLflow creates the database at its newest revision
    (revision,) = sqlite3.connect(tmp_path / "mlflow.db").execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == SCHEMA_REVISION
    assert isinstance(open_store(uri), SqliteStore)
    assert isinstance(open_store(f"sqlite:///{tmp_path}/absent.db"), ClientStore)
    assert isinstance(open_store("http://localhost:5000"), ClientStore)


def test_queued_experiments_with_equal_params_get_their_own_parents(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two queued experiments (`dvc queue start -j 2`) run in their own temporary workspaces at once; with
    equal params (or workspace code edits between two `--queue`s, which the key does not see) each still
    gets its own parent, and neither's leftover-run sweep ends the other's running stage."""
    from mlflow.tracking import MlflowClient

    repo = tmp_path / "repo"
    (repo / "mlruns").mkdir(parents=True)
    (repo / "dvc.yaml").write_text("stages: {}\n")
    workspaces = {name: repo / ".dvc" / "tmp" / "exps" / f"tmp{name}" for name in ("exp-a", "exp-b")}
    for ws in workspaces.values():
        ws.mkdir(parents=True)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{repo}/mlruns/mlflow.db"
    params = resolve({"profile": "tiny"})

    @contextlib.contextmanager
    def in_exp(name: str):
        with monkeypatch.context() as m:
            m.chdir(workspaces[name])
            m.setenv("DVC_EXP_NAME", name)  # what DVC sets for every stage of a `dvc exp run`
            assert tracking_uri(params) == uri  # the main checkout's store from either workspace
            yield

    with in_exp("exp-a"), stage_run("prepare", params, "cpu"):  # MLflow creates the store
        pass
    with in_exp("exp-a"):
        a_eval = stage_run("retrieval/baseline", params, "cpu")
        a_eval.__enter__().log_metrics({"mean_xsim_margin_x2eng": 0.25})  # exp-a's stage is still running ...
    with in_exp("exp-b"):  # ... while exp-b's stages run
        with stage_run("prepare", params, "cpu"):
            pass
        with stage_run("retrieval/baseline", params, "cpu") as run_:
            run_.log_metrics({"mean_xsim_margin_x2eng": 0.5})
    with in_exp("exp-a"):
        a_eval.__exit__(None, None, None)
        with stage_run("report", params, "cpu", close_parent=True):
            pass
    with in_exp("exp-b"), stage_run("report", params, "cpu", close_parent=True):
        pass
    # A workspace `dvc exp run` (no temporary copy) keeps the plain key: resumed under another name.
    monkeypatch.chdir(repo)
    for name in ("exp-c", "exp-d"):
        monkeypatch.setenv("DVC_EXP_NAME", name)
        with stage_run(f"stage-{name}", params, "cpu"):
            pass

    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(params.tracking.experiment).experiment_id])
    parents = {r.data.tags["dvc.exp_name"]: r for r in runs if r.data.tags.get("pipeline.role") == "parent"}
    assert sorted(parents) == ["exp-a", "exp-b", "exp-c"]
    for name in ("exp-a", "exp-b"):
        parent = parents[name]
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert parent.info.status == "FINISHED"
        assert sorted(r.info.run_name for r in children) == ["prepare", "report", "retrieval/baseline"]
        assert {(r.info.status, r.data.tags["dvc.exp_name"]) for r in children} == {("FINISHED", name)}
    resumed = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents["exp-c"].info.run_id]
    assert sorted(r.info.run_name for r in resumed) == ["stage-exp-c", "stage-exp-d"]
    # `benchmark compare` names the columns by DVC experiment and takes those names for ids.
    from benchmark.report.compare import compare

    table = compare(uri, params.tracking.experiment, ["exp-b", "exp-a"])
    a, b = (f"{parents[n].info.run_id[:8]} {n}" for n in ("exp-a", "exp-b"))
    assert list(table.columns) == [b, a]
    assert table.loc[("baseline", "retrieval.mean_xsim_margin_x2eng")].to_dict() == {a: 0.25, b: 0.5}


def _first_writer(workspace: Path, name: str, barrier: Any, lock: bool) -> None:
    """One queued experiment's first stage, in its temporary workspace, on a store that does not exist yet
    (a subprocess)."""
    import mlflow  # noqa: F401  (imported before the barrier: the processes reach MLflow's store together)

    from benchmark import mlflow_store

    if not lock:  # what the store lock prevents (a manual check that this test catches the race)
        mlflow_store._store_lock = lambda uri: contextlib.nullcontext()
    os.chdir(workspace)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ["DVC_EXP_NAME"] = name
    params = resolve({"profile": "tiny"})
    barrier.wait()
    with stage_run("prepare", params, "cpu"):
        pass


def test_first_writers_of_a_new_store_take_turns(tmp_path: Path) -> None:
    """Queued experiments start their first stage at the same moment; on a new sqlite store MLflow would
    create its tables (alembic migrations) and the experiment in each process at once: one experiment
    failed with `duplicate column name: step` under `dvc queue start -j 2` before the store lock."""
    import multiprocessing
    import sqlite3

    from mlflow.tracking import MlflowClient

    repo, names = tmp_path / "repo", ["exp-a", "exp-b", "exp-c"]
    (repo / "dvc.yaml").parent.mkdir()
    (repo / "dvc.yaml").write_text("stages: {}\n")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(names))
    procs = []
    for name in names:
        workspace = repo / ".dvc" / "tmp" / "exps" / f"tmp{name}"
        workspace.mkdir(parents=True)
        procs.append(ctx.Process(target=_first_writer, args=(workspace, name, barrier, True)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * len(names)
    db = repo / "mlruns" / "mlflow.db"
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    client = MlflowClient(f"sqlite:///{db}")
    (exp,) = [e for e in client.search_experiments() if e.name == "flores-transfer"]
    runs = client.search_runs([exp.experiment_id])
    parents = {r.info.run_id: r.data.tags["dvc.exp_name"] for r in runs if r.data.tags.get("pipeline.role") == "parent"}
    assert sorted(parents.values()) == names
    stages = sorted((parents[r.data.tags["mlflow.parentRunId"]], r.data.tags["dvc.exp_name"], r.info.status)
                    for r in runs if r.data.tags.get("pipeline.role") != "parent")
    assert stages == [(name, name, "FINISHED") for name in names]


def test_experiment_created_by_another_worker_or_by_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a tracking server: the server picks the artifact location, and a worker that loses the race to
    create the experiment (another worker's stage created it in between) uses the winner's."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS

    from benchmark.mlflow_sqlite import open_store
    from benchmark.mlflow_store import ClientStore

    class Client:
        def __init__(self, error: int) -> None:
            self.error, self.created, self.calls = error, [], 0

        def get_experiment_by_name(self, name: str) -> Any:
            self.calls += 1
            return None if self.calls == 1 else type("Experiment", (), {"experiment_id": "7"})()

        def create_experiment(self, name: str, artifact_location: str | None = None) -> str:
            self.created.append(artifact_location)
            raise MlflowException(f"experiment {name} exists", error_code=self.error)

    store = open_store("http://127.0.0.1:5000")
    assert isinstance(store, ClientStore)
    store._client = Client(RESOURCE_ALREADY_EXISTS)
    assert store.experiment("flores-transfer") == "7"
    assert store._client.created == [None]  # no local path: the server's --artifacts-destination
    store._client = Client(INVALID_PARAMETER_VALUE)  # any other error still raises
    with pytest.raises(MlflowException):
        store.experiment("flores-transfer")
