"""The command line: subcommands listed, bad inputs are one line and a non-zero exit, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import main

REPO = Path(__file__).resolve().parents[1]


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchmark", *args], cwd=cwd, capture_output=True, text=True)


def test_help_lists_subcommands() -> None:
    out = _cli("--help").stdout
    for name in ["prepare", "evaluate", "targets", "report", "params", "eval-flores", "fetch"]:
        assert name in out


def test_params_prints_resolved_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--params", str(REPO / "params.yaml"), "params", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "profile: smoke" in out and "max_sentences: 50" in out


def _flores_dir(root: Path, lines: int = 997, short: str | None = None) -> Path:
    for lang in ["eng_Latn", "fra_Latn", "deu_Latn"]:
        n = lines - (1 if lang == short else 0)
        (root / "dev").mkdir(parents=True, exist_ok=True)
        (root / "dev" / f"{lang}.dev").write_text("".join(f"{lang} sentence {i}\n" for i in range(n)))
    return root


def test_eval_flores_rejects_misaligned_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flores = _flores_dir(tmp_path / "flores", short="deu_Latn")
    out = tmp_path / "out.csv"
    code = main(["--params", str(REPO / "params.yaml"), "eval-flores", str(flores), "--split", "dev",
                 "--profile", "tiny", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("benchmark: error: ") and "deu_Latn.dev" in err and "\n" not in err
    assert not out.exists()


@pytest.mark.slow
def test_eval_flores_on_official_layout(tmp_path: Path, shared_data: Path) -> None:
    out = tmp_path / "flores.csv"
    code = main(["--params", str(REPO / "params.yaml"), "eval-flores", str(shared_data / "flores200"),
                 "--split", "devtest", "--first-n", "40", "--languages", "fra_Latn", "zho_Hans",
                 "--profile", "smoke", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out).set_index("language")
    assert sorted(table.index) == ["fra_Latn", "zho_Hans"]
    assert table.loc["fra_Latn", "xsim_margin_x2eng"] <= 0.05  # real e5-small on real FLORES devtest
    assert set(table.columns) >= {"xsim_cosine_x2eng", "xsim_margin_eng2x", "p_at_1_x2eng"}


SHARED = REPO.parent / "shared" / "data"


@pytest.mark.slow  # `benchmark fetch --mirror` verifies every upstream file: ~12 s
@pytest.mark.skipif(not (SHARED / "tatoeba").is_dir(), reason="../shared/data is absent (fresh clone)")
def test_full_validate_stops_a_bad_tatoeba_file_before_anything_is_deleted(tmp_path: Path) -> None:
    """`full` reads the upstream copies: `benchmark fetch --mirror` verifies them by sha256, and a
    Tatoeba pair cut short afterwards stops `benchmark validate` (the gate every stage waits for) in
    one line naming the file, with the gate's previous output left as it was."""
    fetched = _cli("fetch", "--mirror", str(SHARED), "--dest", str(tmp_path / "data" / "full"), cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    # full's own device is cuda, which `validate` refuses on a machine without one, and its textual arms
    # and XTREME's files need pins not yet locked (`benchmark lock`): this checks the data.
    params = _cli("params", "profile=full", "runtime.device=cpu", "arms=[baseline,coco-contrastive,vqa]",
                  "targets.xtreme.tasks=[]", cwd=REPO).stdout
    (tmp_path / "params.yaml").write_text(params, encoding="utf-8")
    (tmp_path / "artifacts" / "validate").mkdir(parents=True)
    gate = tmp_path / "artifacts" / "validate" / "checked"
    gate.write_text("previous\n", encoding="utf-8")
    bad = tmp_path / "data" / "full" / "tatoeba" / "tatoeba.kab-eng.kab"
    bad.write_text("".join(bad.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    proc = _cli("validate", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "tatoeba.kab-eng.kab" in proc.stderr and "lines, but" in proc.stderr
    assert gate.read_text(encoding="utf-8") == "previous\n"
