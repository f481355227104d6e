"""Online, once: resolve an upstream to an immutable identity (``benchmark lock``), and download exactly
what the lock names, verified byte for byte (``benchmark fetch``).

Hub repositories go through the real ``huggingface_hub`` client (``HF_ENDPOINT`` names another Hub,
e.g. a mirror or the tests' loopback server); URLs through ``urllib``, streamed to disk and hashed as
they arrive (COCO's archives are gigabytes); a GitHub short SHA through GitHub's commits API
(``BENCHMARK_GITHUB_API`` names another). What they resolve is written to the lock
(:mod:`benchmark.data.lock`); nothing here is imported by a stage.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from benchmark.data.lock import Kind, Locked, LockedFile
from benchmark.io import BenchmarkError, atomic_dir, atomic_path, sha256_file

CHUNK = 1 << 20
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Need:
    """One upstream a profile reads: what the lock resolves and fetch downloads."""

    key: str  # the lock's key (benchmark.data.lock)
    kind: Kind
    where: str  # "<repo>" (Hub), the URL, or "<repo>@<short sha>" (GitHub)
    users: tuple[str, ...]  # what reads it, for the messages
    pinned: str | None = None  # the commit or sha256 the spec itself pins (then nothing to resolve)
    why: str = ""  # the spec's reason it has no immutable identity
    ref: str = "main"  # the branch a Hub repository is resolved from
    # whether a stage reads it (and refuses it unresolved, so `validate` must first); COCO and VQAv2's
    # archives feed only scripts/build_bundle.py today, and a GitHub commit's files are sha256-pinned
    read_by_stage: bool = True

    def line(self, entry: Locked | None) -> str:
        state = (f"pinned {self.pinned[:12]}" if self.pinned else f"locked {entry.resolved[:12]}" if entry
                 else f"UNRESOLVED ({self.why})" if self.why else "UNRESOLVED")
        return f"{self.key}: {state}; read by {', '.join(self.users)}"


def _hub_api():  # noqa: ANN202 - huggingface_hub.HfApi; imported here: only `lock` and `fetch` need it
    from huggingface_hub import HfApi

    return HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)


def _hub_error(need: Need, err: Exception) -> BenchmarkError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if type(err).__name__ == "OfflineModeIsEnabled":  # the client names one variable; either one sets it
        first = ("offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set): this command reaches "
                 "the Hub, unset both for it")
    return BenchmarkError(f"{need.key}: {type(err).__name__}: {first}")


def _snapshot(need: Need, commit: str, dest: Path) -> Path:
    """Every file of the repository at ``commit`` under ``dest``, through the Hub client."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(need.where, repo_type="dataset", revision=commit, local_dir=dest,
                                      endpoint=os.environ.get("HF_ENDPOINT") or None))
    except Exception as err:  # noqa: BLE001 - the client's many error types, each one line here
        raise _hub_error(need, err) from None


def _files(root: Path) -> dict[str, LockedFile]:
    return {p.relative_to(root).as_posix(): LockedFile(sha256=sha256_file(p), size=p.stat().st_size)
            for p in sorted(root.rglob("*")) if p.is_file() and ".cache" not in p.relative_to(root).parts}


def url_file(url: str) -> str:
    """A fetched URL's file name under ``data/full/url``: the last segment of its path."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def mirrored(url: str) -> str:
    """Where ``url`` is downloaded from: itself, or its copy on the HTTP mirror ``BENCHMARK_URL_MIRROR``
    names (``<mirror>/<host>/<path>``: a lab's cache of the upstream files, or the tests' loopback server).
    The lock keys and verifies the original URL's bytes either way: a mirror cannot substitute a file."""
    mirror = os.environ.get("BENCHMARK_URL_MIRROR", "").rstrip("/")
    if not mirror:
        return url
    _, _, rest = url.partition("://")
    return f"{mirror}/{rest}"


def stream(url: str, dest: Path, expected: str | None = None) -> tuple[str, int]:
    """Download ``url`` (from its mirror, if one is set) to ``dest``, hashing as it arrives: (sha256,
    size). Written atomically, and only if its sha256 is ``expected`` (when given): a mismatch leaves
    ``dest`` as it was."""
    digest, size = hashlib.sha256(), 0
    url = mirrored(url)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, atomic_path(dest) as tmp:  # noqa: S310
            with tmp.open("wb") as out:
                while chunk := resp.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            if expected is not None and digest.hexdigest() != expected:
                raise BenchmarkError(f"{url}: sha256 {digest.hexdigest()} differs from the locked {expected}")
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise BenchmarkError(f"download failed: {url}: {err}") from None
    return digest.hexdigest(), size


def resolve(need: Need) -> Locked:
    """``need`` resolved now: the commit its branch points to with every file's sha256 (Hub), the
    sha256 and size of its bytes (URL), or the full SHA (GitHub)."""
    when = date.today().isoformat()
    if need.kind == "hf-dataset":
        try:
            commit = need.pinned or _hub_api().dataset_info(need.where, revision=need.ref).sha
        except Exception as err:  # noqa: BLE001
            raise _hub_error(need, err) from None
        with tempfile.TemporaryDirectory(prefix="lock-") as tmp:
            files = _files(_snapshot(need, commit, Path(tmp)))
        return Locked(source=f"{need.where}@{need.pinned or need.ref}", resolved=commit, files=files, when=when)
    if need.kind == "url":
        with tempfile.TemporaryDirectory(prefix="lock-") as tmp:
            sha, size = stream(need.where, Path(tmp) / "download")
        return Locked(source=need.where, resolved=sha, size=size, when=when)
    repo, short = need.where.split("@")
    api = os.environ.get("BENCHMARK_GITHUB_API", "https://api.github.com").rstrip("/")
    url = f"{api}/repos/{repo}/commits/{short}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:  # noqa: S310
            sha = json.loads(resp.read())["sha"]
    except (urllib.error.URLError, TimeoutError, OSError, ValueError, KeyError) as err:
        raise BenchmarkError(f"{need.key}: {url}: {err}") from None
    if not sha.startswith(short):
        raise BenchmarkError(f"{need.key}: {url} answered {sha}, which does not start with {short}")
    return Locked(source=need.where, resolved=sha, when=when)


def fetch(need: Need, entry: Locked, dest: Path) -> Path:
    """What the lock names for ``need``, downloaded into ``dest`` and verified against it: every
    locked file of a Hub repository at the locked commit (whatever its branch points to now), or a
    URL's bytes. A file that differs is one line naming it, expected and actual; nothing half-written
    stays in ``dest``."""
    if need.kind == "hf-dataset":
        with atomic_dir(dest) as tmp:  # swapped in for dest only once every file is verified
            snap = _snapshot(need, entry.resolved, tmp)
            got = _files(snap)
            for path, want in entry.files.items():
                have = got.get(path)
                if have is None:
                    raise BenchmarkError(f"{need.key}@{entry.resolved[:12]}: {path}: missing from the download")
                if have.sha256 != want.sha256:
                    raise BenchmarkError(f"{need.key}@{entry.resolved[:12]}: {path}: sha256 {have.sha256} differs "
                                         f"from the locked {want.sha256}")
            extra = sorted(set(got) - set(entry.files))
            if extra:
                raise BenchmarkError(f"{need.key}@{entry.resolved[:12]}: {extra[0]}: not in the lock")
            shutil.rmtree(snap / ".cache", ignore_errors=True)  # the client's bookkeeping, not the dataset's
        return dest
    if need.kind == "url":
        stream(need.where, dest, expected=entry.resolved)
        return dest
    raise BenchmarkError(f"{need.key}: a GitHub commit is recorded, not fetched")
