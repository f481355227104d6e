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
from benchmark.targets.registry import TARGETS

REPO = Path(__file__).resolve().parents[1]


def _stage_files(command: str) -> set[str]:
    return imports.stage_files(command, {"benchmark.targets.registry": {t.module for t in TARGETS.values()}})


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
