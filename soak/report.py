"""The soak's outputs: one table on the terminal and one PNG with a row of plots per part."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ._common import PartResult


def table(results: Sequence[PartResult]) -> str:
    """Every part's figures, then every invariant with its value, rule and PASS/FAIL."""
    lines: list[str] = []
    for r in results:
        lines.append(f"== {r.name} ({r.seconds:.0f} s): {'PASS' if r.ok else 'FAIL'}")
        lines.extend(f"   {k:<34} {v}" for k, v in r.figures.items())
        for c in r.checks:
            value = f"{c.value:g}"
            lines.append(
                f"   {c.name:<34} {value:>10}   (must be {c.rule})  {'ok' if c.ok else 'FAIL'}"
            )
    verdict = "PASS" if all(r.ok for r in results) else "FAIL"
    lines.append(f"soak: {verdict} ({sum(r.ok for r in results)} of {len(results)} parts passed)")
    return "\n".join(lines)


def plot(results: Sequence[PartResult], path: Path) -> Path | None:
    """One row per part that has a time series: rates on the left, memory (MB) on the right.

    Returns None when matplotlib is missing (it is the `soak` extra; `make soak` installs it).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    parts = [r for r in results if r.series.t]
    if not parts:
        return None
    fig, axes = plt.subplots(len(parts), 2, figsize=(13, 3.2 * len(parts)), squeeze=False)
    for row, r in zip(axes, parts, strict=True):
        rates, memory = row
        for key, column in r.series.values.items():
            if any(not math.isnan(v) for v in column):
                target = memory if key.startswith("rss") else rates
                target.plot(r.series.t[: len(column)], column, label=key.replace("_", " "))
        rates.set_title(f"{r.name}: rates per second")
        memory.set_title(f"{r.name}: resident memory (MB)")
        for ax in row:
            ax.set_xlabel("seconds")
            if ax.get_legend_handles_labels()[0]:  # a part without memory samples has none
                ax.legend(loc="upper left", fontsize=8)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
