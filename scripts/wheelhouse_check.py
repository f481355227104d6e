#!/usr/bin/env python3
"""Before a container build installs anything: can it? One line and a non-zero exit if not.

With ``--wheelhouse DIR`` (the Dockerfile's ``WHEELHOUSE`` build argument, a folder inside the build
context): the folder exists and holds a wheel or sdist for every pin of ``requirements.lock`` and for
the ``pip==`` that ``scripts/install.sh`` upgrades to, torch being a CPU build. Without it: the package
indexes pip would use (``PIP_INDEX_URL``, default PyPI, and ``PIP_EXTRA_INDEX_URL``: the PyTorch CPU
index in the Dockerfile) answer within ``--timeout`` seconds, so an offline build stops at once with
what to pass instead of pip's retries and tracebacks.

Standard library only: it runs on the base image's Python before any venv exists. Exit status 0 ok,
2 bad wheelhouse, 3 index unreachable. Fill a wheelhouse on a machine that reaches the indexes::

    pip download --no-deps -r requirements.lock pip==26.3 -d wheelhouse \
        --extra-index-url https://download.pytorch.org/whl/cpu

(where the torch CPU wheel is on disk and pip's find-links name it, the extra index can be left out).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

DEFAULT_INDEX = "https://pypi.org/simple"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"  # its torch-<v>+cpu outranks PyPI's CUDA torch-<v>
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path, install_sh: Path | None) -> dict[str, str]:
    """``name -> version`` of every exact pin in ``lock``, plus ``pip`` as ``install_sh`` upgrades it."""
    out = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip().removesuffix("\\").strip()
        if line and not line.startswith("--hash"):  # a pin's hashes continue it on the lines below
            name, _, version = line.partition("==")
            out[_norm(name)] = version.strip()
    if install_sh is not None and install_sh.exists():
        m = re.search(r"[\"']pip==([^\"'\s]+)[\"']", install_sh.read_text())
        if m:
            out["pip"] = m.group(1)
    return out


def _dist(filename: str) -> tuple[str, str] | None:
    """``(name, version)`` of a wheel or sdist file name, version without its local part."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        if len(parts) < 5:
            return None
        name, version = parts[0], parts[1]
    else:
        stem = next((filename[: -len(s)] for s in SDIST_SUFFIXES if filename.endswith(s)), None)
        if stem is None or "-" not in stem:
            return None
        name, version = stem.rsplit("-", 1)
    return _norm(name), version.split("+", 1)[0]


def fill_command(folder: str, install_sh: Path | None) -> str:
    """The command that fills ``folder`` (run where PyPI and, on x86_64, the PyTorch CPU index answer)."""
    pip = pins(Path(os.devnull), install_sh).get("pip")
    return (f"pip download --no-deps -r requirements.lock{f' pip=={pip}' if pip else ''} -d {folder} "
            f"--extra-index-url {TORCH_CPU_INDEX}")


def check_wheelhouse(path: str, lock: Path, install_sh: Path | None, context: Path) -> str | None:
    """None if ``path`` (relative to ``context``) can serve every pin offline, else why not (one line)."""
    fill = f"fill it with: {fill_command(path, install_sh)}"
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts or str(rel) in ("", "."):
        return (f"WHEELHOUSE={path}: must be a folder inside the build context, given relative to it "
                "(e.g. WHEELHOUSE=wheelhouse)")
    folder = context / rel
    if not folder.is_dir():
        return f"WHEELHOUSE={path}: no such folder in the build context ({fill})"
    files = [f.name for f in folder.iterdir() if f.is_file()]
    dists = {d for d in map(_dist, files) if d}
    if not dists:
        return f"WHEELHOUSE={path}: the folder holds no wheels ({fill})"
    need = pins(lock, install_sh)
    missing = [f"{n}=={v}" for n, v in need.items() if (n, v.split("+", 1)[0]) not in dists]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        return f"WHEELHOUSE={path}: lacks {len(missing)} of the {len(need)} pinned packages ({shown}); {fill}"
    torch = [f for f in files if f.startswith("torch-") and f.endswith(".whl") and "x86_64" in f]
    if torch and not any("+cpu" in f for f in torch):
        return (f"WHEELHOUSE={path}: {torch[0]} is PyPI's CUDA build of torch; put the CPU wheel there instead "
                f"(pip download --no-deps torch=={need.get('torch', '<pin>')} --index-url {TORCH_CPU_INDEX} -d {path})")
    return None


def probe(url: str, timeout: float) -> str | None:
    """None if ``url`` answers over HTTP(S) within ``timeout`` (any status: the server is there), else why."""
    try:
        req = urllib.request.Request(url.rstrip("/") + "/", method="HEAD")
        urllib.request.urlopen(req, timeout=timeout, context=ssl.create_default_context()).close()
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            return f"TLS certificate not verified ({reason.verify_message})"
        if isinstance(reason, socket.gaierror):
            return "name not resolved"
        return str(reason)
    except (OSError, ValueError) as e:  # timeouts, resets, a malformed URL
        return str(e) or type(e).__name__
    return None


def check_network(timeout: float, install_sh: Path | None) -> str | None:
    indexes = [os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX]
    indexes += os.environ.get("PIP_EXTRA_INDEX_URL", "").split()
    for url in indexes:
        why = probe(url, timeout)
        if why is not None:
            return (f"package index unreachable: {url} ({why}); build offline from a wheelhouse in the build "
                    f"context instead: --build-arg WHEELHOUSE=wheelhouse after {fill_command('wheelhouse', install_sh)}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheelhouse", default="", help="folder inside the build context (empty: use the indexes)")
    parser.add_argument("--context", default=".", help="the build context (default: the current folder)")
    parser.add_argument("--lock", default="requirements.lock", help="relative to --context")
    parser.add_argument("--install-sh", default="scripts/install.sh", help="relative to --context")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per index probe")
    args = parser.parse_args(argv)
    context = Path(args.context)
    if args.wheelhouse:
        why = check_wheelhouse(args.wheelhouse, context / args.lock, context / args.install_sh, context)
        if why:
            print(f"wheelhouse_check: {why}", file=sys.stderr)
            return 2
        print(f"wheelhouse_check: {args.wheelhouse} covers every pin of {args.lock}: installing offline")
        return 0
    why = check_network(args.timeout, context / args.install_sh)
    if why:
        print(f"wheelhouse_check: {why}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
