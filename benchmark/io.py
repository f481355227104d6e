"""Atomic file writes and content hashing: nothing is ever left half written."""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


class BenchmarkError(Exception):
    """A user-facing error: the CLI prints its message as one line and exits non-zero."""


def warn(message: str) -> None:
    """One line on stderr for something the user should know that does not stop the command."""
    print(f"benchmark: warning: {message}", file=sys.stderr)


def hub_error(what: str, err: Exception, *, local: bool = False) -> BenchmarkError:
    """One line for any failure to load a pinned model from the Hugging Face Hub (or, ``local``, from
    a ``save_pretrained`` directory)."""
    first = str(err).splitlines()[0] if str(err) else ""
    if local:
        return BenchmarkError(f"cannot load {what}: not a complete save_pretrained directory: "
                              f"{type(err).__name__}: {first}")
    return BenchmarkError(
        f"cannot load {what} from the Hugging Face Hub: source 'hf' needs network access to the Hub "
        f"or a populated HF cache (check HF_HUB_OFFLINE / HF_HOME): {type(err).__name__}: {first}"
    )


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_key(text: str) -> bytes:
    """A text's identity in every store keyed by content (embedding cache, frozen states)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual file mode
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield a temporary sibling directory; swap it in for ``path`` only if the block succeeds.

    The swap is two renames (POSIX has no atomic exchange of two directories): the old folder
    steps aside as a hidden ``.<name>.*.old`` sibling, the new one takes its name, then the old one
    is deleted. So at every moment one of them is complete on disk, and a writer killed between
    the renames loses nothing: the next writer of ``path`` puts the old folder back
    (:func:`recover_dir`). A killed writer's temporary directory is removed by the next one too, since
    in ``mini`` one is gigabytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover_dir(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        old = tmp.with_name(tmp.name.removesuffix(".tmp") + ".old")
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def recover_dir(path: Path | str) -> None:
    """Undo what a killed :func:`atomic_dir` left beside ``path``: its old folder returns if ``path``
    is missing (killed between the two renames); stale temporary and old copies are removed."""
    path = Path(path)
    olds = sorted(path.parent.glob(f".{path.name}.*.old"), key=lambda p: p.stat().st_mtime)
    if olds and not path.exists():
        os.replace(olds.pop(), path)
    for stale in [*olds, *path.parent.glob(f".{path.name}.*.tmp")]:
        shutil.rmtree(stale, ignore_errors=True)


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path | str, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def read_bytes(path: Path) -> bytes:
    """A file's bytes; missing or unreadable is one line naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: missing") from None
    except OSError as err:
        raise BenchmarkError(f"{path}: cannot read ({err.strerror or type(err).__name__})") from None


def read_lines(path: Path) -> list[str]:
    """A text file's lines (one FLORES or Tatoeba sentence each), with one-line errors.

    UTF-8 only (a leading byte-order mark is dropped); split on ``\\n`` alone (``str.splitlines``
    would also break on U+2028 etc. inside a sentence), and a trailing ``\\r`` is stripped from every
    line, so a CRLF copy gives exactly the sentences of the official LF file.
    """
    data = read_bytes(path)
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = skip + err.start
        line = data.count(b"\n", 0, offset) + 1
        raise BenchmarkError(f"{path}: not valid UTF-8: byte 0x{data[offset]:02x} at offset {offset} "
                             f"(line {line}): {err.reason}") from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
