#!/usr/bin/env bash
# The test command: install (first time only), then run the offline test suite. Extra args go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"
python -m pytest "$@"
