"""Add every file's sha256 to requirements.lock, so that `pip install --require-hashes` installs exactly
the files the lock was made from (scripts/lock.sh runs this; on purpose only, online).

For each ``name==version``: the sha256 of every file PyPI holds for that release (its wheels for every
platform and its sdist: PyPI's simple index, PEP 691 JSON), as pip-compile --generate-hashes writes
them. torch also gets the CPU build's wheels found in pip's find-links folders (PIP_FIND_LINKS; the
``+cpu`` wheels of download.pytorch.org/whl/cpu, which `scripts/install.sh` installs on x86_64 Linux).

    python scripts/hash_lock.py [requirements.lock]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import urllib.request
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version

INDEX = "https://pypi.org/simple"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)")


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except Exception:  # noqa: BLE001 - a file name neither form parses (an .exe, an .egg): not installable
        return None


def pypi_hashes(name: str, version: str) -> list[str]:
    req = urllib.request.Request(f"{INDEX}/{canonicalize_name(name)}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
        files = json.loads(resp.read())["files"]
    want = Version(version)
    return sorted({f["hashes"]["sha256"] for f in files
                   if _version_of(f["filename"]) == want and "sha256" in f.get("hashes", {})})


def local_hashes(name: str, version: str) -> list[str]:
    """Wheels of ``name`` ``version`` with any local label (``+cpu``) in the find-links folders."""
    out = []
    for folder in os.environ.get("PIP_FIND_LINKS", "").split():
        for wheel in sorted(Path(folder).glob("*.whl")) if Path(folder).is_dir() else []:
            wname, wversion, *_ = parse_wheel_filename(wheel.name)
            if wname == canonicalize_name(name) and wversion.public == version:
                out.append(hashlib.sha256(wheel.read_bytes()).hexdigest())
    return out


def main(path: Path) -> None:
    lines, pins = [], 0
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if not m:
            if line.startswith("#"):
                lines.append(line)
            continue  # an old hash line: written again below
        name, version = m.groups()
        hashes = sorted(set(pypi_hashes(name, version)) | set(local_hashes(name, version) if name == "torch" else []))
        if not hashes:
            raise SystemExit(f"hash_lock: {name}=={version}: no file on PyPI")
        lines.append(f"{name}=={version} \\")
        lines += [f"    --hash=sha256:{h}" + (" \\" if i < len(hashes) - 1 else "") for i, h in enumerate(hashes)]
        pins += 1
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    print(f"{path}: {pins} pins hashed")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "requirements.lock"))
