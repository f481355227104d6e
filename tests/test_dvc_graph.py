"""dvc.yaml tells DVC the truth: each stage depends on exactly the package modules its command imports.

A module a stage imports but does not depend on is an edit DVC cannot see (the stage's results go
stale silently); a dependency it does not import reruns the stage for nothing (``frozen`` costs
minutes). The imports are read statically (``ast``), function-level imports included, starting
from the function ``benchmark/cli.py`` dispatches the stage's command to.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchmark import imports
from benchmark.targets.registry import imported_by_name

REPO = Path(__file__).resolve().parents[1]


def _stage_files(command: str) -> set[str]:
    return imports.stage_files(command, imported_by_name())


def _stages() -> dict[str, dict]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return {name: spec.get("do", spec) for name, spec in stages.items()}


def _package_deps(spec: dict) -> set[str]:
    """The stage's dependencies inside the package, as files (a directory stands for its .py files)."""
    files = set()
    for dep in spec.get("deps", []):
        path = REPO / dep
        if not dep.startswith("benchmark/"):
            continue
        assert path.exists(), f"dependency {dep} does not exist"
        # benchmark/conf holds YAML presets (and the Hydra plugin DVC loads to compose them), not stage code
        inside = {p for p in path.rglob("*.py") if not imports.docstring_only(p)} if path.is_dir() else {path}
        inside = {p for p in inside if "conf" not in p.relative_to(REPO).parts}
        files |= {p.relative_to(REPO).as_posix() for p in inside}
    return files


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_stage_depends_on_exactly_what_it_imports(stage: str) -> None:
    spec = _stages()[stage]
    imported = _stage_files(spec["cmd"].split()[1])
    declared = {dep for dep in _package_deps(spec) if dep.endswith(".py")}
    assert not imported - declared, f"{stage}: imports but does not depend on {sorted(imported - declared)}"
    assert not declared - imported, f"{stage}: depends on but never imports {sorted(declared - imported)}"


def test_every_stage_waits_for_the_params_gate() -> None:
    stages = _stages()
    for name, spec in stages.items():
        if name != "validate":
            assert "artifacts/validate/checked" in spec["deps"], name
    assert "params.yaml" in stages["validate"]["deps"] and "benchmark/conf" in stages["validate"]["deps"]


def test_bundled_files_are_a_dependency_of_prepare() -> None:
    assert "benchmark/data/bundle" in _stages()["prepare"]["deps"]


def _clone(tmp_path: Path) -> Path:
    """The tracked files of the repository, in a fresh git repository (no outputs: DVC's view of a clone)."""
    import subprocess

    from clones import tracked_copy

    root = tracked_copy(tmp_path / "repo")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _stages_seeing(root: Path, dep: str) -> set[str]:
    """The stages whose changed dependencies, as `dvc status` reports them, include ``dep``."""
    import json
    import os
    import subprocess
    import sys

    dvc = str(Path(sys.executable).parent / "dvc")
    out = subprocess.run([dvc, "status", "--json"], cwd=root, capture_output=True, text=True, check=True,
                         env={**os.environ, "DVC_NO_ANALYTICS": "1"}).stdout
    status = json.loads(out)
    return {stage.split(":")[-1] for stage, changes in status.items()
            for change in changes if isinstance(change, dict) and dep in change.get("changed deps", {})}


def test_an_edit_to_the_training_loop_reruns_only_what_runs_it(tmp_path: Path) -> None:
    """Editing training/trainer.py makes stale only the stages that run the loop: `train@*`, and
    `evaluate@*` (SIB-200's fine-tuning protocol and XTREME's third phase train through it) — not the
    gate, the frozen pass, the task states, the analysis or the report (tested through real `dvc status`)."""
    root = _clone(tmp_path)
    trainer = root / "benchmark" / "training" / "trainer.py"
    trainer.write_text(trainer.read_text() + "\n# an edit\n")
    stale = _stages_seeing(root, "benchmark/training/trainer.py")
    runs = yaml.safe_load((root / "params.yaml").read_text())["arms"]
    assert stale == {f"{stage}@{run}" for stage in ("train", "evaluate") for run in runs}, sorted(stale)
