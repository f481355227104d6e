#!/usr/bin/env python
"""Rewrite each dvc.yaml stage's package dependencies to exactly the modules its command imports.

The import closure is :mod:`benchmark.imports`' (static, lazy imports included, and each target
module the registry names); tests/test_dvc_graph.py fails until this has been run after an import
changes.
Only the ``- benchmark/<...>.py`` lines of a stage's ``deps`` are rewritten (sorted, in place of
the old ones); directories, data, comments and every other line stay as they are.

    python scripts/sync_dvc_deps.py [--check]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import yaml  # noqa: E402

from benchmark import imports  # noqa: E402
from benchmark.targets.registry import imported_by_name  # noqa: E402

MODULE_LINE = re.compile(r"^(\s+)- (benchmark/\S+\.py)\s*(#.*)?$")


def synced(text: str) -> str:
    stages = {name: spec.get("do", spec) for name, spec in yaml.safe_load(text)["stages"].items()}
    by_name = imported_by_name()
    lines, out, stage, pending = text.split("\n"), [], None, None
    for line in lines + [""]:
        m = re.match(r"^  ([a-z][\w-]*):", line)
        if m:
            stage = m.group(1)
        dep = MODULE_LINE.match(line)
        if dep and stage in stages:
            pending = pending or (dep.group(1), stage, {})
            if dep.group(3):
                pending[2][dep.group(2)] = dep.group(3)
            continue
        if pending:
            indent, name, comments = pending
            spec = stages[name]
            dirs = [d for d in spec.get("deps", []) if d.startswith("benchmark/") and (REPO / d).is_dir()]
            wanted = sorted(f for f in imports.stage_files(spec["cmd"].split()[1], by_name)
                            if not any(f.startswith(d.rstrip("/") + "/") for d in dirs))
            out += [f"{indent}- {f}" + (f"  {comments[f]}" if f in comments else "") for f in wanted]
            pending = None
        out.append(line)
    return "\n".join(out[:-1])


def main() -> int:
    path = REPO / "dvc.yaml"
    text = path.read_text(encoding="utf-8")
    new = synced(text)
    if "--check" in sys.argv:
        return int(new != text)
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
