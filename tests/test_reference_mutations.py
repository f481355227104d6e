"""The committed `mini` reference can fail: the committed run passes it, and the same run with its
training undone or its data swapped does not. The run here is the committed one (its means from
metrics/evaluate, its training evidence from metrics/train); the mutations are what each failure
would leave in those files:

* training that silently did nothing: the run's encoder is the pretrained one, so its means are the
  baseline's, and its evidence is an untrained head's (its chance level);
* an arm trained on another arm's data: the run's numbers are the other arm's.

Each is refused by `benchmark check-reference` (exit 1) at the tolerances that pass across
instruction sets (tests/reference/tolerances.csv).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.config import write_params
from benchmark.data.spec import materialize

REPO = Path(__file__).resolve().parents[1]
REFERENCE = pd.read_csv(REPO / "tests" / "reference" / "mini_reference.csv")
TRAINED = sorted(r for r in REFERENCE["run"].unique() if r != "baseline")
ARMS = [r for r in TRAINED if ".s" not in r]  # one run of each trained arm: its seeds differ only in the seed


def _summary_of(run: str) -> dict[str, float]:
    """The run's means as results/summary.json holds them, from the committed metrics/evaluate files."""
    out = {}
    for metric in REFERENCE.loc[(REFERENCE["run"] == run) & ~REFERENCE["metric"].str.startswith("evidence."), "metric"]:
        target, key = metric.split(".", 1)
        out[metric] = json.loads((REPO / "metrics" / "evaluate" / run / f"{target}.json").read_text())[key]
    return out


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The committed `mini` run, laid out as check-reference reads it, in a scratch folder."""
    monkeypatch.chdir(tmp_path)
    materialize(tmp_path / "data" / "bundle")
    shutil.copytree(REPO / "tests" / "reference", tmp_path / "tests" / "reference")
    shutil.copytree(REPO / "metrics" / "train", tmp_path / "metrics" / "train")
    write_params(tmp_path / "params.yaml", ["profile=mini"])
    (tmp_path / "results").mkdir()
    _write({r: _summary_of(r) for r in REFERENCE["run"].unique()})
    return tmp_path


def _write(arms: dict[str, dict[str, float]]) -> None:
    Path("results/summary.json").write_text(json.dumps({"arms": arms}))


def _failed(capsys: pytest.CaptureFixture[str]) -> set[str]:
    """The runs with a FAIL or MISSING row in check-reference's table (which must exit 1)."""
    with pytest.raises(SystemExit) as exc:
        main(["check-reference"])
    assert exc.value.code == 1
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    return {r[1] for r in rows if len(r) > 2 and r[-1] in ("FAIL", "MISSING")}


def test_the_committed_run_passes(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-reference"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(f"{len(REFERENCE) + 3} passed, 0 failed")  # + SIB-200's three split sizes
    assert (REFERENCE["metric"].str.startswith("evidence.")).sum() >= len(TRAINED)  # each trained run's evidence


@pytest.mark.parametrize("undone", ARMS)
def test_training_that_did_nothing_fails(run: Path, capsys: pytest.CaptureFixture[str], undone: str) -> None:
    arms = json.loads(Path("results/summary.json").read_text())["arms"]
    arms[undone] = dict(arms["baseline"])  # the pretrained encoder, evaluated under the run's name
    _write(arms)
    path = Path("metrics/train") / f"{undone}.json"
    record = json.loads(path.read_text())
    evidence = record["evidence"]
    chance = {k.rsplit(".", 1)[0]: v for k, v in evidence.items() if k.endswith(".chance")}
    for key in [k for k in evidence if k.endswith((".true", ".none", ".trained"))]:
        evidence[key] = chance.get(key.rsplit(".", 1)[0], evidence.get("heldout.r1_chance", 0.0))
    path.write_text(json.dumps(record))
    assert _failed(capsys) == {undone}


@pytest.mark.parametrize(("arm", "other"), [("coco-contrastive", "caption-contrastive"), ("hellaswag", "cosmosqa"),
                                            ("parallel-contrastive", "coco-contrastive")])
def test_an_arm_trained_on_another_arms_data_fails(run: Path, capsys: pytest.CaptureFixture[str], arm: str,
                                                   other: str) -> None:
    arms = json.loads(Path("results/summary.json").read_text())["arms"]
    arms[arm] = dict(arms[other])
    _write(arms)
    shutil.copyfile(Path("metrics/train") / f"{other}.json", Path("metrics/train") / f"{arm}.json")
    assert _failed(capsys) == {arm}
