"""Stage ``prepare``: verify the bundled data against its sha256 manifest and materialise it in ``data/``.

DVC tracks the manifest as this stage's dependency, so ``dvc.lock`` reaches the exact bytes used.
"""

from __future__ import annotations

from benchmark import paths
from benchmark.config import Params
from benchmark.data import spec
from benchmark.io import write_json
from benchmark.tracking import stage_run


def run(params: Params) -> None:
    spec.materialize(paths.BUNDLE)
    files = spec.read_manifest(paths.BUNDLE)["files"]
    rows = {name: meta["rows"] for name, meta in files.items() if "rows" in meta}
    with stage_run("prepare", params, "cpu") as run_:
        run_.set_tags({f"data.{name}.sha256": meta["sha256"] for name, meta in files.items()})
        run_.log_metrics({f"data.{name}.rows": n for name, n in rows.items()})
        write_json(paths.METRICS / "prepare.json", {"rows": rows, "mlflow_run_id": run_.run_id})
