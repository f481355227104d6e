"""Where a pretrained Hugging Face model comes from: the Hub at a commit, or a local directory at a hash.

``source: hf`` names a model either as a Hub repository (``FacebookAI/xlm-roberta-large``) pinned by a
40-hex commit SHA, or as a local directory written by ``save_pretrained`` (a path starting with ``/``
or ``.``: an air-gapped copy, or the tiny random models the ``full`` rehearsal trains) pinned by
:func:`dir_pin`, a sha256 over its files. Both go through the same ``from_pretrained`` calls, so the
rehearsal exercises the loading code the study uses. ``benchmark pin-model DIR`` prints a directory's pin.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from benchmark.io import BenchmarkError, sha256_file

SHA40 = re.compile(r"^[0-9a-f]{40}$")
SHA64 = re.compile(r"^[0-9a-f]{64}$")


def is_local(name: str) -> bool:
    """A path, not a Hub id: explicit, so ``org/model`` never silently means a folder of that name."""
    return name.startswith(("/", "."))


def dir_pin(folder: Path | str) -> str:
    """sha256 over every file of ``folder`` (relative path and content sha256, sorted by path)."""
    folder = Path(folder)
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f"{path.relative_to(folder).as_posix()}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def check_revision(name: str, revision: str | None) -> str | None:
    """Why ``revision`` does not pin ``name`` (None if it does): a Hub model needs a commit SHA, a
    local directory the sha256 of :func:`dir_pin` (a branch name or a folder's mtime is not a pin)."""
    if is_local(name):
        if not (revision and SHA64.match(revision)):
            return f"a local model directory ({name}) is pinned by its 64-hex `benchmark pin-model` hash, got {revision!r}"
    elif not (revision and SHA40.match(revision)):
        return f"a Hub model ({name}) is pinned by a 40-hex commit SHA, got {revision!r}"
    return None


def local_depth(name: str) -> int | None:
    """The transformer depth a local model directory's ``config.json`` declares; None for a Hub id
    (unknown until it is downloaded) or a directory without one."""
    config = Path(name) / "config.json"
    if not (is_local(name) and config.is_file()):
        return None
    depth = json.loads(config.read_text()).get("num_hidden_layers")
    return depth if isinstance(depth, int) else None


def verify(what: str, name: str, revision: str | None) -> None:
    """Refuse, in one line, a pin that is malformed, a local directory that is missing or whose files
    no longer hash to ``revision``. Cheap enough for stage ``validate`` (it reads the files once)."""
    if (problem := check_revision(name, revision)) is not None:
        raise BenchmarkError(f"{what}: {problem}")
    if is_local(name):
        folder = Path(name)
        if not folder.is_dir():
            raise BenchmarkError(f"{what}: local model directory {name} does not exist")
        if (got := dir_pin(folder)) != revision:
            raise BenchmarkError(f"{what}: the files of {name} hash to {got}, not the pinned {revision}; "
                                 "re-pin with `benchmark pin-model` if the change is intended")


def from_pretrained_args(what: str, name: str, revision: str | None) -> dict[str, Any]:
    """Keyword arguments for ``X.from_pretrained(name, **kw)`` after :func:`verify`: a local directory
    is read as it is (its hash is the pin), a Hub model at its commit."""
    verify(what, name, revision)
    return {"local_files_only": True} if is_local(name) else {"revision": revision}
