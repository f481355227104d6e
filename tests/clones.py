"""A clone as DVC sees one: the repository's tracked files (uncommitted edits included, outputs not) in a
fresh folder, for the tests that run real `dvc` or check what a stage depends on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tracked_copy(root: Path) -> Path:
    """Every file `git ls-files` lists, copied under ``root`` (created); returns ``root``."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for rel in filter(None, files.split("\0")):
        if (REPO / rel).is_file():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, root / rel)
    return root
