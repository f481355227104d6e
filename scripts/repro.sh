#!/usr/bin/env bash
# The run command: install (first time only), then reproduce the pipeline offline. Extra args go to dvc repro.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
dvc repro "$@"
