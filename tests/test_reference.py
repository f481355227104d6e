"""`benchmark check-reference`: passes on the numbers it was frozen from, fails (exit 1) on a perturbed
results file, and checks dataset sizes against the published ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.config import write_params
from benchmark.data.spec import materialize
from benchmark.report import reference

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    materialize(tmp_path / "data" / "bundle")
    shutil.copytree(REPO / "tests" / "reference", tmp_path / "tests" / "reference")  # --write lands here
    write_params(tmp_path / "params.yaml", ["profile=tiny"])
    return tmp_path


def _summary(path: Path, value: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"arms": {"baseline": {"retrieval.mean_xsim_margin_x2eng": value,
                                                      "sib.mean_accuracy": 0.5}}}))
    return path


def test_check_reference_passes_then_fails_on_a_perturbed_file(workdir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    summary = _summary(workdir / "results" / "summary.json", 0.25)
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    for name in ("dataset_sizes.csv", "published.csv"):
        (ref_dir / name).write_text((REPO / "tests" / "reference" / name).read_text())
    reference.write_reference("tiny", summary, items=16, reference_dir=ref_dir)
    table = reference.check("tiny", summary, workdir / "data", workdir / "results", ref_dir)
    assert (table["status"] == "PASS").all()
    assert set(table["key"]) >= {"sib200 train", "sib200 dev", "sib200 test", "baseline sib.mean_accuracy"}

    _summary(summary, 0.25 + 1 / 16 * 0.99)  # inside one item of 16
    assert (reference.check("tiny", summary, workdir / "data", workdir / "results", ref_dir)["status"] == "PASS").all()
    _summary(summary, 0.25 + 2 / 16)  # two items off: a regression
    table = reference.check("tiny", summary, workdir / "data", workdir / "results", ref_dir)
    assert table.set_index("key").loc["baseline retrieval.mean_xsim_margin_x2eng", "status"] == "FAIL"


def test_check_reference_cli_exit_codes(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _summary(workdir / "results" / "summary.json", 0.25)
    # No `tiny` reference table is shipped: a clear one-line error, exit 2.
    assert main(["check-reference", "--summary", str(summary)]) == 2
    assert "no reference table for profile 'tiny'" in capsys.readouterr().err
    # Frozen on purpose, then perturbed: a FAIL row and exit 1.
    assert main(["check-reference", "--summary", str(summary), "--write", "--items", "16"]) == 0
    _summary(summary, 0.5)
    with pytest.raises(SystemExit) as exc:
        main(["check-reference", "--summary", str(summary)])
    assert exc.value.code == 1
    assert "FAIL" in capsys.readouterr().out


def test_published_reference_holds_the_seed_numbers() -> None:
    table = pd.read_csv(REPO / "tests" / "reference" / "published.csv").set_index(["task", "model"])["value"]
    assert table["xnli", "xlm-r-large+x-stilts"] == 80.4 and table["xnli", "xlm-r-large"] == 79.2
    assert table["tydiqa", "xlm-r-large+x-stilts"] - table["tydiqa", "xlm-r-large"] == pytest.approx(10.9)
    sizes = pd.read_csv(REPO / "tests" / "reference" / "dataset_sizes.csv").set_index(["dataset", "split"])["size"]
    assert sizes.to_dict() == {("flores200", "dev"): 997, ("flores200", "devtest"): 1012, ("sib200", "train"): 701,
                               ("sib200", "dev"): 99, ("sib200", "test"): 204}
