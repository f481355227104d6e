"""Tracking URI resolution and MLflow run structure on a real sqlite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.config import resolve
from benchmark.tracking import main_repo_root, stage_run, tracking_uri


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

    from benchmark import mlflow_sqlite, tracking

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    params = resolve({"profile": "tiny"})
    client = MlflowClient(uri)
    client.create_experiment(params.tracking.experiment, artifact_location=(tmp_path / "artifacts").as_uri())

    def stage(name: str) -> str:
        with stage_run(name, params, "cpu", tags={"arm": "x"}) as run_:
            assert (run_.tracker.fast is not None) == (name == "direct")
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

    direct = mlflow_sqlite.open_store
    monkeypatch.setattr(mlflow_sqlite, "open_store", lambda uri: None)
    via_mlflow = stage("mlflow")
    monkeypatch.setattr(mlflow_sqlite, "open_store", direct)
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
    # Parent lookup: both stages found the one open parent; a closed parent is not reused.
    parents = client.search_runs([a["experiment"]], "tags.`pipeline.role` = 'parent'")
    assert len(parents) == 1
    assert tracking.Tracker(uri).find_runs(a["experiment"], {"pipeline.role": "parent"}, ("RUNNING",)) \
        == [(parents[0].info.run_id, "RUNNING")]


def test_direct_sqlite_writer_knows_the_installed_mlflow_schema(tmp_path: Path) -> None:
    """An MLflow upgrade with a new schema revision must be checked against the direct writer."""
    import sqlite3

    from mlflow.tracking import MlflowClient

    from benchmark import mlflow_sqlite

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    MlflowClient(uri).search_experiments()  # MLflow creates the database at its newest revision
    (revision,) = sqlite3.connect(tmp_path / "mlflow.db").execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == mlflow_sqlite.SCHEMA_REVISION
    assert mlflow_sqlite.open_store(uri) is not None
    assert mlflow_sqlite.open_store(f"sqlite:///{tmp_path}/absent.db") is None
    assert mlflow_sqlite.open_store("http://localhost:5000") is None
