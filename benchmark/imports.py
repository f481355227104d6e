"""The package's own import graph, read statically (``ast``): what each module imports, at module level
and inside functions alike (a lazy import is still a dependency). Used by the layer test
(tests/test_layers.py), by dvc.yaml's dependency check (tests/test_dvc_graph.py) and by
``scripts/sync_dvc_deps.py``, which writes each stage's dependencies from it.

Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent  # the ``benchmark`` package
REPO = ROOT.parent


def module_file(module: str) -> Path | None:
    """The file of a ``benchmark...`` module (a package's ``__init__.py``); None if there is none."""
    path = REPO / Path(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (Hydra's plugin folder aside: DVC loads it by path)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if "hydra_plugins" not in parts:
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported(tree: ast.AST, package: str) -> set[str]:
    """Every ``benchmark`` module an AST imports, at any depth (lazy imports count), each resolved to
    the module that holds the name (``from benchmark.x import f`` is ``benchmark.x``)."""
    names: set[str] = set()
    todo = [tree]
    while todo:
        node = todo.pop()
        if _type_checking(node):
            continue
        todo.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:  # a submodule is imported as itself; any other name, from ``base``
                names.add(f"{base}.{alias.name}" if module_file(f"{base}.{alias.name}") else base)
    found = set()
    for name in names:
        while name.startswith("benchmark") and module_file(name) is None:
            name = name.rpartition(".")[0]
        if name.startswith("benchmark"):
            found.add(name)
    return found


def imports_of(module: str) -> set[str]:
    """What ``module`` imports, itself and a package importing its own submodules' names aside."""
    path = module_file(module)
    assert path is not None, module
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imported(ast.parse(path.read_text(encoding="utf-8")), package) - {module}


def docstring_only(path: Path) -> bool:
    """An ``__init__.py`` with nothing but a docstring runs no code anything could depend on."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def closure(roots: set[str], exempt: Collection[str] = (), by_name: Mapping[str, Collection[str]] | None = None
            ) -> set[str]:
    """The files (relative to the repository) that importing ``roots`` runs: each module, what it
    imports, and its parent packages, transitively; ``exempt`` files and docstring-only packages left
    out. ``by_name``: the modules a module imports by name at run time (the target registry imports
    each target's module, ``TargetSpec.module``), which no ``import`` statement shows."""
    files: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        path = module_file(module)
        assert path is not None, module
        rel = path.relative_to(REPO).as_posix()
        if rel in files or rel in exempt or docstring_only(path):
            continue
        files.add(rel)
        parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        todo.extend(imports_of(module) | parents | set((by_name or {}).get(module, ())))
    return files


# What dvc.yaml's stage dependencies leave out: modules that cannot change what a stage writes, so no
# stage depends on them (or the first edit to them would rerun the whole pipeline): the command-line
# dispatch, the MLflow side channel, and the params schema, whose values DVC tracks key by key and
# whose checks stage `validate` runs (validate alone depends on it: there it is the content).
STAGE_EXEMPT = frozenset({"benchmark/__init__.py", "benchmark/__main__.py", "benchmark/cli.py",
                          "benchmark/tracking.py", "benchmark/mlflow_store.py", "benchmark/mlflow_sqlite.py",
                          "benchmark/config.py"})


def entry_modules(command: str) -> set[str]:
    """What ``benchmark <command>`` imports: the body of its handler in cli.py."""
    tree = ast.parse((ROOT / "cli.py").read_text(encoding="utf-8"))
    name = f"_{command.replace('-', '_')}"
    handler = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
    return imported(handler, "benchmark")


def stage_files(command: str, by_name: Mapping[str, Collection[str]] | None = None) -> set[str]:
    """The package files a stage running ``benchmark <command>`` depends on (see STAGE_EXEMPT)."""
    exempt = STAGE_EXEMPT - {"benchmark/config.py"} if command == "validate" else STAGE_EXEMPT
    return closure(entry_modules(command), exempt, by_name)
