"""dvc.yaml tells DVC the truth: each stage depends on exactly the package modules its command imports.

A module a stage imports but does not depend on is an edit DVC cannot see (the stage's results go
stale silently); a dependency it does not import reruns the stage for nothing (``frozen`` costs
minutes). The imports are read statically (``ast``), function-level imports included, starting
from the function ``benchmark/cli.py`` dispatches the stage's command to.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# Modules that cannot change what a stage writes, so no stage depends on them (or the first edit
# to them would rerun the whole pipeline): the command-line dispatch, the MLflow side channel, and
# the params schema, whose values DVC tracks key by key and whose checks stage `validate` runs.
# Empty or docstring-only ``__init__.py`` files run nothing and are skipped too.
EXEMPT = {"benchmark/__init__.py", "benchmark/__main__.py", "benchmark/cli.py", "benchmark/tracking.py",
          "benchmark/mlflow_sqlite.py", "benchmark/config.py"}


def _file(module: str) -> Path | None:
    path = REPO / Path(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported(tree: ast.AST, package: str) -> set[str]:
    """Every ``benchmark`` module an AST imports, at any depth (lazy imports count)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    found = set()
    for name in names:
        while name.startswith("benchmark") and _file(name) is None:
            name = name.rpartition(".")[0]
        if name.startswith("benchmark"):
            found.add(name)
    return found


def _docstring_only(path: Path) -> bool:
    """An ``__init__.py`` with nothing but a docstring runs no code a stage could depend on."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def _closure(roots: set[str], exempt: set[str] = EXEMPT) -> set[str]:
    files: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        path = _file(module)
        rel = path.relative_to(REPO).as_posix()
        if rel in files or rel in exempt or _docstring_only(path):
            continue
        files.add(rel)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        todo.extend(_imported(ast.parse(path.read_text(encoding="utf-8")), package) | parents)
        if rel == "benchmark/targets/registry.py":  # it imports each target's module by name (TargetSpec.module)
            from benchmark.targets.registry import TARGETS

            todo.extend(t.module for t in TARGETS.values())
    return files


def _entry_modules(command: str) -> set[str]:
    """What ``benchmark <command>`` imports: the body of its handler in cli.py."""
    tree = ast.parse((REPO / "benchmark" / "cli.py").read_text(encoding="utf-8"))
    handler = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == f"_{command.replace('-', '_')}")
    return _imported(handler, "benchmark")


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
        inside = {p for p in path.rglob("*.py") if not _docstring_only(p)} if path.is_dir() else {path}
        inside = {p for p in inside if "conf" not in p.relative_to(REPO).parts}
        files |= {p.relative_to(REPO).as_posix() for p in inside}
    return files


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_stage_depends_on_exactly_what_it_imports(stage: str) -> None:
    spec = _stages()[stage]
    command = spec["cmd"].split()[1]
    # The gate's own output is the verdict of the schema's checks: there config.py is the content.
    exempt = EXEMPT - {"benchmark/config.py"} if stage == "validate" else EXEMPT
    imported = _closure(_entry_modules(command), exempt)
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
