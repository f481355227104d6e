"""The lock file: every pin that the specs could not give an immutable identity, resolved online once.

A spec names its upstream by what is known offline: a Hub dataset repository and the branch it was
read from, a URL, or a GitHub commit by its short SHA. ``benchmark lock`` (online) resolves each one a
profile needs — a Hub repository to its 40-hex commit and the sha256 and size of every file it will
read there; a URL to the sha256 and size of its bytes; a short SHA to the full one — and records it
in ``benchmark/data/lock.json``, committed beside the code, as a package manager's lock file. A
locked pin never moves unless ``benchmark lock --update KEY`` is asked to move it; ``benchmark fetch``
downloads exactly what the lock names and refuses any byte that differs.

Keys name the upstream, not who uses it: ``hf-dataset:<repo>`` (a commit is repository-wide),
``url:<url>``, ``github:<repo>@<short sha>``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationError, model_validator

from benchmark.data.spec import RelPath, Sha256
from benchmark.io import BenchmarkError, atomic_path
from benchmark.schema import Frozen

LOCK_FILE = Path(__file__).parent / "lock.json"
Kind = Literal["hf-dataset", "url", "github"]
KEY = re.compile(r"^(hf-dataset|url|github):\S+$")


class LockedFile(Frozen):
    sha256: Sha256
    size: Annotated[int, Field(ge=0)]


class Locked(Frozen):
    """One resolved pin. ``resolved``: the commit (Hub, GitHub) or the sha256 (URL)."""

    source: str  # what was asked: "<repo>@<ref>", or the URL
    resolved: Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{40}|[0-9a-f]{64})$")]
    files: dict[RelPath, LockedFile] = {}  # a Hub repository's files at that commit (what fetch verifies)
    size: Annotated[int, Field(ge=0)] | None = None  # a URL's bytes
    when: str  # ISO date of the resolution

    @model_validator(mode="after")
    def _shape(self) -> Locked:
        if self.files and len(self.resolved) != 40:
            raise ValueError("a locked repository's files need its 40-hex commit")
        return self


def key_of(kind: Kind, where: str) -> str:
    return f"{kind}:{where}"


def read(path: Path = LOCK_FILE) -> dict[str, Locked]:
    """The lock file (empty when absent: nothing locked yet); a malformed one is one line."""
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("expected an object of key -> entry")
        bad = next((key for key in raw if not KEY.match(key)), None)
        if bad is not None:
            raise ValueError(f"key {bad!r} is not hf-dataset:..., url:... or github:...")
        entries = {}
        for key, entry in sorted(raw.items()):
            try:
                entries[key] = Locked.model_validate(entry)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in (key, *first["loc"]))
                raise ValueError(f"{where}: {first['msg']}") from None
        return entries
    except ValueError as err:  # json's errors and pydantic's are ValueErrors too
        raise BenchmarkError(f"{path}: not a valid lock file ({err})") from None


def write(entries: dict[str, Locked], path: Path = LOCK_FILE) -> None:
    """The whole lock, sorted by key, written atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({k: entries[k].model_dump(mode="json", exclude_defaults=True)
                                   for k in sorted(entries)}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


LOCK: dict[str, Locked] = read()


def locked(key: str) -> Locked | None:
    """The lock's entry for ``key``, if it has one (as committed: read once per process)."""
    return LOCK.get(key)
