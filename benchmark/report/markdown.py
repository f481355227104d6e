"""Markdown tables for the reports: one cell format (4 decimals, whole numbers from 10 up, "–" for
not applicable) and one table shape."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def cell(v: object) -> str:
    if isinstance(v, float) and v != v:  # NaN: not applicable to this row
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def table(df: pd.DataFrame, columns: Mapping[str, str] | None = None) -> str:
    """``df`` as a markdown table; ``columns``: {column: header} to show, in order (absent ones skipped)."""
    columns = dict(columns) if columns is not None else {c: c for c in df.columns}
    cols = [c for c in columns if c in df.columns]
    lines = ["| " + " | ".join(columns[c] for c in cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(cell(row[c]) for c in cols) + " |")
    return "\n".join(lines)
