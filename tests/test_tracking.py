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
    closed, open_ = sorted(parents, key=lambda r: r.info.status)
    assert (closed.info.status, open_.info.status) == ("FINISHED", "RUNNING")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == closed.info.run_id]
    assert sorted(r.info.run_name for r in children) == ["a", "report"]
    first = next(r for r in children if r.info.run_name == "a")
    assert len(first.data.metrics) == 1500 and first.data.metrics["m.1499"] == 1499.0
    assert first.data.params["encoder.source"] == "random"
    failed = [r for r in runs if r.info.run_name == "b"]
    assert failed[0].info.status == "FAILED"
    assert failed[0].data.tags["mlflow.parentRunId"] == open_.info.run_id
