"""``benchmark eval-flores`` on bad input: one line naming the file/key/value, exit 2, nothing written.

Every input is checked before the encoder loads, so the bad-input cases replace the scoring step
(``benchmark.evaluate._score``) with one that fails the test if it is ever reached: no model is needed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from benchmark import evaluate
from benchmark.cli import main
from benchmark.evaluate import read_flores_dir
from benchmark.io import read_lines

SENTENCES = {
    "eng_Latn": ["The cat sleeps.", "It is raining today.", "Where is the station?", "I like green tea.",
                 "The museum opens at nine."],
    "fra_Latn": ["Le chat dort.", "Il pleut aujourd'hui.", "Où est la gare ?", "J'aime le thé vert.",
                 "Le musée ouvre à neuf heures."],
    "deu_Latn": ["Die Katze schläft.", "Heute regnet es.", "Wo ist der Bahnhof?", "Ich mag grünen Tee.",
                 "Das Museum öffnet um neun."],
}


def _write(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(f"{line}{newline}" for line in lines).encode("utf-8"))
    return path


def _layout(root: Path, splits: dict[str, list[str]] | None = None) -> Path:
    """Official layout ``root/{dev,devtest}/<lang>.<split>``; ``splits``: languages per split."""
    splits = splits or {"dev": list(SENTENCES), "devtest": list(SENTENCES)}
    for split, langs in splits.items():
        for lang in langs:
            _write(root / split / f"{lang}.{split}", SENTENCES[lang])
    return root


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def params_file() -> Path:
    """The repository's params (every command below adds ``--profile tiny``: a random tiny encoder)."""
    return REPO / "params.yaml"


@pytest.fixture
def no_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("the encoder was reached although the input is bad")

    monkeypatch.setattr(evaluate, "_score", reached)


def _fails(params_file: Path, capsys: pytest.CaptureFixture[str], flores: Path, *args: str,
           out: Path | None = None) -> str:
    """Run eval-flores expecting a bad-input error; the one stderr line, after checking nothing was written."""
    out = out or flores.parent / "out.csv"
    start = time.perf_counter()
    code = main(["--params", str(params_file), "eval-flores", str(flores), "--profile", "tiny", "--out", str(out), *args])
    elapsed = time.perf_counter() - start
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("benchmark: error: ") and "\n" not in err and "Traceback" not in err, err
    assert elapsed < 10, f"validation took {elapsed:.1f} s"
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")] == []  # no temp file
    return err


# --- non-UTF-8 bytes -----------------------------------------------------------------------------


def test_non_utf8_file_names_file_offset_and_line(tmp_path: Path, params_file: Path, no_encoder: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    bad = flores / "devtest" / "fra_Latn.devtest"
    data = bad.read_bytes().split(b"\n")
    data[2] = b"O\xf9 est la gare ?"  # latin-1 "ù" in a UTF-8 file, line 3
    bad.write_bytes(b"\n".join(data))
    err = _fails(params_file, capsys, flores)
    offset = len(SENTENCES["fra_Latn"][0].encode()) + len(SENTENCES["fra_Latn"][1].encode()) + 2 + 1
    assert f"{bad}: not valid UTF-8: byte 0xf9 at offset {offset} (line 3)" in err


# --- missing files -------------------------------------------------------------------------------


def test_missing_pivot_is_an_error(tmp_path: Path, params_file: Path, no_encoder: None,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores", {"dev": ["fra_Latn", "deu_Latn"], "devtest": ["fra_Latn", "deu_Latn"]})
    err = _fails(params_file, capsys, flores, "--split", "dev")
    assert f"{flores / 'dev' / 'eng_Latn.dev'}: missing" in err and "pivot" in err


def test_missing_pivot_with_languages_is_an_error(tmp_path: Path, params_file: Path, no_encoder: None,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores", {"dev": ["fra_Latn", "deu_Latn"]})
    err = _fails(params_file, capsys, flores, "--split", "dev", "--languages", "fra_Latn")
    assert f"{flores / 'dev' / 'eng_Latn.dev'}: missing" in err


def test_requested_language_missing_is_an_error(tmp_path: Path, params_file: Path, no_encoder: None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    err = _fails(params_file, capsys, flores, "--languages", "fra_Latn", "zho_Hans")
    assert err == f"benchmark: error: {flores / 'devtest' / 'zho_Hans.devtest'}: missing"


def test_files_present_define_languages_and_skips_are_reported(
        tmp_path: Path, params_file: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """deu_Latn is in dev but not devtest; README.devtest is no language: both skipped, both said."""
    flores = _layout(tmp_path / "flores", {"dev": list(SENTENCES), "devtest": ["eng_Latn", "fra_Latn"]})
    (flores / "devtest" / "README.devtest").write_text("not a language\n")
    seen: dict[str, list[str]] = {}

    def fake_score(params: object, lines: dict[str, list[str]], pivot: str, *rest: object) -> pd.DataFrame:
        seen.update(lines)
        return pd.DataFrame({"language": [lang for lang in sorted(lines) if lang != pivot],
                             "xsim_margin_x2eng": 0.0})

    monkeypatch.setattr(evaluate, "_score", fake_score)
    out = tmp_path / "out.csv"
    assert main(["--params", str(params_file), "eval-flores", str(flores), "--profile", "tiny", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert sorted(seen) == ["eng_Latn", "fra_Latn"]
    assert "benchmark: warning:" in err and "deu_Latn" in err and "skipped" in err
    assert "README.devtest" in err
    assert list(pd.read_csv(out)["language"]) == ["fra_Latn"]


# --- --first-n -----------------------------------------------------------------------------------


def test_first_n_beyond_file_length_is_an_error(tmp_path: Path, params_file: Path, no_encoder: None,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    err = _fails(params_file, capsys, flores, "--first-n", "6")
    assert f"{flores / 'devtest' / 'eng_Latn.devtest'}: 5 lines, fewer than --first-n 6" in err


@pytest.mark.parametrize("first_n", ["0", "-3", "1"])
def test_first_n_too_small_is_an_error(tmp_path: Path, params_file: Path, no_encoder: None,
                                       capsys: pytest.CaptureFixture[str], first_n: str) -> None:
    flores = _layout(tmp_path / "flores")
    err = _fails(params_file, capsys, flores, "--first-n", first_n)
    assert f"--first-n {first_n}: must be at least 2" in err


# --- language codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["../x", "fra_Latn/../../etc", "/etc/passwd", "fra", "FRA_latn", "fra_Latn.dev",
                                  "fra-Latn", ""])
def test_language_code_must_be_a_flores_code(tmp_path: Path, params_file: Path, no_encoder: None,
                                             capsys: pytest.CaptureFixture[str], code: str) -> None:
    flores = _layout(tmp_path / "flores")
    err = _fails(params_file, capsys, flores, "--languages", "fra_Latn", code)
    assert f"--languages {code!r}: not a language code" in err and "fra_Latn" in err


def test_a_well_formed_code_outside_flores_200_is_refused_or_skipped(
        tmp_path: Path, params_file: Path, no_encoder: None, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """xxx_Latn has a code's shape but no FLORES-200 language: refused when asked for, skipped (and
    said) when only its file is there, never scored."""
    flores = _layout(tmp_path / "flores")
    _write(flores / "devtest" / "xxx_Latn.devtest", SENTENCES["fra_Latn"])
    err = _fails(params_file, capsys, flores, "--languages", "fra_Latn", "xxx_Latn")
    assert "--languages 'xxx_Latn': not one of FLORES-200's 205 languages" in err
    seen: list[str] = []
    monkeypatch.setattr(evaluate, "_score", lambda params, lines, pivot, *rest: seen.extend(lines) or pd.DataFrame(
        {"language": [x for x in sorted(lines) if x != pivot], "xsim_margin_x2eng": 0.0}))
    out = tmp_path / "out.csv"
    assert main(["--params", str(params_file), "eval-flores", str(flores), "--profile", "tiny", "--out", str(out)]) == 0
    assert "xxx_Latn" not in seen and "'xxx_Latn' is not one of FLORES-200's languages" in capsys.readouterr().err


def test_a_number_that_is_not_a_number_is_one_line(tmp_path: Path, params_file: Path, no_encoder: None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    with pytest.raises(SystemExit) as exit_:
        main(["--params", str(params_file), "eval-flores", str(flores), "--first-n", "abc"])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and "\n" not in err and "usage:" not in err, err
    assert err.startswith("benchmark eval-flores: error: argument --first-n: expected a whole number, got 'abc'"), err


# --- CRLF ----------------------------------------------------------------------------------------


def test_crlf_gives_the_sentences_of_the_lf_file(tmp_path: Path) -> None:
    lf = _layout(tmp_path / "lf")
    crlf = tmp_path / "crlf"
    for lang, sents in SENTENCES.items():
        _write(crlf / "devtest" / f"{lang}.devtest", sents, newline="\r\n")
    # a Windows copy may also start with a byte-order mark and lack the final newline
    last = crlf / "devtest" / "deu_Latn.devtest"
    last.write_bytes(b"\xef\xbb\xbf" + last.read_bytes().removesuffix(b"\r\n"))
    expected = read_flores_dir(lf, "devtest", "eng_Latn")
    assert read_flores_dir(crlf, "devtest", "eng_Latn") == expected == SENTENCES
    assert read_lines(last) == SENTENCES["deu_Latn"]
    assert not any("\r" in s or "\ufeff" in s for sents in expected.values() for s in sents)


def test_lines_split_on_newline_only(tmp_path: Path) -> None:
    path = tmp_path / "x.dev"
    path.write_bytes("a\u2028b\r\nc\x85d\n".encode())
    assert read_lines(path) == ["a\u2028b", "c\x85d"]


# --- parallel files ------------------------------------------------------------------------------


def test_different_line_counts_are_an_error(tmp_path: Path, params_file: Path, no_encoder: None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    short = flores / "devtest" / "fra_Latn.devtest"
    _write(short, SENTENCES["fra_Latn"][:4])
    err = _fails(params_file, capsys, flores, "--first-n", "2")  # checked on whole files, not the first N
    assert f"{short}: 4 lines, but {flores / 'devtest' / 'eng_Latn.devtest'} has 5" in err


# --- nothing written -----------------------------------------------------------------------------


def test_bad_input_leaves_an_existing_csv_untouched(tmp_path: Path, params_file: Path, no_encoder: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    (flores / "devtest" / "deu_Latn.devtest").write_bytes(b"\xff\xfe")
    out = tmp_path / "results" / "flores_eval.csv"
    out.parent.mkdir()
    out.write_text("language,xsim_margin_x2eng\nfra_Latn,0.1\n")
    before = (out.read_bytes(), out.stat().st_mtime_ns)
    code = main(["--params", str(params_file), "eval-flores", str(flores), "--profile", "tiny", "--out", str(out)])
    assert code == 2 and "deu_Latn.devtest" in capsys.readouterr().err
    assert (out.read_bytes(), out.stat().st_mtime_ns) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["flores_eval.csv"]


def test_out_that_is_a_directory_is_an_error_before_encoding(tmp_path: Path, params_file: Path, no_encoder: None,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    out = tmp_path / "results"
    out.mkdir()
    code = main(["--params", str(params_file), "eval-flores", str(flores), "--profile", "tiny", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"benchmark: error: --out {out}: is a directory"


# --- happy path ----------------------------------------------------------------------------------


def test_eval_flores_tiny_encoder_end_to_end(tmp_path: Path, params_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    flores = _layout(tmp_path / "flores")
    out = tmp_path / "results" / "flores_eval.csv"
    code = main(["--params", str(params_file), "eval-flores", str(flores), "--profile", "tiny", "--split", "dev", "--first-n", "4",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    table = pd.read_csv(out)
    assert list(table["language"]) == ["deu_Latn", "fra_Latn"]
    assert table.drop(columns="language").apply(lambda c: c.between(0, 1)).all().all()
    assert "2 languages x 4 sentences" in captured.out
    assert "official FLORES-200 dev has 997" in captured.err  # a subset is allowed, and said
