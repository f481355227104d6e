"""Imported by Hydra's plugin scan when DVC composes params.yaml (``.dvc/config``: hydra.plugins_path):
registers the resolver behind ``checked_by`` in ``benchmark/conf/config.yaml``, so a bad ``dvc exp run
-S`` value stops the composition itself, before DVC writes params.yaml or checks out (and so unlinks)
a single output.

Besides the keys, the run list is checked as ``benchmark validate`` checks it (comparisons, batch
sizes, device, the data the profile reads), so ``-S profile=full`` without its snapshot is refused
before params.yaml changes. A refusal is one line and exit status 2, as for every ``benchmark``
command: OmegaConf would wrap the error in its own and DVC print that as an "unexpected error" with its
support banner, so the line is printed here and the composition ends with ``SystemExit``, which
neither catches (DVC's ``finally`` blocks still restore what it had stashed).
"""

import sys

from benchmark.config import register_checks
from benchmark.io import BenchmarkError
from benchmark.pipeline.validate import check_composed


def _exit_in_one_line(err: BenchmarkError) -> None:
    print(f"benchmark: error: {err}", file=sys.stderr)
    raise SystemExit(2)


register_checks(after=check_composed, refuse=_exit_in_one_line)
