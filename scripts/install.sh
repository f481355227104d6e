#!/usr/bin/env bash
# Creates .venv from requirements.lock (idempotent: reinstalls only when the lock or pyproject changes).
# Sourced by scripts/repro.sh and scripts/test.sh; leaves .venv/bin first on PATH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.installed 2>/dev/null || true)" != "$want" ]; then
  echo "installing into .venv from requirements.lock ..."
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip==26.3"
  # torch first and alone: resolved as a dependency it would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q --disable-pip-version-check "torch==2.13.0"
  # Then every pin, each file checked against the lock's sha256s (torch, installed above, is kept).
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$want" > .venv/.installed
fi
export PATH="$PWD/.venv/bin:$PATH"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true DVC_NO_ANALYTICS=1
