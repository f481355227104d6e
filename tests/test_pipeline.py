"""The `tiny` profile end to end through real DVC and a real MLflow sqlite store, in a scratch clone."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from clones import tracked_copy

from benchmark.io import sha256_file

pytestmark = pytest.mark.slow  # real `dvc repro` of the tiny profile, minutes per test

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# A multimodal arm, a text control with an extra seed, a textual (X-STILTs) arm and the baseline:
# every stage kind, fast.
RUNS = ("baseline", "coco-contrastive", "caption-contrastive.s1", "hellaswag", "parallel-contrastive")
TARGETS = ("retrieval", "sib", "tatoeba")  # what profile tiny evaluates (benchmark/targets/registry.py)


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A git clone of the working tree's tracked files with params switched to `tiny`."""
    root = tracked_copy(tmp_path_factory.mktemp("clone") / "repo")
    # The clone's presets default to `tiny` with RUNS, so `dvc exp run` (which recomposes params.yaml
    # from benchmark/conf) and `dvc repro` run the same configuration here too.
    conf = root / "benchmark" / "conf"
    config_yaml = (conf / "config.yaml").read_text()
    assert "  - profile: mini\n" in config_yaml
    (conf / "config.yaml").write_text(config_yaml.replace("  - profile: mini\n", "  - profile: tiny\n"))
    tiny = conf / "profile" / "tiny.yaml"
    kept = [line for line in tiny.read_text().splitlines(keepends=True) if not line.startswith("arms:")]
    tiny.write_text("".join(kept) + f"arms: [{', '.join(RUNS)}]\n")
    # The committed dvc.lock (for `mini`) stays tracked: every stage rewrites it, which must not split
    # one pipeline run across two MLflow parents.
    # PYTHONPATH: the stages run the clone's own package, not the editable install they were copied
    # from, so an edit inside the clone (see the arm-spec check) is what the stages execute.
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(root),
           "BENCHMARK_CACHE_DIR": str(root.parent / "embcache"), "HF_HUB_OFFLINE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    _run([str(BIN / "benchmark"), "params", "--write"], root, env)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    _run(["git", "init", "-q"], root, env)
    _run([*git, "add", "-A"], root, env)
    _run([*git, "commit", "-qm", "scratch"], root, env)
    return root, env


def _runs(root: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    exp = client.get_experiment_by_name("flores-transfer")
    return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def test_tiny_repro_end_to_end(scratch: tuple[Path, dict[str, str]]) -> None:
    root, env = scratch
    _run([str(BIN / "dvc"), "repro"], root, env)

    for rel in ["results/results.md", *[f"results/targets/{t}.{ext}" for t in TARGETS for ext in ("csv", "png")],
                "results/summary.json", *[f"artifacts/predictions/baseline/{t}.parquet" for t in TARGETS], "dvc.lock"]:
        assert (root / rel).is_file(), rel

    import pandas as pd

    preds = pd.read_parquet(root / "artifacts/predictions/baseline/retrieval.parquet")
    assert set(preds["direction"]) == {"x2eng", "eng2x"} and set(preds["scoring"]) == {"cosine", "margin"}
    assert len(preds) == 4 * 2 * 2 * 16  # 4 non-pivot languages x 2 directions x 2 scorings x 16 items
    sib = pd.read_parquet(root / "artifacts/predictions/baseline/sib.parquet")
    assert len(sib) == 5 * 16 and set(sib.columns) >= {"language", "index_id", "label", "predicted"}
    tatoeba = pd.read_parquet(root / "artifacts/predictions/baseline/tatoeba.parquet")
    assert len(tatoeba) == 4 * 2 * 2 * 16  # tiny: 4 Tatoeba languages x 2 directions x 2 scorings x 16 pairs
    margins = pd.read_csv(root / "results/margins.csv")
    assert {"tatoeba_accuracy", "tatoeba_xsim_margin_x2eng", "xsim_margin_x2eng", "sib_accuracy"} <= set(margins["target"])

    runs = _runs(root)
    parents = [r for r in runs if r.data.tags.get("pipeline.role") == "parent"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id}
    per_run = {f"{stage}/{run}" for stage in ("train", "embed", *TARGETS) for run in RUNS}
    assert set(children) == {"prepare", "runs", "images", "frozen", "task-states", "analysis", "report"} | per_run
    train = children["train/coco-contrastive"]
    assert {"train.loss", "train.lr", "train.examples_per_s", "heldout.r1_caption_to_image.true"} <= set(train.data.metrics)
    assert json.loads((root / "metrics/train/caption-contrastive.s1.json").read_text())["budget"]["steps"] == 6
    text = json.loads((root / "metrics/train/hellaswag.json").read_text())
    assert text["budget"]["rows"] == 4 * text["budget"]["examples"] == 6 * 8  # a 4-choice example is 4 rows
    assert {"heldout.hellaswag.accuracy.trained", "heldout.hellaswag.accuracy.frozen_encoder"} <= set(text["evidence"])
    retrieval = children["retrieval/baseline"]
    assert "xsim_margin_x2eng.fra_Latn" in retrieval.data.metrics
    for tag in ["git.commit", "profile", "seed", "device", "cpu.flags", "threads", "lib.torch"]:
        assert tag in retrieval.data.tags, tag
    assert any(k.startswith("data.") and k.endswith(".sha256") for k in children["prepare"].data.tags)
    stage_json = json.loads((root / "metrics/evaluate/baseline/retrieval.json").read_text())
    assert stage_json["mlflow_run_id"] == retrieval.info.run_id

    start = time.perf_counter()
    proc = _run([str(BIN / "dvc"), "repro"], root, env)
    assert "didn't change" in proc.stdout or "up to date" in proc.stdout
    assert len(_runs(root)) == len(runs), "a no-op repro must not log runs"
    print(f"no-op dvc repro: {time.perf_counter() - start:.1f}s")

    # Editing one arm's spec invalidates that arm's runs only, not every run that shares arms.py.
    arms_py = root / "benchmark" / "arms.py"
    original = arms_py.read_text()
    edited = original.replace("caption-caption InfoNCE between two captions of one image",
                              "caption-caption InfoNCE between two captions of one image (edited)")
    assert edited != original
    arms_py.write_text(edited)
    try:
        _run([str(BIN / "dvc"), "repro", "--single-item", "runs"], root, env)
        status = _run([str(BIN / "dvc"), "status"], root, env).stdout
        assert "train@caption-contrastive.s1:" in status, status
        assert "train@coco-contrastive:" not in status and "train@baseline:" not in status, status
    finally:
        arms_py.write_text(original)
        _run([str(BIN / "dvc"), "repro", "--single-item", "runs"], root, env)
    assert "train@" not in _run([str(BIN / "dvc"), "status"], root, env).stdout


# What a pipeline run writes: a failed run must leave every byte of it as it was.
_WRITTEN = ("artifacts", "results", "metrics", "data", "checkpoints", "dvc.lock", ".gitignore")


def _snapshot(root: Path) -> dict[str, str]:
    files = {}
    for top in _WRITTEN:
        path = root / top
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if f.is_file():
                files[f.relative_to(root).as_posix()] = sha256_file(f)
    return files


def _set(tree: dict, dotted: str, value: object) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree[key]
    tree[leaf] = value


def _benchmark_errors(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("benchmark: error:")]


BAD_PARAMS = [  # (dotted key, value, the one line `validate` prints)
    ("data.languages", ["eng_Latn", "xxx_Latn"], "data.languages: unknown FLORES-200 language code 'xxx_Latn'"),
    ("encoder.batch_size", 0, "encoder.batch_size: Input should be greater than or equal to 1, got 0"),
    ("seed", -1, "seed: Input should be greater than or equal to 0, got -1"),
    ("seed", 2**40, "seed: Input should be less than or equal to 4294967295, got 1099511627776"),
    ("arms", [], "arms: List should have at least 1 item after validation, not 0"),
    ("bogus", 1, "bogus: unknown key"),
    ("training.steps", True, "training.steps: Input should be a valid integer, got True"),
    # Valid keys that a later stage would fail on, after DVC had deleted outputs (issue 22):
    ("arms", ["hellaswag"], "arms ['hellaswag']: no two arms to compare (the analysis stage compares arms: add "
     "baseline and a trained arm, e.g. arms=[baseline,coco-contrastive])"),
    ("training.batch_size", 2, "training.batch_size=2: run hellaswag trains hellaswag, whose examples are 4 "
     "encoder rows each (a 4-way choice); it needs at least 4"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_PARAMS, ids=[f"{k}={v}" for k, v, _ in BAD_PARAMS])
def test_bad_param_stops_dvc_repro_before_anything_is_deleted(scratch: tuple[Path, dict[str, str]], key: str,
                                                              value: object, message: str) -> None:
    root, env = scratch
    params_file = root / "params.yaml"
    original = params_file.read_text()
    before = _snapshot(root)
    params = yaml.safe_load(original)
    _set(params, key, value)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        proc = subprocess.run([str(BIN / "dvc"), "repro"], cwd=root, env=env, capture_output=True, text=True)
        assert proc.returncode != 0
        assert _benchmark_errors(proc) == [f"benchmark: error: params.yaml: {message}"], proc.stdout + proc.stderr
        assert "Running stage 'validate'" in proc.stdout
        assert proc.stdout.count("Running stage") == 1, proc.stdout  # nothing ran after the gate
        assert _snapshot(root) == before
    finally:
        params_file.write_text(original)


LATE = [  # valid keys that a later stage would fail on after DVC had deleted outputs: refused in the composition
    ("arms=[baseline]", "no two arms to compare"),
    ("training.batch_size=2", "training.batch_size=2: run hellaswag trains hellaswag"),
    ("training.batch_size=1000", "run coco-contrastive draws 1000 examples per batch from 119 training images"),
    ("training.train_top_layers=3", "training.train_top_layers=3: the encoder (random tiny-random-bert) has 2 layers"),
    *([] if __import__("torch").cuda.is_available() else [("runtime.device=cuda", "runtime.device: device 'cuda'")]),
]


@pytest.mark.parametrize(("override", "message"), [
    ("arms=[baseline,coco-contrastiv]", "arms: unknown arm 'coco-contrastiv'"),
    ("+bogus=1", "bogus: unknown key"),
    ("seed=-1", "seed: Input should be greater than or equal to 0, got -1"),
    *LATE,
])
def test_bad_exp_run_override_stops_before_anything_is_touched(scratch: tuple[Path, dict[str, str]], override: str,
                                                               message: str) -> None:
    """The checks run inside DVC's Hydra composition (benchmark/conf/hydra_plugins), before DVC checks
    out the experiment: an `arms` typo would otherwise unlink the other runs' outputs first."""
    root, env = scratch
    original = (root / "params.yaml").read_bytes()
    before = _snapshot(root)
    proc = subprocess.run([str(BIN / "dvc"), "exp", "run", "-S", override], cwd=root, env=env,
                          capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode, out)  # no DVC banner, no traceback
    assert lines[0].startswith("benchmark: error: params.yaml: ") and message in lines[0], out
    assert "Running stage" not in out, out
    assert (root / "params.yaml").read_bytes() == original
    assert _snapshot(root) == before


def test_documented_overrides_run_through_dvc_exp_run(scratch: tuple[Path, dict[str, str]]) -> None:
    """Every `-S key=value` README and the presets tell a reader to try, through real `dvc exp run`
    (DVC's Hydra composition, then stage `validate`): accepted, or refused in one line if README says so."""
    from test_config import _examples

    root, env = scratch
    saved = {name: (root / name).read_bytes() for name in ("params.yaml", "dvc.lock")}
    try:
        for example in _examples():
            composed = (root / "params.yaml").read_bytes()
            proc = subprocess.run([str(BIN / "dvc"), "exp", "run", "-S", example, "validate"], cwd=root, env=env,
                                  capture_output=True, text=True)
            refused = example.startswith("+") or (example == "profile=full" and not (root / "data" / "full").is_dir())
            if refused:
                # Refused inside DVC's composition (a key, or `full`'s upstream snapshot missing without
                # `benchmark fetch`): one line, exit 2, no stage run, params.yaml as it was.
                errors = [line for line in proc.stderr.splitlines() if line.strip()]
                assert proc.returncode == 2 and len(errors) == 1, (example, proc.returncode, proc.stderr)
                assert ("unknown key" if example.startswith("+") else "upstream snapshot missing") in errors[0], errors
                assert "Running stage" not in proc.stdout
                assert (root / "params.yaml").read_bytes() == composed
            else:
                assert proc.returncode == 0, (example, proc.stdout[-2000:], proc.stderr[-2000:])
                key, value = example.split("=", 1)
                got = yaml.safe_load((root / "params.yaml").read_text())
                for part in key.split("."):
                    got = got[part]
                assert got == yaml.safe_load(value), (example, got)
    finally:
        for name, data in saved.items():
            (root / name).write_bytes(data)


def test_a_dry_run_lists_the_stages_and_touches_nothing(scratch: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """README's dry run, in a checkout with no outputs yet (a copy of the clone before any repro)."""
    root, env = scratch
    fresh = tmp_path / "fresh"
    _run(["git", "clone", "-q", str(root), str(fresh)], tmp_path, env)
    before = _snapshot(fresh)
    proc = subprocess.run([str(BIN / "dvc"), "exp", "run", "--dry", "-f"], cwd=fresh, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stages = re.findall(r"Running stage '([^']+)'", proc.stdout)
    assert stages[0] == "validate" and stages[-1] == "report" and {f"train@{run}" for run in RUNS} <= set(stages)
    assert _snapshot(fresh) == before


def _readme_comparison() -> tuple[list[str], list[list[str]]]:
    """README's "Comparing experiments": the `dvc exp run` it describes, then each `$ dvc ...` it shows."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Comparing experiments"):]
    section = section[: section.index("\n## ", 1)]
    exp_run = re.search(r"after `(dvc exp run -S profile=tiny[^`]*)`", section.replace("\n", " "))
    assert exp_run, "README no longer says which `dvc exp run` its example output comes from"
    shown = [shlex.split(line[2:]) for line in section.splitlines() if line.startswith("$ dvc ")]
    return shlex.split(exp_run.group(1)), shown


def test_readme_comparison_commands_run_as_written(scratch: tuple[Path, dict[str, str]]) -> None:
    """README's comparison example, command for command: the profile-keeping override runs `tiny` with
    the new lr, and DVC's views (the `dvc exp show` filter, `dvc metrics diff`, `dvc metrics show`, team.md's
    `dvc exp diff` and `dvc exp apply`) show what README says they show."""
    root, env = scratch
    exp_run, shown = _readme_comparison()
    assert [cmd[:3] for cmd in shown] == [["dvc", "exp", "show"], ["dvc", "metrics", "diff"]]
    saved = {name: (root / name).read_bytes() for name in ("params.yaml", "dvc.lock")}
    # Outputs DVC does not cache (per-stage records, results, checkpoints): kept aside to be put back after.
    kept = root.parent / "kept-outputs"
    for name in ("metrics", "results", "checkpoints"):
        shutil.copytree(root / name, kept / name)
    listed = [str(BIN / "dvc"), "exp", "ls", "--name-only"]
    earlier = set(_run(listed, root, env).stdout.split())
    try:
        _run([str(BIN / "dvc"), *exp_run[1:]], root, env, timeout=1200)
        params = yaml.safe_load((root / "params.yaml").read_text())
        assert (params["profile"], params["training"]["lr"], params["arms"]) == ("tiny", 0.002, list(RUNS))
        outputs = [_run([str(BIN / "dvc"), *cmd[1:]], root, env).stdout for cmd in shown]
        header = next(line.split() for line in outputs[0].splitlines() if line.split()[:1] == ["Experiment"])
        assert "training.lr" in header and "primary.margin" in header, outputs[0]
        assert all(column == "Experiment" or column.startswith(("training.lr", "primary.")) for column in header)
        assert re.search(r"^\s*workspace\s.*\s0\.002\s*$", outputs[0], re.M), outputs[0]
        assert outputs[1].split()[:5] == ["Path", "Metric", "HEAD", "workspace", "Change"], outputs[1]
        assert "results/headline.json" in outputs[1] and "primary.margin" in outputs[1]
        shown_metrics = _run([str(BIN / "dvc"), "metrics", "show"], root, env).stdout
        assert "results/headline.json" in shown_metrics and "primary.margin" in shown_metrics
        assert "Running stage" not in _run([str(BIN / "dvc"), "repro", "--dry"], root, env).stdout  # up to date
        (name,) = set(_run(listed, root, env).stdout.split()) - earlier  # the experiment just run
        assert "training.lr" in _run([str(BIN / "dvc"), "exp", "diff", "HEAD", name], root, env).stdout
        # `dvc exp apply` checks out every output afterwards, data.dvc's too: full's upstream snapshot,
        # in no clone's cache, is the one target it reports missing (README says so); the rest applies.
        applied = subprocess.run([str(BIN / "dvc"), "exp", "apply", name], cwd=root, env=env, capture_output=True,
                                 text=True)
        failed = re.findall(r"^([\w./-]+)$", applied.stderr.split("Checkout failed for following targets:")[-1], re.M)
        assert applied.returncode == 0 or failed == ["data/full"], applied.stderr
        assert yaml.safe_load((root / "params.yaml").read_text())["training"]["lr"] == 0.002
    finally:
        for name, data in saved.items():
            (root / name).write_bytes(data)
        for name in ("metrics", "results", "checkpoints"):
            shutil.rmtree(root / name)
            shutil.copytree(kept / name, root / name)
        shutil.rmtree(kept)
        # The outputs of the restored dvc.lock (its stages: data.dvc is full's snapshot, in no clone).
        _run([str(BIN / "dvc"), "checkout", "--force", "dvc.yaml"], root, env)
    assert _status_stages(root, env) == set()


def _status_stages(root: Path, env: dict[str, str]) -> set[str]:
    out = _run([str(BIN / "dvc"), "status"], root, env).stdout
    stages = {line[:-1] for line in out.splitlines() if line.endswith(":") and not line.startswith((" ", "\t"))}
    return stages - {"data.dvc"}  # the `full` profile's upstream snapshot, absent from any clone


def test_dvc_sees_a_preset_edit_and_a_flipped_byte(scratch: tuple[Path, dict[str, str]]) -> None:
    """The graph is true: a preset edit and a corrupt bundled file name exactly the stages they affect,
    and `dvc repro` stops at `validate` for both, leaving the workspace as it was."""
    root, env = scratch
    assert _status_stages(root, env) == set()
    before = _snapshot(root)

    preset = root / "benchmark" / "conf" / "profile" / "tiny.yaml"
    original, params = preset.read_text(), (root / "params.yaml").read_text()
    preset.write_text(original.replace("training: {steps: 6,", "training: {steps: 7,"))
    try:
        assert _status_stages(root, env) == {"validate"}  # params.yaml not yet recomposed
        proc = subprocess.run([str(BIN / "dvc"), "repro"], cwd=root, env=env, capture_output=True, text=True)
        assert proc.returncode != 0
        assert _benchmark_errors(proc) == [
            "benchmark: error: params.yaml: composed before benchmark/conf last changed (it differs from the tiny "
            "preset now in training.steps): recompose it (`dvc exp run`, with any -S overrides again, or `benchmark "
            "params --write`) before `dvc repro`"]
        assert _snapshot(root) == before
        _run([str(BIN / "benchmark"), "params", "--write"], root, env)  # what `dvc exp run` does first
        trained = {f"train@{run}" for run in RUNS}
        assert _status_stages(root, env) == {"validate", *trained}
    finally:
        preset.write_text(original)
        (root / "params.yaml").write_text(params)
    assert _status_stages(root, env) == set()

    bundled = root / "benchmark" / "data" / "bundle" / "sib200_labels.parquet"
    original_bytes = bundled.read_bytes()
    flipped = bytearray(original_bytes)
    flipped[len(flipped) // 2] ^= 0x01
    bundled.write_bytes(bytes(flipped))
    try:
        assert _status_stages(root, env) == {"validate", "prepare"}
        proc = subprocess.run([str(BIN / "dvc"), "repro"], cwd=root, env=env, capture_output=True, text=True)
        assert proc.returncode != 0
        errors = _benchmark_errors(proc)
        assert len(errors) == 1 and "sib200_labels.parquet" in errors[0] and "sha256" in errors[0], errors
        assert _snapshot(root) == before
    finally:
        bundled.write_bytes(original_bytes)
    assert _status_stages(root, env) == set()


def test_killed_frozen_rerun_keeps_the_previous_states(scratch: tuple[Path, dict[str, str]]) -> None:
    """`frozen` is not in DVC's cache (GBs in mini): DVC must not delete it before a rerun, and a
    rerun killed half way must leave the previous states in place."""
    root, env = scratch
    frozen = root / "artifacts" / "frozen"
    before = {p.name: sha256_file(p) for p in frozen.iterdir()}
    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "--force", "--single-item", "frozen"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and not list(frozen.parent.glob(".frozen.*.tmp")):
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert {p.name: sha256_file(p) for p in frozen.iterdir()} == before
    _run([str(BIN / "dvc"), "repro", "--force", "--single-item", "frozen"], root, env)  # finishes; leftovers swept
    assert not list(frozen.parent.glob(".frozen.*.tmp"))
    assert {p.name: sha256_file(p) for p in frozen.iterdir()} == before


def test_exp_run_temp_lands_in_main_database(scratch: tuple[Path, dict[str, str]]) -> None:
    root, env = scratch
    before = len(_runs(root))
    # Another seed of the primary arm, added the way the README says: by overriding `arms`.
    arms = f"arms=[{','.join(RUNS)},coco-contrastive.s1]"
    _run([str(BIN / "dvc"), "exp", "run", "--temp", "-S", "seed=1", "-S", arms], root, env)
    runs = _runs(root)
    assert len(runs) > before
    assert any(r.data.tags.get("seed") == "1" for r in runs)
    assert any(r.info.run_name == "train/coco-contrastive.s1" for r in runs[: len(runs) - before])
    assert not list((root / ".dvc" / "tmp").rglob("mlflow.db")), "a temp copy must not keep its own database"


def test_embeddings_bit_identical_and_seed_sensitive(scratch: tuple[Path, dict[str, str]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark.config import load_params
    from benchmark.pipeline import evaluate

    root, env = scratch
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env.get("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlruns/mlflow.db"))
    if not (root / "data/bundle").is_dir():  # when run alone, without the end-to-end test
        from benchmark.data.spec import materialize

        materialize(root / "data/bundle")
    from benchmark.pipeline import frozen, images, runs, train

    out = root / "artifacts/predictions/coco-contrastive/retrieval.parquet"
    digests, weights = [], []
    for seed in (0, 0, 1):
        params = load_params(root / "params.yaml", {"seed": seed})
        runs.run(params)
        images.run(params)
        frozen.run(params)
        shutil.rmtree(root / "checkpoints", ignore_errors=True)  # train afresh, not resume
        train.run(params, "coco-contrastive")
        evaluate.run(params, "coco-contrastive", use_cache=False)
        digests.append(sha256_file(out) + sha256_file(out.with_name("tatoeba.parquet")))
        weights.append(json.loads((root / "artifacts/models/coco-contrastive/model.json").read_text())["weights_sha256"])
    assert weights[0] == weights[1], "same params, same machine: trained weights must be bit-identical"
    assert digests[0] == digests[1], "same params, same machine: predictions must be bit-identical"
    assert weights[0] != weights[2] and digests[0] != digests[2], "another seed must change the run"


def test_model_selection_by_both_protocols(scratch: tuple[Path, dict[str, str]],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With training.selection set, every checkpoint is a candidate scored by both protocols, the
    chosen one is exported, and switching protocol reuses the kept checkpoints instead of retraining."""
    from benchmark.config import load_params
    from benchmark.pipeline import frozen, images, runs, train
    from benchmark.training import checkpoint

    root, env = scratch
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlruns/mlflow.db")
    if not (root / "data/bundle").is_dir():
        from benchmark.data.spec import materialize

        materialize(root / "data/bundle")
    model, ckpts = root / "artifacts/models/coco-contrastive", root / "checkpoints/coco-contrastive"
    picked = {}
    for protocol in ("english_dev", "oracle_dev"):
        params = load_params(root / "params.yaml", {"training": {"checkpoint_every": 2, "selection": protocol}})
        runs.run(params)
        images.run(params)
        frozen.run(params)
        if protocol == "english_dev":
            shutil.rmtree(ckpts, ignore_errors=True)
        train.run(params, "coco-contrastive")
        picked[protocol] = json.loads((root / "metrics/train/coco-contrastive.json").read_text())["selection"]
        (key,) = [p for p in ckpts.iterdir() if p.is_dir()]
        kept = checkpoint.checkpoints(key)
        assert [p.name for p in kept] == ["step-00000002", "step-00000004", "step-00000006"]
        assert [(p / checkpoint.STATE_FILE).exists() for p in kept] == [False, False, True]  # weights only
        step = picked[protocol]["chosen_step"][protocol]
        assert json.loads((model / "model.json").read_text())["weights_sha256"] == \
            checkpoint.weights_sha256(checkpoint.step_dir(key, step))
    a, b = picked["english_dev"], picked["oracle_dev"]
    assert a["candidates"] == b["candidates"], "same checkpoints, same scores (no retraining in between)"
    assert [c["step"] for c in a["candidates"]] == [2, 4, 6] and a["chosen_step"] == b["chosen_step"]
    losses = [c["english_dev_log_loss"] for c in a["candidates"]]
    assert len(set(losses)) == 3, "each candidate's own weights must be scored"
    for protocol, step in a["chosen_step"].items():
        best = max(c[protocol] for c in a["candidates"])
        assert step == min(c["step"] for c in a["candidates"] if c[protocol] == best)
        assert all(0 <= c[protocol] <= 1 for c in a["candidates"])

    from benchmark.report import answer

    assert "training.selection: oracle_dev" in answer._selection_line(params)
    table = "\n".join(answer._selection_table(params))
    step = a["chosen_step"]["english_dev"]
    assert f"| coco-contrastive | 3 | {step} ({a['candidates'][step // 2 - 1]['english_dev']:.4f})" in table, table


def _long_training(root: Path, env: dict[str, str]) -> tuple[str, Path]:
    """params.yaml set to train coco-contrastive for 400 steps (long enough to kill mid-way), its
    upstream stages run and its checkpoints removed: (its stage, its checkpoint folder)."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["training"] = {**params.get("training", {}), "steps": 400, "checkpoint_every": 20}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run([str(BIN / "dvc"), "repro", "runs", "images", "frozen"], root, env)
    shutil.rmtree(root / "checkpoints" / "coco-contrastive", ignore_errors=True)
    return "train@coco-contrastive", root / "checkpoints" / "coco-contrastive"


def test_killed_dvc_repro_resumes_bit_identical(scratch: tuple[Path, dict[str, str]]) -> None:
    """SIGKILL `dvc repro` itself mid-training, rerun it: the same weights as an uninterrupted run."""
    root, env = scratch
    stage, ckpts = _long_training(root, env)

    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "--single-item", stage], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    killed_at = None
    deadline = time.monotonic() + 300
    while killed_at is None and proc.poll() is None and time.monotonic() < deadline:
        steps = [int(p.name.split("-")[1]) for p in ckpts.glob("*/step-*")]
        if steps and 100 <= max(steps) < 400:
            os.killpg(proc.pid, signal.SIGKILL)
            killed_at = max(steps)
        time.sleep(0.05)
    proc.wait()
    assert killed_at is not None, "training finished (or never checkpointed) before it could be killed"

    _run([str(BIN / "dvc"), "repro", "--single-item", stage], root, env)
    resumed = json.loads((root / "artifacts/models/coco-contrastive/model.json").read_text())
    resumed_metrics = json.loads((root / "metrics/train/coco-contrastive.json").read_text())

    shutil.rmtree(ckpts)
    _run([str(BIN / "dvc"), "repro", "--force", "--single-item", stage], root, env)
    fresh = json.loads((root / "artifacts/models/coco-contrastive/model.json").read_text())
    fresh_metrics = json.loads((root / "metrics/train/coco-contrastive.json").read_text())
    assert resumed["weights_sha256"] == fresh["weights_sha256"], f"killed at step {killed_at}"
    assert resumed_metrics["evidence"] == fresh_metrics["evidence"]
    assert resumed_metrics["budget"] == fresh_metrics["budget"]


def _session_members(session: int) -> list[str]:
    """Command lines of the live processes of ``session`` (a process group leader's pid), from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == session and "(Z)" not in (entry / "stat").read_text().split(")")[1][:3]:
                    out.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, ProcessLookupError):
                continue
    return out


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's")
def test_killing_dvc_alone_ends_its_stage(scratch: tuple[Path, dict[str, str]]) -> None:
    """SIGKILL to the `dvc` process only (not its group): the `benchmark train` it started ends too,
    instead of training on as an orphan holding the checkpoint lock, and a rerun resumes at once."""
    root, env = scratch
    stage, ckpts = _long_training(root, env)
    proc = subprocess.Popen([str(BIN / "dvc"), "repro", "--single-item", stage], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline and not list(ckpts.glob("*/step-*")):
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before DVC could be killed"
    assert any("benchmark train" in cmd for cmd in _session_members(proc.pid))
    os.kill(proc.pid, signal.SIGKILL)  # DVC alone
    proc.wait()
    deadline = time.monotonic() + 60
    while (left := [cmd for cmd in _session_members(proc.pid) if "benchmark" in cmd]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"still running after DVC was killed: {left}"
    _run([str(BIN / "dvc"), "repro", "--single-item", stage], root, env)  # the lock is free: resumes
    assert (root / "artifacts/models/coco-contrastive/model.json").is_file()
