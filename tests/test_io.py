"""Atomic writes: a folder swap never leaves a moment with neither the old nor the new folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmark import io


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_atomic_dir_swaps_in_the_new_folder_and_keeps_the_old_one_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "frozen"
    with io.atomic_dir(target) as tmp:
        (tmp / "states").write_bytes(b"old")
    with pytest.raises(RuntimeError), io.atomic_dir(target) as tmp:
        (tmp / "states").write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert _tree(target) == {"states": b"old"}
    with io.atomic_dir(target) as tmp:
        (tmp / "states").write_bytes(b"new")
    assert _tree(target) == {"states": b"new"} and sorted(p.name for p in tmp_path.iterdir()) == ["frozen"]


def test_a_writer_killed_between_the_two_renames_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old folder steps aside before the new one takes its name; a kill in between (here: the
    second rename fails) leaves the old one beside, and the next writer puts it back first."""
    target = tmp_path / "frozen"
    with io.atomic_dir(target) as tmp:
        (tmp / "states").write_bytes(b"old")
    real, calls = os.replace, []

    def replace_then_die(src, dst):  # the first rename succeeds, the process "dies" at the second
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(io.os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt), io.atomic_dir(target) as tmp:
        (tmp / "states").write_bytes(b"new")
    monkeypatch.setattr(io.os, "replace", real)
    assert not target.exists()
    old = [p for p in tmp_path.iterdir() if p.name.endswith(".old")]
    assert len(old) == 1 and _tree(old[0]) == {"states": b"old"}  # nothing lost: the old folder, complete
    io.recover_dir(target)
    assert _tree(target) == {"states": b"old"} and sorted(p.name for p in tmp_path.iterdir()) == ["frozen"]
