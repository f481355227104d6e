"""`benchmark lock` and `benchmark fetch --profile full` through the real protocols, on loopback: the
Hugging Face Hub client against a local Hub (tests/hub_server.py), GitHub's commits API likewise.

In a clone (the lock file it writes is the clone's), for `full` with a textual arm whose Hub repository
has no pinned commit (Cosmos QA, served as a parquet repository of real rows from ../shared): the lock
resolves the branch to its commit and every file's sha256; a moved branch changes nothing locked or
fetched; a file changed on the server under the locked commit is refused in one line; the fetched copy
is what the task loader then reads, offline; `--update` moves the pin on purpose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clones import tracked_copy
from hub_server import GITHUB, REPO_ID, SHARED, Hub, cosmos

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
