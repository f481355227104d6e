"""`benchmark lock` and `benchmark fetch --profile full` through the real protocols, on loopback: the
Hugging Face Hub client against a local Hub (tests/hub_server.py), GitHub's commits API likewise.

In a clone (the lock file it writes is the clone's), for `full` with a textual arm whose Hub repository
has no pinned commit (Cosmos QA, served as a parquet repository of real rows from ../shared): the lock
resolves the branch to its commit and every file's sha256; a moved branch changes nothing locked or
fetched; a file changed on the server under the locked commit is refused in one line; the fetched copy
is what the task loader then reads, offline; `--update` moves the pin on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clones import tracked_copy
from hub_server import GITHUB, REPO_ID, SHARED, Hub, cosmos

from benchmark.data import xtreme as XT

pytestmark = pytest.mark.slow  # a clone and a dozen `benchmark` processes: about a minute

BIN = Path(sys.executable).parent
KEY = f"hf-dataset:{REPO_ID}"
PROFILE = ["--profile", "full", "arms=[baseline,cosmosqa]", "targets.xtreme.tasks=[]"]


def _benchmark(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "benchmark"), *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.skipif(not (SHARED / "cosmosqa").is_dir(), reason="../shared/data is absent (fresh clone)")
def test_lock_fetch_and_refusals_on_loopback(tmp_path: Path) -> None:
    root = tracked_copy(tmp_path / "repo")
    lock_file = root / "benchmark" / "data" / "lock.json"
    with Hub() as hub:
        first = hub.push(REPO_ID, cosmos(0, 100))
        hub.github |= GITHUB
        env = hub.env({**os.environ, "PYTHONPATH": str(root), "HF_HOME": str(tmp_path / "hf"),
                       "HF_HUB_DISABLE_TELEMETRY": "1"})

        # Offline, before: the upstreams listed, the unresolved ones named, a non-zero exit.
        check = _benchmark(root, env, "lock", "--check", *PROFILE)
        assert check.returncode == 2, check.stderr
        assert f"{KEY}: UNRESOLVED" in check.stdout
        assert check.stderr.strip() == ("benchmark: error: 3 upstream(s) of profile full have no immutable "
                                        "identity; resolve them online with `benchmark lock`")
        # ... and validate's run checks refuse the configuration with the command that fixes it (a
        # snapshot folder present: its own check comes first).
        (root / "data" / "full" / "flores200").mkdir(parents=True)
        refused = _benchmark(root, env, "params", "--write", "profile=full", *PROFILE[2:])
        assert refused.returncode == 2 and "`benchmark lock --profile full`" in refused.stderr, refused.stderr

        # Offline mode left on (either variable): one line saying what to unset, nothing written.
        refused = _benchmark(root, {**env, "TRANSFORMERS_OFFLINE": "1"}, "lock", *PROFILE)
        assert refused.returncode == 2 and refused.stderr.strip().splitlines()[-1] == (
            f"benchmark: error: {KEY}: OfflineModeIsEnabled: offline mode is on (HF_HUB_OFFLINE or "
            "TRANSFORMERS_OFFLINE is set): this command reaches the Hub, unset both for it"), refused.stderr
        assert json.loads(lock_file.read_text()) == {}

        locked = _benchmark(root, env, "lock", *PROFILE)
        assert locked.returncode == 0, locked.stderr
        entry = json.loads(lock_file.read_text())[KEY]
        assert entry["resolved"] == first and entry["source"] == f"{REPO_ID}@main"
        assert sorted(entry["files"]) == sorted(cosmos(0, 100))
        assert json.loads(lock_file.read_text())["github:facebookresearch/LASER@74bc6ae7"]["resolved"] == \
            GITHUB["facebookresearch/LASER@74bc6ae7"]
        assert _benchmark(root, env, "lock", "--check", *PROFILE).returncode == 0

        # The branch moves on the server: nothing locked moves, and fetch takes the locked commit.
        before = lock_file.read_bytes()
        second = hub.push(REPO_ID, cosmos(100, 200))
        assert _benchmark(root, env, "lock", *PROFILE).returncode == 0 and lock_file.read_bytes() == before
        fetched = _benchmark(root, env, "fetch", *PROFILE, "--mirror", str(SHARED), "--dest", "data/full")
        assert fetched.returncode == 0, fetched.stderr
        copy = root / "data" / "full" / "hub" / REPO_ID
        for path, data in cosmos(0, 100).items():
            assert (copy / path).read_bytes() == data, path

        # The task loader reads that copy, offline.
        code = ("from pathlib import Path; from benchmark.data.task_tables import load_task; "
                "t = load_task('cosmosqa', 'hub', Path('data')); print(len(t['train']), len(t['heldout']))")
        offline = {**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
        loaded = subprocess.run([sys.executable, "-c", code], cwd=root, env=offline, capture_output=True, text=True)
        assert loaded.stdout.split() == ["60", "40"], loaded.stderr[-2000:]

        # A file changed under the locked commit: one line naming it, expected and actual; the copy stays.
        train = "data/train-00000-of-00001.parquet"
        hub.tamper(REPO_ID, first, train, cosmos(100, 200)[train])
        tampered = _benchmark(root, env, "fetch", *PROFILE, "--mirror", str(SHARED), "--dest", "data/full")
        assert tampered.returncode == 2
        message = tampered.stderr.strip().splitlines()[-1]
        assert message.startswith(f"benchmark: error: {KEY}@{first[:12]}: {train}: sha256 ")
        assert message.endswith(f"differs from the locked {entry['files'][train]['sha256']}")
        assert (copy / train).read_bytes() == cosmos(0, 100)[train]

        # Moved on purpose: --update resolves the branch again.
        moved = _benchmark(root, env, "lock", "--update", KEY, *PROFILE)
        assert moved.returncode == 0, moved.stderr
        assert json.loads(lock_file.read_text())[KEY]["resolved"] == second


@pytest.mark.skipif(not (SHARED / "xquad").is_dir(), reason="../shared/data is absent (fresh clone)")
def test_xtreme_locked_fetched_unpacked_and_read_offline(tmp_path: Path) -> None:
    """XTREME's third phase from its official archives: `benchmark lock` records every archive's sha256
    (through the URL mirror), `benchmark fetch` verifies and extracts each where its reader looks, and
    every task's test files (every language) and English training data are then read offline."""
    from upstreams import HUB_REPOS, XTREME_REPOS, XTREME_URLS

    root = tracked_copy(tmp_path / "repo")
    tasks = ["xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "belebele"]
    profile = ["--profile", "full", "arms=[baseline]", f"targets.xtreme.tasks=[{','.join(tasks)}]"]
    belebele_train = str(XT.TARGETS["belebele"].train_source.url)
    with Hub() as hub:
        for repo, (commit, files) in {**HUB_REPOS, **XTREME_REPOS}.items():
            hub.push(repo, files, sha=commit)
        for url, data in {**XTREME_URLS, belebele_train: b"# a stand-in for the assembling script\n"}.items():
            hub.serve(url, data)
        hub.github |= GITHUB
        env = hub.env({**os.environ, "PYTHONPATH": str(root), "HF_HOME": str(tmp_path / "hf")})
        locked = _benchmark(root, env, "lock", *profile)
        assert locked.returncode == 0, locked.stderr
        lock = json.loads((root / "benchmark" / "data" / "lock.json").read_text())
        for url, data in XTREME_URLS.items():  # XQuAD's files are pinned by the spec: nothing to record
            assert "xquad" in url or lock[f"url:{url}"]["resolved"] == hashlib.sha256(data).hexdigest(), url
        fetched = _benchmark(root, env, "fetch", *profile, "--mirror", str(SHARED), "--dest", "data/full")
        assert fetched.returncode == 0, fetched.stderr
    assert sorted(p.name for p in (root / "data" / "full" / "xtreme").iterdir()) == sorted(
        ["xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa"])  # Belebele is read from its Hub copy
    assert (root / "data" / "full" / "xtreme" / "panx" / "sw-test").is_file()  # nested archives, renamed

    code = """
import json, sys
from pathlib import Path
from benchmark.data import xtreme
from benchmark.io import BenchmarkError
from benchmark.targets import xtreme as target, xtreme_score
out = {}
for name in sys.argv[1:]:
    spec = xtreme.TARGETS[name]
    tables = target.test_tables(spec, Path("data"))
    out[name] = {"languages": len(tables), "rows": sum(len(t) for t in tables.values())}
    try:
        out[name]["train"] = len(xtreme_score.english_train(spec, Path("data")))
    except BenchmarkError as err:
        out[name]["train"] = str(err)
print(json.dumps(out))
"""
    offline = {**env, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9", "BENCHMARK_URL_MIRROR": ""}
    read = subprocess.run([sys.executable, "-c", code, *tasks], cwd=root, env=offline, capture_output=True, text=True)
    assert read.returncode == 0, read.stderr[-3000:]
    got = json.loads(read.stdout)
    assert {name: v["languages"] for name, v in got.items()} == {
        name: len(XT.TARGETS[name].languages) for name in tasks}
    assert all(v["rows"] > 0 for v in got.values())
    assert {name: v["train"] for name, v in got.items() if name != "belebele"} == {
        "xnli": 48, "pawsx": 48, "udpos": 48, "panx": 48, "xquad": 48, "mlqa": 48, "tydiqa": 97}
    assert got["belebele"]["train"].startswith("Belebele: ")
