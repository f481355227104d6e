"""Declarative dataset specs (MTEB ``TaskMetadata`` style) and verification of the bundled data.

A :class:`DatasetSpec` says what a dataset is, under which license, and how the ``full`` profile
fetches it (:class:`UpstreamPin`: a URL at an immutable commit plus the sha256 of every file).
The bundle shipped in ``bundle/`` is described by its ``MANIFEST.json``; every loader checks a file
against it before reading, so a corrupted or hand-edited bundle fails loudly instead of silently.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pyarrow.parquet as pq
from pydantic import Field, StringConstraints, model_validator

from benchmark.io import BenchmarkError, atomic_dir, atomic_path, sha256_bytes, sha256_file
from benchmark.schema import Frozen

BUNDLE_DIR = Path(__file__).parent / "bundle"
PINS_DIR = Path(__file__).parent / "pins"
MANIFEST = "MANIFEST.json"
DOWNLOAD_TIMEOUT_S = 60.0

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Commit = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{40}$")]
ShortCommit = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{7,39}$")]
RelPath = Annotated[str, StringConstraints(pattern=r"^[^/\\][^\\]*$")]


class _Pin(Frozen):
    repo: Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+$")]
    url_template: str  # contains "{path}", replaced by a key of ``files``
    files: Annotated[dict[RelPath, Sha256], Field(min_length=1)]

    def url(self, path: str) -> str:
        return self.url_template.format(path=path)

    def _check_template(self, rev: str) -> None:
        if "{path}" not in self.url_template:
            raise ValueError("url_template must contain '{path}'")
        # The URL itself must name the commit, so a moved branch or tag can never change the bytes.
        if f"/{rev}/" not in self.url_template:
            raise ValueError(f"url_template must contain the revision {rev} as a path segment")
        if any(".." in Path(p).parts for p in self.files):
            raise ValueError("file paths must stay inside the destination")


class UpstreamPin(_Pin):
    """Where the ``full`` profile downloads a dataset: files at one full (40-hex) commit SHA."""

    revision: Commit

    @model_validator(mode="after")
    def _revision_in_url(self) -> UpstreamPin:
        self._check_template(self.revision)
        return self


class UnresolvedPin(_Pin):
    """A pin whose full commit SHA is not known: only a short SHA. The sha256 of each file still
    guarantees the bytes, but the ref itself is ambiguous and should be resolved when online."""

    revision_short_unresolved: ShortCommit

    @model_validator(mode="after")
    def _revision_in_url(self) -> UnresolvedPin:
        self._check_template(self.revision_short_unresolved)
        return self


class DatasetSpec(Frozen):
    """Typed, validated description of one dataset."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+$")]
    description: str
    license: str
    license_url: str
    citation: str
    homepage: str
    languages: Annotated[tuple[str, ...], Field(min_length=1)]
    splits: Annotated[dict[str, Annotated[int, Field(gt=0)]], Field(min_length=1)]
    # An UnresolvedPin where only a short commit SHA is known (e.g. Tatoeba from LASER @ 74bc6ae7):
    # the sha256 of every file still fixes the bytes.
    upstream: UpstreamPin | UnresolvedPin
    # Secondary upstream sources (e.g. FLORES metadata lives in another repository).
    extra_upstream: dict[str, UpstreamPin | UnresolvedPin] = {}
    bundled_files: Annotated[tuple[RelPath, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _languages_sorted_unique(self) -> DatasetSpec:
        if list(self.languages) != sorted(set(self.languages)):
            raise ValueError("languages must be sorted and unique")
        return self


def load_pins(name: str) -> dict[str, Any]:
    """The generated pin file ``pins/<name>.json`` (written by ``scripts/build_bundle.py``)."""
    path = PINS_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: missing") from None


# --- bundle verification -------------------------------------------------------------------------


def read_manifest(data_dir: Path) -> dict[str, Any]:
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        raise BenchmarkError(f"{path}: missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise BenchmarkError(f"{path}: unreadable manifest ({e})") from None
    if not isinstance(files, dict):
        raise BenchmarkError(f"{path}: 'files' must be an object")
    return manifest


def _mismatch(path: Path, expected: str, got: str) -> BenchmarkError:
    return BenchmarkError(f"{path}: sha256 mismatch (expected {expected[:12]}…, got {got[:12]}…)")


def verify_file(data_dir: Path, name: str) -> Path:
    """Return ``data_dir/name`` after checking its sha256 against ``data_dir/MANIFEST.json``."""
    data_dir = Path(data_dir)
    entry = read_manifest(data_dir)["files"].get(name)
    if entry is None:
        raise BenchmarkError(f"{data_dir / MANIFEST}: no entry for {name!r}")
    path = data_dir / name
    if not path.is_file():
        raise BenchmarkError(f"{path}: missing")
    got = sha256_file(path)
    if got != entry["sha256"]:
        raise _mismatch(path, entry["sha256"], got)
    return path


def _verify_shape(path: Path, entry: dict[str, Any]) -> None:
    if "rows" not in entry:
        return
    meta = pq.read_metadata(path)
    if (meta.num_rows, meta.num_columns) != (entry["rows"], entry.get("columns", meta.num_columns)):
        raise BenchmarkError(
            f"{path}: expected {entry['rows']} rows x {entry.get('columns')} columns, "
            f"found {meta.num_rows} x {meta.num_columns}"
        )


def verify_bundle(data_dir: Path) -> dict[str, Any]:
    """Check every file of the manifest (sha256, and rows/columns for tables); return the manifest."""
    manifest = read_manifest(data_dir)
    for name, entry in sorted(manifest["files"].items()):
        _verify_shape(verify_file(data_dir, name), entry)
    return manifest


def materialize(dest: Path, source: Path = BUNDLE_DIR) -> Path:
    """Copy a verified bundle to ``dest``; ``dest`` is replaced only if everything succeeded."""
    manifest = verify_bundle(source)
    with atomic_dir(dest) as tmp:
        for name in [*sorted(manifest["files"]), MANIFEST]:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(source) / name, tmp / name)
        verify_bundle(tmp)  # the copies, not just the originals
    return Path(dest)


# --- upstream download (``full`` profile) -------------------------------------------------------


def download(url: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> bytes:
    """Fetch ``url``; any network failure becomes one BenchmarkError naming the URL."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https URLs from pins)
            return resp.read()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise BenchmarkError(f"download failed: {url}: {e}") from None


def _read_mirror(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise BenchmarkError(f"{path}: cannot read mirror file ({e.strerror})") from None


def fetch_pin(
    pin: UpstreamPin | UnresolvedPin,
    dest: Path,
    local: Callable[[str], str] = lambda p: p,
    mirror: Callable[[str], Path] | None = None,
) -> Path:
    """Download every pinned file into ``dest/local(path)``, verified, each written atomically.

    Files already present with the right checksum are kept, so an interrupted fetch resumes.
    ``mirror`` maps a pinned path to a local copy (an air-gapped mirror); it is checked against the
    same sha256 as a download would be.
    """
    dest = Path(dest)
    for path, expected in sorted(pin.files.items()):
        target = dest / local(path)
        if target.is_file() and sha256_file(target) == expected:
            continue
        url = pin.url(path)
        if mirror is not None:
            url = str(mirror(path))
            data = _read_mirror(Path(url))
        else:
            data = download(url)  # looked up at call time so tests can substitute it
        got = sha256_bytes(data)
        if got != expected:
            raise BenchmarkError(f"{url}: sha256 mismatch (expected {expected[:12]}…, got {got[:12]}…)")
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
    return dest


__all__ = [
    "BUNDLE_DIR",
    "DatasetSpec",
    "UnresolvedPin",
    "UpstreamPin",
    "download",
    "fetch_pin",
    "load_pins",
    "materialize",
    "read_manifest",
    "verify_bundle",
    "verify_file",
]
