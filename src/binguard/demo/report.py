"""The demo's final output (after the dashboard): the story of the run, the verdict table.

Everything fits 80 columns (the console is made at most 80 wide): story lines wrap under their
bullet, the verdict table is two narrow columns.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from .runlog import ErrorGroups
from .story import Timing
from .verdict import Verdict


@dataclass
class Report:
    """What one demo run found: the verdict, the story's lines, the timing, the error groups."""

    verdict: Verdict
    story: list[str]
    timing: Timing
    errors: ErrorGroups
    errors_counted: int = 0  # the connector's own count (stats.errors_by_code), for the check

    def as_dict(self) -> dict[str, Any]:
        """The verdict's keys (as before), then the story, the timing and the error groups."""
        return {
            **self.verdict.as_dict(),
            "story": self.story,
            "timing": self.timing.as_dict(),
            "errors": {**self.errors.as_dict(), "total": self.errors_counted},
        }


def print_report(console: Console, report: Report) -> None:
    console.print()
    console.print("[bold]what happened[/] (times from the start of trading)")
    for line in report.story:
        # wrapped here, not by rich: a hanging indent, and no padding to the console's width
        text = textwrap.fill(line, console.width - 1, initial_indent="• ", subsequent_indent="  ")
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    console.print()
    _print_verdict(console, report.verdict)


def _print_verdict(console: Console, verdict: Verdict) -> None:
    table = Table(title="verdict: journal vs exchange")
    table.add_column("check")
    table.add_column("count", justify="right")
    table.add_column("")
    for key, value in verdict.as_dict().items():
        if key == "ok":
            continue
        must_be_zero = key in Verdict.MUST_BE_ZERO
        mark = ("[green]✓[/]" if value == 0 else "[red]✗[/]") if must_be_zero else ""
        table.add_row(key, str(value), mark)
    console.print(table)
    console.print("[green]PASS[/]" if verdict.ok else "[red]FAIL[/]")
