"""Many runs at once: DVC's experiment queue with two workers, and a shared MLflow tracking server.

Real DVC (`dvc exp run --queue`, `dvc queue start -j 2`: each experiment in its own temporary workspace
under .dvc/tmp/exps), real MLflow (the main checkout's sqlite store through the direct writer; a real
`mlflow server` on loopback), the `tiny` profile, offline, in the scratch clone of tests/test_pipeline.py.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from test_pipeline import BIN, _run, scratch  # noqa: F401  (scratch: the clone fixture, one per module)

pytestmark = pytest.mark.slow  # real `dvc queue` runs of the tiny pipeline, minutes

# Two arms: the fewest the analysis stage accepts (it compares arms); every stage kind but task-states' rows.
ARMS = "arms=[baseline,coco-contrastive]"
EXPS = {"q-seed1": 1, "q-seed2": 2}  # DVC experiment name -> seed
PER_RUN = {f"{stage}/{run}" for stage in ("train", "embed", "retrieval", "sib", "tatoeba")
           for run in ("baseline", "coco-contrastive")}


def _queue_status(root: Path, env: dict[str, str]) -> dict[str, str]:
    """Experiment name -> status (Queued, Running, Success, Failed) from `dvc queue status`."""
    out = _run([str(BIN / "dvc"), "queue", "status"], root, env).stdout
    status = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] in EXPS:
            status[parts[1]] = parts[-1]
    return status


def _wait_for_queue(root: Path, env: dict[str, str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        status = _queue_status(root, env)
        if set(status) == set(EXPS) and all(s in ("Success", "Failed") for s in status.values()):
            return status
        if time.monotonic() > deadline:
            subprocess.run([str(BIN / "dvc"), "queue", "kill", *EXPS], cwd=root, env=env, capture_output=True)
            raise AssertionError(f"queue not done after {timeout:.0f}s: {status}")
        time.sleep(5)


def _tag(con: sqlite3.Connection, run_id: str, key: str) -> str | None:
    row = con.execute("SELECT value FROM tags WHERE run_uuid = ? AND key = ?", (run_id, key)).fetchone()
    return row[0] if row else None


def test_queue_two_workers_share_one_store(scratch: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    root, env = scratch
    db = root / "mlruns" / "mlflow.db"
    # Time only: fill the shared image-feature cache first (MobileNetV2 over every bundled COCO image,
    # about a minute on 2 cores, that both workers would otherwise compute at once), logging to a
    # throwaway store so that the queued experiments still create the main store together.
    _run([str(BIN / "dvc"), "repro", "images"], root,
         {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{root.parent / 'warmup.db'}"})
    assert not db.exists(), "the queued experiments' first stages must create the store together"
    assert env.get("MLFLOW_DISABLE_TELEMETRY") == "true" and "MLFLOW_TRACKING_URI" not in env
    # docs/team.md: a bad key is refused when queued, in one line, and nothing is queued
    proc = subprocess.run([str(BIN / "dvc"), "exp", "run", "--queue", "-S", "+bogus=1"], cwd=root, env=env,
                          capture_output=True, text=True)
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(errors) == 1 and "bogus: unknown key" in errors[0], proc.stderr
    assert "Queued" not in _run([str(BIN / "dvc"), "queue", "status"], root, env).stdout
    for name, seed in EXPS.items():
        _run([str(BIN / "dvc"), "exp", "run", "--queue", "-n", name, "-S", f"seed={seed}", "-S", ARMS], root, env)
    start = time.perf_counter()
    try:
        # The workers it starts are daemons that keep its stdout and stderr: captured, this would wait for them.
        subprocess.run([str(BIN / "dvc"), "queue", "start", "-j", "2"], cwd=root, env=env, check=True, timeout=120,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        status = _wait_for_queue(root, env, timeout=1500)
    finally:
        subprocess.run([str(BIN / "dvc"), "queue", "stop"], cwd=root, env=env, capture_output=True)
    print(f"two queued tiny experiments, 2 workers: {time.perf_counter() - start:.0f}s")
    logs = {name: _run([str(BIN / "dvc"), "queue", "logs", name], root, env).stdout for name in EXPS}
    assert status == {name: "Success" for name in EXPS}, {n: logs[n][-3000:] for n in EXPS if status[n] != "Success"}
    for name, log in logs.items():
        assert "database is locked" not in log, name

    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert not list((root / ".dvc" / "tmp").rglob("mlflow.db")), "a temporary workspace must not keep its own store"
    runs = con.execute("SELECT run_uuid, name, status FROM runs").fetchall()
    assert {s for _, _, s in runs} == {"FINISHED"}, "no run left RUNNING, FAILED or KILLED"
    parents = {_tag(con, r, "dvc.exp_name"): r for r, _, _ in runs if _tag(con, r, "pipeline.role") == "parent"}
    assert sorted(parents) == sorted(EXPS), "exactly one parent run per experiment"
    parent_of = {r: _tag(con, r, "mlflow.parentRunId") for r, _, _ in runs}
    for name, parent in parents.items():
        children = [(r, n) for r, n, _ in runs if parent_of[r] == parent]
        names = [n for _, n in children]
        assert len(names) == len(set(names)), f"{name}: a stage logged twice under one parent: {sorted(names)}"
        assert PER_RUN | {"analysis", "report"} <= set(names), sorted(names)
        for run_id, stage in children:  # each stage run is this experiment's: its name, seed and params
            assert _tag(con, run_id, "dvc.exp_name") == name, stage
            assert _tag(con, run_id, "seed") == str(EXPS[name]), stage
            (seed,) = con.execute("SELECT value FROM params WHERE run_uuid = ? AND key = 'seed'", (run_id,)).fetchone()
            assert seed == str(EXPS[name]), stage
        # The experiment's own commit (what `dvc exp show` lists) names runs under this parent.
        refs = _run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"], root, env).stdout.split()
        ref = [r for r in refs if r.endswith(f"/{name}")]  # refs/exps/<baseline sha, split>/<name>
        assert len(ref) == 1, refs
        record = json.loads(_run(["git", "show", f"{ref[0]}:metrics/evaluate/baseline/retrieval.json"],
                                 root, env).stdout)
        assert parent_of[record["mlflow_run_id"]] == parent
    assert all(parent_of[r] in parents.values() for r, _, _ in runs if r not in parents.values())

    # `benchmark compare`: the last two finished pipeline runs are the two experiments, named as DVC names them.
    for args in ([], list(EXPS)):
        table = _run([str(BIN / "benchmark"), "compare", *args], root, env).stdout
        header = table.splitlines()[0]
        for name, parent in parents.items():
            assert f"{parent[:8]} {name}" in header, table
        assert "retrieval.mean_xsim_margin_x2eng" in table, table


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tracking_server_shared_by_workers(scratch: tuple[Path, dict[str, str]],  # noqa: F811
                                           tmp_path: Path) -> None:
    """A team's setup: one `mlflow server` (sqlite backend, artifacts proxied to its own directory) that
    every worker logs to through `tracking.uri`; the stages use MLflow's client (no direct sqlite writes),
    artifacts land on the server, and `benchmark compare` reads the runs back from it."""
    from mlflow.tracking import MlflowClient

    root, env = scratch
    port, server = _free_port(), tmp_path / "server"
    uri = f"http://127.0.0.1:{port}"
    local = root / "mlruns" / "mlflow.db"
    local_runs = len(sqlite3.connect(local).execute("SELECT * FROM runs").fetchall()) if local.exists() else 0
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{server / 'mlflow.db'}",
         "--artifacts-destination", str(server / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        env={**env, "MLFLOW_DISABLE_TELEMETRY": "true"}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not answer in 180 s"
            time.sleep(0.5)

        name = "via-server"
        _run([str(BIN / "dvc"), "exp", "run", "--temp", "-n", name, "-S", f"tracking.uri={uri}", "-S", "seed=3",
              "-S", ARMS], root, env)

        client = MlflowClient(uri)
        exp = client.get_experiment_by_name("flores-transfer")
        assert exp.artifact_location.startswith("mlflow-artifacts:"), exp.artifact_location  # the server's
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        (parent,) = [r for r in runs if r.data.tags.get("pipeline.role") == "parent"]
        assert parent.info.status == "FINISHED" and parent.data.tags["dvc.exp_name"] == name
        children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert len(children) == len(runs) - 1 and all(r.info.status == "FINISHED" for r in children)
        assert PER_RUN | {"analysis", "report"} <= {r.info.run_name for r in children}
        report = next(r for r in children if r.info.run_name == "report")
        stored = server / "artifacts" / exp.experiment_id / report.info.run_id / "artifacts" / "results"
        assert (stored / "REPORT.md").is_file(), "artifacts go to the server's --artifacts-destination"
        assert sqlite3.connect(server / "mlflow.db").execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        if local.exists():  # nothing of this run in the checkout's own store
            assert len(sqlite3.connect(local).execute("SELECT * FROM runs").fetchall()) == local_runs

        # `benchmark compare` against the server: by the experiment's name, and as the last finished run.
        for args in ([name], ["--last", "1"]):
            table = _run([str(BIN / "benchmark"), "compare", *args], root, {**env, "MLFLOW_TRACKING_URI": uri}).stdout
            assert f"{parent.info.run_id[:8]} {name}" in table.splitlines()[0], table
            assert "retrieval.mean_xsim_margin_x2eng" in table, table
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()
