"""Matplotlib, headless, and one way to save a figure: atomically, as a PNG with stable bytes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on CI or in Docker
import matplotlib.pyplot as plt  # noqa: E402

from benchmark.io import atomic_path  # noqa: E402

__all__ = ["plt", "save_note", "save_png"]


def save_png(fig: plt.Figure, out: Path | str) -> None:
    """Write ``fig`` to ``out`` and close it; no "Software" stamp, so the same plot gives the same bytes."""
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def save_note(text: str, out: Path | str) -> None:
    """A figure that only says why there is nothing to plot, so a declared DVC plot output always exists
    (e.g. the primary plot of a run whose ``arms`` lack the primary pair)."""
    fig, ax = plt.subplots(figsize=(7, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=9)
    save_png(fig, out)
