"""The package's architecture, kept: imports point down the layers, never up, and never round in a circle.

Each module belongs to one layer (by its folder, or listed below); a module may import modules of its
own layer or of a lower one, at module level or inside a function alike (benchmark.imports reads both).
Cycles are refused even within a layer. Importing the package and its schema loads no deep-learning
library, so `--help`, `benchmark params` and DVC's composition stay quick.
"""

from __future__ import annotations

import subprocess
import sys

from benchmark import imports

# Bottom to top. The folders show the layers: data -> models -> training -> targets -> analysis ->
# report -> pipeline (the stages). The blocks of params.yaml that models and training take sit below
# them; the schema that assembles params.yaml sits above the targets whose blocks it validates, and
# tracking beside the stages.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("benchmark", "benchmark.io", "benchmark.determinism", "benchmark.cache", "benchmark.paths",
              "benchmark.imports", "benchmark.mlflow_store", "benchmark.mlflow_sqlite", "benchmark.profiles",
              "benchmark.schema")),
    # specs and the readers of their files; models.pretrained: how a model is pinned (the blocks check pins)
    ("data", ("benchmark.data", "benchmark.armspec", "benchmark.arms", "benchmark.models.pretrained")),
    ("blocks", ("benchmark.blocks",)),
    ("models", ("benchmark.models",)),
    ("training", ("benchmark.training",)),
    ("targets", ("benchmark.targets",)),
    ("schema", ("benchmark.config",)),
    ("analysis", ("benchmark.analysis",)),
    ("tracking", ("benchmark.tracking",)),
    ("report", ("benchmark.report",)),
    ("pipeline", ("benchmark.pipeline", "benchmark.plan")),
    ("commands", ("benchmark.cli", "benchmark.__main__", "benchmark.evaluate")),
)


def layer_of(module: str) -> int:
    """The index of ``module``'s layer: the longest listed prefix wins (``benchmark.models.pretrained``
    over ``benchmark.models``; ``benchmark`` itself only for the package and its top-level files listed)."""
    best, where = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, where = len(prefix), i
    assert where is not None and (best > len("benchmark") or module == "benchmark"), f"{module}: in no layer"
    return where


def _graph() -> dict[str, set[str]]:
    return {module: imports.imports_of(module) for module in imports.modules()}


def test_every_module_has_a_layer() -> None:
    for module in imports.modules():
        layer_of(module)


def test_imports_point_down() -> None:
    upward = sorted(f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
                    for m, targets in _graph().items() for t in targets if layer_of(t) > layer_of(m))
    assert not upward, "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles() -> None:
    # A package's __init__ importing its own submodule is no cycle of code: leave those edges out.
    graph = {m: {t for t in targets if not m or not t.startswith(m + ".")} for m, targets in _graph().items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_one() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_importing_the_package_and_its_schema_loads_no_deep_learning_library() -> None:
    code = ("import sys, benchmark, benchmark.config, benchmark.cli; "
            "print(sorted(m for m in ('torch', 'transformers', 'tokenizers', 'sklearn', 'mlflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_stages_never_import_each_other() -> None:
    """A stage's module imports helpers, never another stage (dvc.yaml: one stage, one entry point)."""
    import yaml

    stages = yaml.safe_load((imports.REPO / "dvc.yaml").read_text())["stages"]
    commands = {spec.get("do", spec)["cmd"].split()[1] for spec in stages.values()}
    entries = {m for command in commands for m in imports.entry_modules(command) if m.startswith("benchmark.pipeline.")}
    assert len(entries) >= 8, entries
    assert {(m, t) for m in entries for t in imports.imports_of(m) & entries} == set()
