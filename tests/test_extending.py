"""docs/extending.md, held to its word: a toy target and a toy textual task, each declared in one module
outside the package (tests/toy_target.py, tests/toy_task.py, installed as a plugin under the entry-point
groups ``benchmark.targets`` and ``benchmark.tasks``), plus the target's block in ``benchmark/conf``,
run through `tiny` by `dvc repro`, with no other file of the package edited."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from clones import tracked_copy

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TOY_BLOCK = "  toy:\n    lines: 8\n"  # the target's whole params block, under `targets:` in config.yaml
ENTRY_POINTS = "[benchmark.targets]\ntoy = toy_target\n\n[benchmark.tasks]\ntoy = toy_task\n\n[benchmark.arms]\ntoy = toy_arm\n"


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 1200) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _plugin(folder: Path) -> Path:
    """The two toy modules as an installed distribution would leave them: the modules, and a
    ``.dist-info`` whose entry points name them (what ``pip install`` of a plugin writes)."""
    folder.mkdir()
    for name in ("toy_target.py", "toy_task.py", "toy_arm.py"):
        shutil.copy2(REPO / "tests" / name, folder / name)
    info = folder / "toy_extension-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-extension\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return folder


# What each addition asks of its author (files written by hand), as docs/extending.md's table states
# it; the slow test below checks that the package needs nothing more.
HAND_WRITTEN = {"a target": 2, "a textual task": 1, "an arm": 1}


def test_the_guide_states_the_file_counts_this_test_checks() -> None:
    rows = {}
    for line in (REPO / "docs" / "extending.md").read_text().splitlines():
        m = re.match(r"^\| (a target|a textual task|an arm)\b[^|]*\| (\d+): ", line)
        if m:
            rows[m.group(1)] = int(m.group(2))
    assert rows == HAND_WRITTEN


def test_the_plugin_is_found_and_its_arm_generated(tmp_path: Path) -> None:
    """Discovery alone, in a fresh process: the target joins the registry after the package's own, the
    task's arm is generated, the multi-task arms stay the paper's nine, the plugin's arm joins the
    arms, and a missing params block is one line."""
    plugins = _plugin(tmp_path / "plugins")
    code = ("from benchmark.targets.registry import TARGETS; from benchmark.arms import ARMS; "
            "print(list(TARGETS)); print(ARMS['toy-hellaswag'].tasks, len(ARMS['multitask'].tasks)); "
            "print(list(ARMS)[-1], ARMS['toy-caption-mlm'].objective); "
            "from benchmark.config import resolve; resolve({'profile': 'tiny'})")
    env = {**os.environ, "PYTHONPATH": str(plugins)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.stdout.splitlines() == ["['retrieval', 'sib', 'tatoeba', 'xtreme', 'toy']", "('toy_hellaswag',) 9", "toy-caption-mlm mlm"]
    assert proc.stderr.strip().splitlines()[-1] == (
        "benchmark.io.BenchmarkError: profile=tiny: targets.toy: missing (params.yaml lists every key: "
        "recompose it with `benchmark params --write`)")


@pytest.mark.slow
def test_a_toy_target_and_task_run_through_tiny(tmp_path: Path) -> None:
    root = tracked_copy(tmp_path / "repo")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": f"{root}{os.pathsep}{_plugin(tmp_path / 'plugins')}",
           "BENCHMARK_CACHE_DIR": str(tmp_path / "embcache"), "HF_HUB_OFFLINE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    _run(["git", "init", "-q"], root, env)
    _run([*git, "add", "-A"], root, env)
    _run([*git, "commit", "-qm", "clone"], root, env)

    # What docs/extending.md asks of a newcomer: the target's block in the conf (its module and the
    # task's spec are the plugin's). The run list is this test's choice, given on the command line.
    config = root / "benchmark" / "conf" / "config.yaml"
    text = config.read_text()
    assert "\n\nruntime:\n" in text
    config.write_text(text.replace("\n\nruntime:\n", f"\n{TOY_BLOCK}\nruntime:\n", 1))
    _run([str(BIN / "benchmark"), "params", "--write", "profile=tiny", "arms=[baseline,toy-hellaswag,toy-caption-mlm]"],
         root, env)
    changed = _run(["git", "status", "--porcelain"], root, env).stdout.split("\n")
    assert sorted(line[3:] for line in changed if line) == ["benchmark/conf/config.yaml", "params.yaml"]
    _run([*git, "commit", "-qam", "toy"], root, env)

    _run([str(BIN / "dvc"), "repro"], root, env, timeout=1800)

    # The target: scored for both runs from the run's one embedding pass, its items in the predictions.
    for run in ("baseline", "toy-hellaswag", "toy-caption-mlm"):
        metrics = json.loads((root / "metrics" / "evaluate" / run / "toy.json").read_text())
        assert metrics["items"] == 8 and metrics["languages"] == 4 and 0.0 <= metrics["mean_p_at_1"] <= 1.0
        embed = json.loads((root / "metrics" / "evaluate" / run / "embed.json").read_text())
        assert embed["targets"] == ["retrieval", "sib", "tatoeba", "toy"]
        preds = pd.read_parquet(root / "artifacts" / "predictions" / run / "toy.parquet")
        assert len(preds) == 4 * 8 and set(preds["language"]) == {"fra_Latn", "deu_Latn", "zho_Hans", "arb_Arab"}
    # The task: trained through the generated arm, its held-out evidence recorded.
    evidence = json.loads((root / "metrics" / "train" / "toy-hellaswag.json").read_text())["evidence"]
    assert evidence["heldout.toy_hellaswag.examples"] > 0
    assert "heldout.toy_hellaswag.accuracy.trained" in evidence
    # The arm: trained on COCO captions with images, its evidence that it learned and used them recorded.
    mlm = json.loads((root / "metrics" / "train" / "toy-caption-mlm.json").read_text())
    assert mlm["budget"] and mlm["evidence"]
    # The analysis compares the pair on the toy's score too, and the report names it.
    margins = pd.read_csv(root / "results" / "margins.csv")
    toy = margins[(margins["target"] == "toy_p_at_1") & (margins["group"] == "all")]
    # the plugin's arm is multimodal and toy-hellaswag textual: the research question's own comparison
    assert set(toy["comparison"]) == {"toy-hellaswag vs baseline", "toy-caption-mlm vs baseline",
                                      "toy-caption-mlm vs toy-hellaswag"}
    assert "Toy pivot P@1" in (root / "results" / "REPORT.md").read_text()
    assert "| Toy pivot P@1: Toy P@1 X→pivot |" in (root / "results" / "results.md").read_text()
    assert (root / "results" / "targets" / "toy.csv").exists() and (root / "results" / "targets" / "toy.png").exists()
