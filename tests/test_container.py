"""The container build's input checks (scripts/wheelhouse_check.py, scripts/container_check.sh) on bad
input: one line and a non-zero exit, before anything is built. Offline and without a container engine;
the build itself is checked end to end by `bash scripts/container_check.sh` (docs/container.md)."""

from __future__ import annotations

import http.server
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECK = REPO / "scripts" / "wheelhouse_check.py"
sys.path.insert(0, str(REPO / "scripts"))
import wheelhouse_check  # noqa: E402


def _check(*args: str, cwd: Path = REPO, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | env
    return subprocess.run([sys.executable, str(CHECK), *args], cwd=cwd, env=environ, capture_output=True,
                          text=True, timeout=60)


def _one_line(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "" and proc.stderr.count("\n") == 1, (proc.stdout, proc.stderr)
    line = proc.stderr.strip()
    assert line.startswith("wheelhouse_check: ") and all(w in line for w in words), line
    return line


@pytest.fixture
def context(tmp_path: Path) -> Path:
    """A build context with the repository's lock and install script."""
    (tmp_path / "scripts").mkdir()
    for rel in ("requirements.lock", "scripts/install.sh"):
        (tmp_path / rel).write_bytes((REPO / rel).read_bytes())
    return tmp_path


def _fill(folder: Path, context: Path, skip: int = 0, torch: str = "+cpu") -> None:
    """Empty stand-ins named like the wheels of every pin (the check reads names only)."""
    folder.mkdir(exist_ok=True)
    pins = wheelhouse_check.pins(context / "requirements.lock", context / "scripts/install.sh")
    for name, version in list(pins.items())[skip:]:
        local = torch if name == "torch" else ""
        (folder / f"{name.replace('-', '_')}-{version}{local}-cp311-cp311-manylinux_2_28_x86_64.whl").touch()


def test_missing_wheelhouse_is_one_line_naming_it(context: Path) -> None:
    line = _one_line(_check("--context", str(context), "--wheelhouse", "wheels"), 2, "WHEELHOUSE=wheels", "no such folder")
    assert "pip download --no-deps -r requirements.lock pip==" in line  # what to run instead


def test_empty_wheelhouse_is_one_line(context: Path) -> None:
    (context / "wheels").mkdir()
    _one_line(_check("--context", str(context), "--wheelhouse", "wheels"), 2, "WHEELHOUSE=wheels", "no wheels")


@pytest.mark.parametrize("path", ["..", "/tmp/wheels", ".", "a/../../b"])
def test_wheelhouse_outside_the_context_is_refused(context: Path, path: str) -> None:
    _one_line(_check("--context", str(context), "--wheelhouse", path), 2, f"WHEELHOUSE={path}", "inside the build context")


def test_incomplete_wheelhouse_names_what_it_lacks(context: Path) -> None:
    _fill(context / "wheels", context, skip=3)
    line = _one_line(_check("--context", str(context), "--wheelhouse", "wheels"), 2, "lacks 3 of the")
    assert re.search(r"\(aiohappyeyeballs==[^,]+, aiohttp==", line), line


def test_cuda_torch_in_the_wheelhouse_is_refused(context: Path) -> None:
    _fill(context / "wheels", context, torch="")
    _one_line(_check("--context", str(context), "--wheelhouse", "wheels"), 2, "CUDA build of torch", "whl/cpu")


def test_complete_wheelhouse_passes(context: Path) -> None:
    _fill(context / "wheels", context)
    (context / "wheels" / "antlr4-python3-runtime-4.9.3.tar.gz").touch()  # an sdist counts too
    proc = _check("--context", str(context), "--wheelhouse", "wheels")
    assert proc.returncode == 0 and "covers every pin" in proc.stdout, proc.stderr


def test_pins_include_install_sh_pip() -> None:
    pins = wheelhouse_check.pins(REPO / "requirements.lock", REPO / "scripts/install.sh")
    assert pins["torch"] == "2.13.0" and re.fullmatch(r"\d+(\.\d+)+", pins["pip"])
    assert wheelhouse_check._dist("antlr4-python3-runtime-4.9.3.tar.gz") == ("antlr4-python3-runtime", "4.9.3")
    assert wheelhouse_check._dist("torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl") == ("torch", "2.13.0")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_index_is_one_line_with_what_to_pass(context: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/simple"
    line = _one_line(_check("--context", str(context), "--timeout", "2", PIP_INDEX_URL=url), 3,
                     "package index unreachable", url, "--build-arg WHEELHOUSE=wheelhouse")
    assert "Traceback" not in line


def test_reachable_indexes_pass(context: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        proc = _check("--context", str(context), PIP_INDEX_URL=f"{url}/simple", PIP_EXTRA_INDEX_URL=f"{url}/cpu")
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # a 404 is an answer: the server is there
    finally:
        server.shutdown()


def _container_check(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts/container_check.sh"), *args], cwd=REPO,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def _fail_line(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("container check: FAIL ("), proc.stdout
    assert all(w in proc.stdout for w in words), proc.stdout


def test_container_check_without_an_engine(tmp_path: Path) -> None:
    _fail_line(_container_check(CONTAINER_ENGINE=str(tmp_path / "nope")), "not found")


# `true` stands in for an engine that answers `info`: the checks below stop before it is asked to build.
def test_container_check_refuses_a_wheelhouse_outside_the_repository(tmp_path: Path) -> None:
    _fail_line(_container_check("--wheelhouse", str(tmp_path), "--logs", str(tmp_path / "logs"), CONTAINER_ENGINE="true"),
               "not inside the build context")


def test_container_check_names_a_missing_wheelhouse(tmp_path: Path) -> None:
    _fail_line(_container_check("--wheelhouse", "no-such-wheelhouse", "--logs", str(tmp_path / "logs"),
                                CONTAINER_ENGINE="true"), "WHEELHOUSE=no-such-wheelhouse", "no such folder")


def test_container_check_refuses_bad_arms(tmp_path: Path) -> None:
    _fail_line(_container_check("--arms", "baseline;rm", "--logs", str(tmp_path / "logs"), CONTAINER_ENGINE="true"),
               "--arms")


def test_dockerfile_checks_before_installing_and_keeps_no_wheelhouse() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    run = re.search(r"^RUN python3 scripts/wheelhouse_check.py .*?(?=^\s*$)", dockerfile, re.M | re.S)
    assert run, "the install stage runs the check"
    step = run.group(0)
    assert step.index("wheelhouse_check.py") < step.index("PIP_NO_INDEX=1") < step.index("bash scripts/install.sh")
    assert '"$WHEELHOUSE"' in step and "--find-links" not in step and 'PIP_FIND_LINKS="$PWD/$WHEELHOUSE"' in step
    final = dockerfile[dockerfile.rindex("\nFROM "):]
    assert "COPY --from=install /work/benchmark /work/benchmark" in final and "COPY . ." not in final
    assert "safe.directory /work/benchmark" in final  # .git travels in the context: DVC needs a repository
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".venv", "artifacts", "mlruns/*"} <= ignored and not ignored & {".git", "wheelhouse", "wheelhouse/"}
