"""The default report: a rich terminal rendering of a Report (colours only on a terminal)."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ._model import Diagnosis, Finding, iso
from ._report import Report
from ._timeline import series, sparkline

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
_SPARK_WIDTH = 48


def _t(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(report: Report, console: Console) -> None:
    """Print the whole report: inputs, a findings table, each finding, then the diagnoses."""
    _inputs(report, console)
    if not report.findings:
        console.print("[green]No Binance errors found.[/green]")
        return
    _table(report, console)
    for f in report.findings:
        console.print(_finding_panel(f))
    if report.diagnoses:
        console.rule("[bold]Diagnoses")
        for d in report.diagnoses:
            console.print(_diagnosis_panel(d))


def _inputs(report: Report, console: Console) -> None:
    lines = sum(i.lines for i in report.inputs)
    read = [i for i in report.inputs if i.error is None and i.skipped is None]
    console.print(
        f"[bold]binguard doctor[/bold]: {len(read)} input(s), {lines:,} lines, "
        f"{report.error_lines:,} error lines, {len(report.findings)} finding(s), "
        f"{len(report.diagnoses)} diagnosis(es)"
        + (f"; {_t(report.first_seen)} .. {_t(report.last_seen)} UTC" if report.first_seen else "")
    )
    for i in report.inputs:
        if i.error is not None:
            console.print(f"[red]cannot read {escape(i.path)}: {escape(i.error)}[/red]")
        elif i.skipped is not None:
            console.print(f"[dim]skipped {escape(i.path)}: {escape(i.skipped)}[/dim]")


def _table(report: Report, console: Console) -> None:
    starts, width, rows = series((f.timeline for f in report.findings), _SPARK_WIDTH)
    table = Table(title="Findings", title_justify="left", expand=False)
    for col in ("code", "name", "family", "count", "first seen", "last seen"):
        table.add_column(col, justify="right" if col in ("code", "count") else "left")
    label = f"per {width} h" if width > 1 else "per hour"
    table.add_column(f"timeline ({label})" if starts else "timeline", no_wrap=True)
    for f, row in zip(report.findings, rows, strict=True):
        table.add_row(
            "" if f.key.code is None else str(f.key.code),
            f.key.title,
            f.key.family.value,
            f"{f.count:,}",
            _t(f.first_seen),
            _t(f.last_seen),
            Text(sparkline(row), style="magenta"),
        )
    console.print(table)


def _finding_panel(f: Finding) -> Panel:
    parts: list[Text | str] = []
    for text, n in f.messages:
        parts.append(Text(f"“{text}”  ×{n}", style="italic"))
    if f.values:
        vals = "; ".join(
            f"{k}: " + ", ".join(f"{v} (×{n})" for v, n in vs[:5]) for k, vs in f.values.items()
        )
        parts.append(Text(f"Values: {vals}"))
    extras = []
    if f.http_statuses:
        extras.append("HTTP " + ", ".join(f"{s} ×{n}" for s, n in f.http_statuses.items()))
    if f.endpoints:
        extras.append("endpoints " + ", ".join(f"{e} ×{n}" for e, n in f.endpoints[:5]))
    if extras:
        parts.append(Text("; ".join(extras), style="dim"))
    parts.append(Text.assemble(("Meaning: ", "bold"), f.meaning))
    if f.causes:
        parts.append(Text.assemble(("Likely causes: ", "bold"), "; ".join(f.causes)))
    parts.append(Text.assemble(("What you should do: ", "bold"), f.fix))
    parts.append(Text.assemble(("What binguard does: ", "bold green"), f.binguard))
    for ev in f.examples:
        parts.append(Text(f"{ev.where()}  {iso(ev.time) or ''}  {ev.text[:160]}", style="dim"))
    code = "" if f.key.code is None else f"{f.key.code} "
    title = f"{code}{f.key.title} [{f.key.family.value}] ×{f.count:,}"
    return Panel(Group(*parts), title=escape(title), title_align="left")


def _diagnosis_panel(d: Diagnosis) -> Panel:
    style = _SEVERITY_STYLE.get(d.severity, "")
    parts: list[Text] = [Text(d.summary), Text.assemble(("Fix: ", "bold"), d.fix)]
    parts.append(Text("Evidence:", style="bold"))
    for ev in d.evidence:
        parts.append(Text(f"  {ev.where()}  {iso(ev.time) or ''}  {ev.text[:160]}", style="dim"))
    return Panel(
        Group(*parts),
        title=escape(f"{d.severity.upper()}: {d.title}"),
        title_align="left",
        border_style=style,
    )
