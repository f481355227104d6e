"""`validate` refuses, from params alone, everything a later stage would fail on after DVC had deleted its
outputs: a run list with nothing to compare, a batch too small for one example of a run's task, a device
this machine lacks, the upstream snapshot a profile reads. Each case below names the stage that used
to fail late and shows the stage's own error and the gate's, the gate's first (the slow test in
tests/test_pipeline.py runs the same refusals through real `dvc exp run` and `dvc repro`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from benchmark.config import resolve, write_params
from benchmark.io import BenchmarkError
from benchmark.pipeline import validate

CASES = {
    # analysis: "no two arms to compare" after every run had trained and been evaluated
    "tiny-alone": ({"profile": "tiny", "arms": ["baseline"]}, r"arms \['baseline'\]: no two arms to compare"),
    "textual-alone": ({"profile": "tiny", "arms": ["hellaswag"]}, r"arms \['hellaswag'\]: no two arms to compare"),
    # train@hellaswag: a 4-way choice does not fit 2 rows (after frozen, task-states, ... had run)
    "batch-below-choices": ({"profile": "tiny", "arms": ["baseline", "hellaswag"], "training": {"batch_size": 2}},
                            r"training.batch_size=2: run hellaswag trains hellaswag, whose examples are 4 encoder "
                            r"rows each \(a 4-way choice\); it needs at least 4"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_gate_refuses_what_a_later_stage_would(case: str) -> None:
    overrides, message = CASES[case]
    with pytest.raises(BenchmarkError, match=message):
        validate.check_composed(resolve(overrides))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the request is valid here")
def test_a_device_this_machine_lacks_is_refused_by_the_gate() -> None:
    with pytest.raises(BenchmarkError, match=r"runtime.device: device 'cuda' requested but no CUDA device"):
        validate.check_composed(resolve({"profile": "tiny", "runtime": {"device": "cuda"}}))


def test_full_without_its_snapshot_is_refused_by_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BenchmarkError, match=r"data/full: upstream snapshot missing; run `benchmark fetch`"):
        validate.check_composed(resolve({"profile": "full", "runtime": {"device": "cpu"}}))


def test_every_default_profile_passes_the_gate_where_it_can_run() -> None:
    for profile in ("tiny", "smoke", "mini"):
        validate.check_composed(resolve({"profile": profile}))


def test_the_stage_refuses_before_writing_its_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage itself: one line, and `artifacts/validate/checked` (every stage's dependency) untouched."""
    monkeypatch.chdir(tmp_path)
    params = tmp_path / "params.yaml"
    write_params(params, ["profile=tiny", "training.batch_size=2", "arms=[baseline,hellaswag]"])
    gate = tmp_path / "artifacts" / "validate" / "checked"
    gate.parent.mkdir(parents=True)
    gate.write_text("from an earlier check\n")
    with pytest.raises(BenchmarkError, match="training.batch_size=2"):
        validate.run(params)
    assert gate.read_text() == "from an earlier check\n"
