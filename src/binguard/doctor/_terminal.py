"""The default report: a rich terminal rendering of a Report, readable at 80 columns.

Order: one summary line, the inputs that were not read, the diagnoses (the conclusions, most
severe first, each naming its source), a findings table (code, name, count, first and last seen:
five narrow columns that fit 80 columns), then each finding's details. Long log lines are cut at a
word boundary with an ellipsis, never mid-word; colours only on a terminal.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Final

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._model import Diagnosis, Evidence, Finding, clip
from ._report import Report
from ._timeline import series, sparkline

_SEVERITY_STYLE: Final = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_SPARK_WIDTH: Final = 40
_PANEL_PAD: Final = 4  # a panel's borders and padding


def _t(t: float | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, tz=UTC).strftime(fmt)


def render(report: Report, console: Console) -> None:
    """Print the whole report: summary, diagnoses, the findings table, then each finding."""
    _summary(report, console)
    if not report.read_inputs:
        console.print("Nothing was read: no input could be read as a log (see above).")
        return
    if not report.findings:
        console.print("[green]No Binance errors found.[/green]")
        return
    if report.diagnoses:
        console.rule("[bold]Diagnoses", align="left")
        for d in report.diagnoses:
            console.print(_diagnosis_panel(d, console.width))
    console.rule("[bold]Findings", align="left")
    console.print(_table(report))
    _timeline(report, console)
    console.rule("[bold]Details", align="left")
    for f in report.findings:
        console.print(_finding_panel(f, console.width))


def _summary(report: Report, console: Console) -> None:
    lines = sum(i.lines for i in report.inputs)
    span = ""
    if report.first_seen is not None:
        span = f"; {_t(report.first_seen)} .. {_t(report.last_seen)} UTC"
    console.print(
        f"[bold]binguard doctor[/bold]: {len(report.read_inputs)} input(s) read, {lines:,} lines, "
        f"{report.error_lines:,} error lines, {len(report.findings)} finding(s), "
        f"{len(report.diagnoses)} diagnosis(es){span}"
    )
    for i in report.inputs:
        if i.error is not None:
            console.print(f"[red]cannot read {escape(i.path)}: {escape(i.error)}[/red]")
        elif i.skipped is not None:
            console.print(f"[dim]skipped {escape(i.path)}: {escape(i.skipped)}[/dim]")


def _table(report: Report) -> Table:
    """code, name, count, first seen, last seen: 6+34+7+11+11 characters and padding = 79; a
    longer name (a heading such as -2021's) wraps at a space rather than being cut."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    table.add_column("code", justify="right", no_wrap=True, max_width=6)
    table.add_column("name", overflow="fold", max_width=34)
    table.add_column("count", justify="right", no_wrap=True, max_width=7)
    table.add_column("first seen", no_wrap=True, max_width=11)
    table.add_column("last seen", no_wrap=True, max_width=11)
    codes = Counter(f.key.code for f in report.findings)
    for f in report.findings:
        name = Text(f.key.title)
        if (
            f.key.code is not None and codes[f.key.code] > 1
        ):  # -1003 as a rate limit and as a ban: the family tells them apart
            name.append(f" {f.key.family.value}", style="dim")
        table.add_row(
            "" if f.key.code is None else str(f.key.code),
            name,
            f"{f.count:,}",
            _t(f.first_seen, "%m-%d %H:%M"),
            _t(f.last_seen, "%m-%d %H:%M"),
        )
    return table


def _timeline(report: Report, console: Console) -> None:
    """The error lines per hour (all findings together), when the log has times."""
    starts, width, rows = series([_total(report.findings)], _SPARK_WIDTH)
    if not starts:
        return
    label = f"{width} h" if width > 1 else "hour"
    console.print(
        Text.assemble(
            (f"error lines per {label}, {_t(starts[0], '%m-%d %H:%M')} .. : ", "dim"),
            (sparkline(rows[0]), "magenta"),
        )
    )


def _total(findings: list[Finding]) -> dict[int, int]:
    total: dict[int, int] = {}
    for f in findings:
        for hour, n in f.timeline.items():
            total[hour] = total.get(hour, 0) + n
    return total


def _quote(ev: Evidence, width: int) -> Text:
    """Where and when on one line, the log line below it, cut to the width at a word boundary."""
    where = f"{ev.where()}  {_t(ev.time)}" if ev.time is not None else ev.where()
    return Text(f"{clip(where, width)}\n  {clip(ev.text, max(20, width - 2))}", style="dim")


def _diagnosis_panel(d: Diagnosis, width: int) -> Panel:
    inner = width - _PANEL_PAD
    style = _SEVERITY_STYLE.get(d.severity, "")
    parts: list[Text] = [Text(d.title, style=style)]  # inside the panel: a long title wraps
    if d.source is not None:
        parts.append(Text(f"in {d.source}", style="bold"))
    parts += [Text(d.summary), Text.assemble(("Fix: ", "bold"), d.fix), Text("Evidence:", "bold")]
    parts += [_quote(ev, inner) for ev in d.evidence]
    return Panel(Group(*parts), title=d.severity.upper(), title_align="left", border_style=style)


def _finding_panel(f: Finding, width: int) -> Panel:
    inner = width - _PANEL_PAD
    parts: list[Text] = [
        Text(f"“{clip(text, inner - 10)}”  ×{n:,}", style="italic") for text, n in f.messages
    ]
    for name, values in f.values.items():
        shown = ", ".join(f"{v} (×{n:,})" for v, n in values[:5])
        parts.append(Text(f"{name}: {shown}"))
    extras = []
    if f.http_statuses:
        extras.append("HTTP " + ", ".join(f"{s} ×{n:,}" for s, n in f.http_statuses.items()))
    if f.endpoints:
        extras.append("endpoints " + ", ".join(f"{e} ×{n:,}" for e, n in f.endpoints[:5]))
    if extras:
        parts.append(Text("; ".join(extras), style="dim"))
    parts.append(Text.assemble(("Meaning: ", "bold"), f.meaning))
    if f.causes:
        parts.append(Text.assemble(("Likely causes: ", "bold"), "; ".join(f.causes)))
    parts.append(Text.assemble(("What you should do: ", "bold"), f.fix))
    parts.append(Text.assemble(("What binguard does: ", "bold green"), f.binguard))
    parts += [_quote(ev, inner) for ev in f.examples]
    code = "" if f.key.code is None else f"{f.key.code} "
    title = f"{code}{f.key.title} [{f.key.family.value}] ×{f.count:,}"
    return Panel(Group(*parts), title=escape(clip(title, inner)), title_align="left")
