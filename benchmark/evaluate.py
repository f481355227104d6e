"""Evaluate the configured encoder on any FLORES-200 directory in the official layout.

The bundled subset is a convenience, not a limit: point this at a full FLORES-200 copy (e.g.
``<dir>/devtest/<lang>.devtest``) to get per-language xsim on every line.

Every input is checked before the encoder loads, and a bad one is a :class:`BenchmarkError` naming
the file, key or value: the files present define the languages (a file skipped is said on stderr),
the pivot and every language asked for with ``--languages`` must be there, codes must look like
FLORES-200 codes (``fra_Latn``; never a path), files must be UTF-8 and parallel (the same number of
lines in every language), and ``--first-n`` must fit in them. Only then is anything encoded, and the
CSV is written atomically: a bad input leaves ``--out`` as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.data.flores import CODE, LANGUAGES, SPLIT_SIZES
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import BenchmarkError, atomic_path, read_lines, warn
from benchmark.models.encoder import load_encoder
from benchmark.targets.flores import xsim_table

if TYPE_CHECKING:
    import pandas as pd

    from benchmark.config import Params

# FLORES-200 codes: ISO 639-3 language, '_', ISO 15924 script (eng_Latn, zho_Hans, nqo_Nkoo).
_CODE_HINT = "expected a FLORES-200 code: three lowercase letters, '_', a four-letter script, e.g. 'fra_Latn'"
MIN_LINES = 2  # retrieval among fewer candidates is no test
_KNOWN = frozenset(LANGUAGES)


def _check_code(code: str, what: str) -> str:
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise BenchmarkError(f"{what} {code!r}: not a language code ({_CODE_HINT})")
    if code not in _KNOWN:
        raise BenchmarkError(f"{what} {code!r}: not one of FLORES-200's {len(_KNOWN)} languages "
                             "(benchmark.data.flores.LANGUAGES)")
    return code


def read_flores_dir(root: Path, split: str, pivot: str, languages: list[str] | None = None,
                    first_n: int | None = None) -> dict[str, list[str]]:
    """Read ``<root>/<split>/<lang>.<split>`` for the pivot and ``languages`` (default: every file there).

    Raises :class:`BenchmarkError` on a missing pivot or requested file, a code that is not a
    FLORES-200 code, a file that is not UTF-8 or whose line count differs from the pivot's, fewer
    than two lines, or ``first_n`` outside 2..lines. Only once all of that passed are the notes
    printed on stderr (files skipped: a name that is no FLORES-200 language, a language the other split
    has but this one lacks; a line count other than the official one), so an error stays one line.
    """
    if first_n is not None and first_n < MIN_LINES:
        raise BenchmarkError(f"--first-n {first_n}: must be at least {MIN_LINES}")
    if split not in SPLIT_SIZES:
        raise BenchmarkError(f"--split {split!r}: expected one of {', '.join(SPLIT_SIZES)}")
    _check_code(pivot, "targets.retrieval.pivot")
    root = Path(root)
    folder = root / split
    if not folder.is_dir():
        raise BenchmarkError(f"{folder}: no such directory (expected the official layout "
                             "<dir>/{dev,devtest}/<lang>.{dev,devtest})")
    pivot_path = folder / f"{pivot}.{split}"
    notes: list[str] = []
    if languages is None:
        langs = []
        for path in sorted(folder.glob(f"*.{split}")):
            code = path.name[: -len(split) - 1]
            if not CODE.fullmatch(code):
                notes.append(f"{path}: skipped: {code!r} is not a FLORES-200 language code")
            elif code not in _KNOWN:
                notes.append(f"{path}: skipped: {code!r} is not one of FLORES-200's languages")
            elif not path.is_file():
                notes.append(f"{path}: skipped: not a file")
            else:
                langs.append(code)
        if pivot not in langs:
            raise BenchmarkError(f"{pivot_path}: missing: the pivot language (targets.retrieval.pivot) "
                                 "is what every other language is scored against")
        other = next(s for s in SPLIT_SIZES if s != split)
        if (root / other).is_dir():
            absent = sorted({code for p in (root / other).glob(f"*.{other}")
                             if CODE.fullmatch(code := p.name[: -len(other) - 1])} - set(langs))
            if absent:
                shown = ", ".join(absent[:10]) + (f", ... ({len(absent)} in all)" if len(absent) > 10 else "")
                notes.append(f"{folder}: no {split} file for {shown}, which {root / other} has: skipped")
    else:
        for code in languages:
            _check_code(code, "--languages")
        langs = list(dict.fromkeys([pivot, *languages]))
        for code in langs:
            path = folder / f"{code}.{split}"
            if not path.is_file():
                role = " (the pivot language, targets.retrieval.pivot)" if code == pivot else ""
                raise BenchmarkError(f"{path}: missing{role}")
    if len(langs) < 2:
        raise BenchmarkError(f"{folder}: only the pivot {pivot}.{split}: no language to evaluate against it")
    lines = {code: read_lines(folder / f"{code}.{split}") for code in langs}
    n = len(lines[pivot])
    for code in langs:
        if len(lines[code]) != n:
            raise BenchmarkError(f"{folder / f'{code}.{split}'}: {len(lines[code])} lines, but {pivot_path} has "
                                 f"{n}: FLORES files are parallel (line i is one sentence in every language)")
    if n < MIN_LINES:
        raise BenchmarkError(f"{pivot_path}: {n} line(s); retrieval needs at least {MIN_LINES}")
    if first_n is not None:
        if first_n > n:
            raise BenchmarkError(f"{pivot_path}: {n} lines, fewer than --first-n {first_n}")
        lines = {code: sents[:first_n] for code, sents in lines.items()}
    if n != SPLIT_SIZES[split]:
        notes.append(f"{folder}: {n} lines per file; the official FLORES-200 {split} has {SPLIT_SIZES[split]}")
    for note in notes:
        warn(note)
    return lines


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise BenchmarkError(f"--out {out}: is a directory")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise BenchmarkError(f"--out {out}: {parent} is not a directory")
            break


def evaluate_flores_dir(params: Params, root: Path, *, split: str, first_n: int | None,
                        languages: list[str] | None, prefix: str | None, out: Path) -> pd.DataFrame:
    pivot = params.pivot
    out = Path(out)
    _check_out(out)
    lines = read_flores_dir(root, split, pivot, languages, first_n)
    n = len(lines[pivot])
    table = _score(params, lines, pivot, split, prefix)  # the encoder loads only now, inputs all checked
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6f")
    print(f"{len(table)} languages x {n} sentences -> {out}; mean xsim margin X→eng "
          f"{table['xsim_margin_x2eng'].mean():.4f}")
    return table


def _score(params: Params, lines: dict[str, list[str]], pivot: str, split: str,
           prefix: str | None) -> pd.DataFrame:
    """Embed every line with the configured encoder; per-language xsim against the pivot."""
    import numpy as np

    seed_everything(params.seed, params.runtime.threads)
    encoder = load_encoder(params.encoder, seed=params.seed, device=resolve_device(params.runtime.device))
    langs = sorted(lines)
    texts = [t for lang in langs for t in lines[lang]]
    flat = encoder.embed(texts, prefix=params.encoder.prefix if prefix is None else prefix,
                         batch_size=params.encoder.batch_size,
                         batch_tokens=params.encoder.batch_tokens, progress=f"embed {split}")
    n = len(lines[pivot])
    emb = {lang: flat[i * n : (i + 1) * n] for i, lang in enumerate(langs)}
    table, _ = xsim_table(emb, np.arange(n), pivot, params.targets.retrieval.margin_k)
    return table
