"""How stage and pipeline runs end in MLflow (failed, interrupted, SIGTERMed, SIGKILLed, resumed) and
what ``benchmark compare`` counts, on a real sqlite store: through the direct sqlite writer and
through ``MlflowClient``, which must leave the same runs behind."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from benchmark import mlflow_sqlite
from benchmark.config import resolve
from benchmark.io import BenchmarkError
from benchmark.tracking import stage_run

# A stage process as `benchmark` runs one: ``cli.main()`` (its signal handling, its exit) around a
# stage that only opens its MLflow run, says so, and waits to be signalled.
_STAGE = """
import os, signal, sys, time
from benchmark import cli
from benchmark.tracking import stage_run

sigkill = sys.argv[1:] == ["sigkill"]

def stage(args, params):
    with stage_run("train/x", params, "cpu"):
        if sigkill:
            os.kill(os.getpid(), signal.SIGKILL)
        print("ready", flush=True)
        time.sleep(60)

cli._prepare = stage
sys.argv = ["benchmark", "--params", "params.yaml", "prepare"]
cli.main()
"""


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow database as MLflow creates it: once, its migrations take seconds."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("empty") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(params=["sqlite", "mlflow"])
def store(request: pytest.FixtureRequest, empty_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(client, experiment id, params): an MLflow database stages write to, directly or via MLflow."""
    import shutil

    from mlflow.tracking import MlflowClient

    shutil.copy(empty_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    params = resolve({"profile": "tiny"})
    # Every key, as `benchmark params` prints it: stage processes load the same params (the same pipeline key).
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False))
    client = MlflowClient(uri)
    experiment = client.create_experiment(params.tracking.experiment, artifact_location=(tmp_path / "a").as_uri())
    if request.param == "mlflow":
        monkeypatch.setattr(mlflow_sqlite, "connect", lambda uri: None)
    return client, experiment, params


def _runs(client, experiment: str) -> tuple[list, dict[str, list]]:
    """(parent runs, {stage name: its runs, oldest first})."""
    runs = sorted(client.search_runs([experiment]), key=lambda r: (r.info.start_time, r.info.run_id))
    stages: dict[str, list] = {}
    for run in runs:
        if run.data.tags.get("pipeline.role") != "parent":
            stages.setdefault(run.info.run_name, []).append(run)
    return [r for r in runs if r.data.tags.get("pipeline.role") == "parent"], stages


def _stage_process(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _STAGE, *args], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("error, status", [(RuntimeError, "FAILED"), (KeyboardInterrupt, "KILLED")])
def test_a_failed_stage_ends_its_run_and_the_parent_then_a_resume_reopens_it(store, error, status) -> None:
    client, experiment, params = store
    with stage_run("prepare", params, "cpu"):
        pass
    (parent,), _ = _runs(client, experiment)  # a stage that succeeds leaves the parent ended, never RUNNING
    assert (parent.info.status, parent.data.tags["pipeline.state"]) == ("FINISHED", "partial")
    with pytest.raises(error), stage_run("train/x", params, "cpu"):
        raise error()
    (parent,), stages = _runs(client, experiment)
    assert parent.info.status == status and stages["train/x"][0].info.status == status
    assert stages["prepare"][0].info.status == "FINISHED"
    ended = parent.info.end_time

    with stage_run("train/x", params, "cpu"):  # `dvc repro` again: the same pipeline run goes on
        reopened = client.get_run(parent.info.run_id).info
        assert (reopened.status, reopened.end_time) == ("RUNNING", ended)  # as MLflow resumes a run
    with stage_run("report", params, "cpu", close_parent=True):
        pass
    (parent,), stages = _runs(client, experiment)
    assert parent.info.status == "FINISHED" and parent.data.tags["pipeline.resumed"] == "1"
    assert parent.data.tags["pipeline.state"] == "complete"
    assert [r.info.status for r in stages["train/x"]] == [status, "FINISHED"]

    with stage_run("prepare", params, "cpu"):  # a forced rerun: a complete parent is never reopened
        pass
    parents, _ = _runs(client, experiment)
    assert [(p.info.status, p.data.tags["pipeline.state"]) for p in parents] == [("FINISHED", "complete"),
                                                                                ("FINISHED", "partial")]


def test_a_targeted_repro_leaves_its_parent_partial_and_the_next_repro_goes_on(store) -> None:
    """`dvc repro train@x` runs no report: its parent ends FINISHED and partial, not RUNNING, and the
    `dvc repro` after it continues the same pipeline run (partial reopenings are not resumes)."""
    client, experiment, params = store
    for stage in ("validate", "train/x"):
        with stage_run(stage, params, "cpu"):
            pass
    (parent,), _ = _runs(client, experiment)
    assert (parent.info.status, parent.data.tags["pipeline.state"]) == ("FINISHED", "partial")
    for stage in ("evaluate/x", "report"):
        with stage_run(stage, params, "cpu", close_parent=stage == "report"):
            pass
    (again,), stages = _runs(client, experiment)
    assert again.info.run_id == parent.info.run_id and "pipeline.resumed" not in again.data.tags
    assert (again.info.status, again.data.tags["pipeline.state"]) == ("FINISHED", "complete")
    assert sorted(stages) == ["evaluate/x", "report", "train/x", "validate"]


def test_a_sigkilled_stage_is_ended_killed_by_its_rerun(store, tmp_path: Path) -> None:
    client, experiment, params = store
    killed = _stage_process(tmp_path, "sigkill")
    assert killed.wait(timeout=120) == -signal.SIGKILL, killed.stderr.read()
    (parent,), stages = _runs(client, experiment)
    assert parent.info.status == "RUNNING" and stages["train/x"][0].info.status == "RUNNING"

    with stage_run("train/x", params, "cpu") as rerun:
        (dangling,) = [r for r in _runs(client, experiment)[1]["train/x"] if r.info.run_id != rerun.run_id]
        assert dangling.info.status == "KILLED" and dangling.info.end_time is not None
    with stage_run("train/y", params, "cpu"):  # another stage's runs are not its attempts
        pass
    with stage_run("report", params, "cpu", close_parent=True):
        pass
    parents, stages = _runs(client, experiment)
    assert [(p.info.run_id, p.info.status) for p in parents] == [(parent.info.run_id, "FINISHED")]
    assert [r.info.status for r in stages["train/x"]] == ["KILLED", "FINISHED"]
    assert {r.data.tags["mlflow.parentRunId"] for runs in stages.values() for r in runs} == {parent.info.run_id}


def test_sigterm_to_a_stage_process_ends_its_runs_killed(store, tmp_path: Path) -> None:
    client, experiment, _ = store
    proc = _stage_process(tmp_path)
    try:
        assert proc.stdout.readline() == "ready\n", proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        proc.kill()
    assert proc.stderr.read().strip().splitlines()[-1] == "benchmark: terminated (SIGTERM)"
    (parent,), stages = _runs(client, experiment)
    assert parent.info.status == "KILLED" and stages["train/x"][0].info.status == "KILLED"


def test_compare_counts_finished_pipelines_unless_asked(store, capsys: pytest.CaptureFixture) -> None:
    from benchmark.cli import main
    from benchmark.report.compare import compare
    from benchmark.tracking import tracking_uri

    client, experiment, params = store
    uri, name = tracking_uri(params), params.tracking.experiment
    for value, close in ((0.5, True), (0.7, False)):  # a finished pipeline run, then an unfinished one
        with stage_run("retrieval/arm", params, "cpu") as run_:
            run_.log_metrics({"mean_xsim_margin_x2eng": value})
        if close:
            with stage_run("report", params, "cpu", close_parent=True):
                pass
    done, running = (p.info.run_id for p in _runs(client, experiment)[0])

    table = compare(uri, name, last=5)
    assert list(table.columns) == [done[:8]]
    table = compare(uri, name, last=5, include_unfinished=True)
    assert list(table.columns) == [f"{running[:8]} (PARTIAL)", done[:8]]
    assert table.loc[("arm", "retrieval.mean_xsim_margin_x2eng")].tolist() == [0.7, 0.5]
    assert list(compare(uri, name, [done[:8], running]).columns) == [done[:8], f"{running[:8]} (PARTIAL)"]

    assert main(["compare", "--all", "--last", "1"]) == 0
    assert f"{running[:8]} (PARTIAL)" in capsys.readouterr().out
    stage_id = _runs(client, experiment)[1]["report"][0].info.run_id
    for given in (stage_id[:8], stage_id):
        assert main(["compare", given]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1
        assert ("is a prefix: give the full 32-character MLflow run id" in err) == (given != stage_id)
        assert ("not a pipeline run" in err) == (given == stage_id)


def test_an_ambiguous_prefix_lists_its_matches() -> None:
    from benchmark.report.compare import _resolve

    ids = ["ab" * 16, "ab" + "c" * 30, "d" * 32]
    assert _resolve("d", ids) == ids[2]
    with pytest.raises(BenchmarkError, match=f"is a prefix: .*matches: {ids[0]}, {ids[1]}"):
        _resolve("ab", ids)
    with pytest.raises(BenchmarkError, match="matches: none"):
        _resolve("", ids)
