"""`--html FILE`: one self-contained page (inline CSS and SVG; no script, font or image fetched).

The timeline is an SVG stacked bar chart, one colour per family, with a <title> tooltip per bar;
each finding gets its own small bar chart. Every text from the log is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Final

from ._model import Evidence, Finding, iso
from ._report import Report
from ._timeline import series

_COLOURS: Final = {
    "transport": "#6c8ebf",
    "execution_unknown": "#b85450",
    "rate_limited": "#d6b656",
    "ip_banned": "#e1261c",
    "clock_skew": "#9673a6",
    "server_busy": "#82b366",
    "auth": "#d79b00",
    "waf_blocked": "#a0522d",
    "invalid_request": "#10739e",
    "order_rejected": "#ae4132",
    "cancel_rejected": "#56517e",
    "order_not_found": "#23445d",
    "unclassified": "#999999",
}
_CSS: Final = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}th{background:#f6f6f6}.n{text-align:right}
.card{border:1px solid #ddd;border-radius:6px;padding:.8em 1em;margin:1em 0}
.critical{border-left:6px solid #e1261c}.warning{border-left:6px solid #d6b656}
.info{border-left:6px solid #6c8ebf}.ev{font-family:monospace;font-size:12px;color:#555;
white-space:pre-wrap;word-break:break-all}.fam{display:inline-block;width:10px;height:10px;
margin-right:4px}.err{color:#b00}.muted{color:#777}svg{display:block}
"""


def _t(t: float | None) -> str:
    if t is None:
        return "-"
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def render_html(report: Report) -> str:
    """The report as a complete HTML document."""
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>binguard doctor report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>binguard doctor</h1>",
        f"<p>{len(report.inputs)} input(s), {sum(i.lines for i in report.inputs):,} lines, "
        f"{report.error_lines:,} error lines, {len(report.findings)} finding(s), "
        f"{len(report.diagnoses)} diagnosis(es). Times in UTC: {_t(report.first_seen)} .. "
        f"{_t(report.last_seen)}.</p>",
    ]
    for i in report.inputs:
        if i.error is not None:
            out.append(f"<p class='err'>cannot read {escape(i.path)}: {escape(i.error)}</p>")
        elif i.skipped is not None:
            out.append(f"<p class='muted'>skipped {escape(i.path)}: {escape(i.skipped)}</p>")
    if report.findings:
        out.append("<h2>Timeline</h2>")
        out.append(_stacked_chart(report.findings))
        out.append(_table(report.findings))
    else:
        out.append("<p>No Binance errors found.</p>")
    if report.diagnoses:
        out.append("<h2>Diagnoses</h2>")
        for d in report.diagnoses:
            out.append(
                f"<div class='card {escape(d.severity)}'><h3>{escape(d.severity.upper())}: "
                f"{escape(d.title)}</h3><p>{escape(d.summary)}</p><p><b>Fix:</b> {escape(d.fix)}</p>"
                f"{_evidence(d.evidence)}</div>"
            )
    if report.findings:
        out.append("<h2>Findings</h2>")
        out.extend(_finding(f, i) for i, f in enumerate(report.findings))
    out.append("</body></html>")
    return "\n".join(out)


def _table(findings: Sequence[Finding]) -> str:
    rows = [
        "<table><tr><th>code</th><th>name</th><th>family</th><th class='n'>count</th>"
        "<th>first seen</th><th>last seen</th></tr>"
    ]
    for i, f in enumerate(findings):
        colour = _COLOURS.get(f.key.family.value, "#999")
        rows.append(
            f"<tr><td>{'' if f.key.code is None else f.key.code}</td>"
            f"<td><a href='#f{i}'>{escape(f.key.title)}</a></td>"
            f"<td><span class='fam' style='background:{colour}'></span>"
            f"{escape(f.key.family.value)}</td><td class='n'>{f.count:,}</td>"
            f"<td>{_t(f.first_seen)}</td><td>{_t(f.last_seen)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _stacked_chart(findings: Sequence[Finding]) -> str:
    """Bars per time bucket, stacked by family."""
    families = sorted({f.key.family.value for f in findings})
    by_family: dict[str, dict[int, int]] = {fam: {} for fam in families}
    for f in findings:
        target = by_family[f.key.family.value]
        for h, n in f.timeline.items():
            target[h] = target.get(h, 0) + n
    starts, width, rows = series((by_family[fam] for fam in families), 160)
    if not starts:
        return "<p class='muted'>The log lines carry no timestamps: no timeline.</p>"
    totals = [sum(col) for col in zip(*rows, strict=True)]
    peak = max(totals) or 1
    w, h, left, bottom = 1000, 220, 50, 30
    bar = (w - left - 10) / len(starts)
    svg = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h + bottom}' "
        f"viewBox='0 0 {w} {h + bottom}' role='img' aria-label='errors per {width} h'>",
        f"<line x1='{left}' y1='{h}' x2='{w - 10}' y2='{h}' stroke='#999'/>",
        f"<text x='{left - 6}' y='12' text-anchor='end' font-size='11'>{peak}</text>",
        f"<text x='{left - 6}' y='{h}' text-anchor='end' font-size='11'>0</text>",
    ]
    for i, start in enumerate(starts):
        y = float(h)
        for fam, row in zip(families, rows, strict=True):
            n = row[i]
            if not n:
                continue
            height = n / peak * (h - 10)
            y -= height
            svg.append(
                f"<rect x='{left + i * bar:.1f}' y='{y:.1f}' width='{max(bar - 1, 1):.1f}' "
                f"height='{height:.1f}' fill='{_COLOURS.get(fam, '#999')}'>"
                f"<title>{escape(iso(start) or '')} {escape(fam)}: {n}</title></rect>"
            )
    for i in (0, len(starts) - 1):
        anchor = "start" if i == 0 else "end"
        x = left + i * bar + (0 if i == 0 else bar)
        svg.append(
            f"<text x='{x:.1f}' y='{h + 18}' text-anchor='{anchor}' font-size='11'>"
            f"{escape(_t(starts[i]))}</text>"
        )
    svg.append("</svg>")
    legend = " ".join(
        f"<span class='fam' style='background:{_COLOURS.get(fam, '#999')}'></span>{escape(fam)}"
        for fam in families
    )
    label = "hour" if width == 1 else f"{width} hours"
    return "".join(svg) + f"<p>{legend} <span class='muted'>(error lines per {label})</span></p>"


def _mini_chart(f: Finding) -> str:
    starts, _, rows = series([f.timeline], 120)
    if not starts:
        return ""
    counts = rows[0]
    peak = max(counts) or 1
    w, h = 600, 40
    bar = w / len(counts)
    colour = _COLOURS.get(f.key.family.value, "#999")
    rects = "".join(
        f"<rect x='{i * bar:.1f}' y='{h - n / peak * h:.1f}' width='{max(bar - 1, 1):.1f}' "
        f"height='{n / peak * h:.1f}' fill='{colour}'><title>{escape(iso(s) or '')}: {n}</title>"
        "</rect>"
        for i, (s, n) in enumerate(zip(starts, counts, strict=True))
        if n
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' "
        f"viewBox='0 0 {w} {h}'>{rects}</svg>"
    )


def _evidence(evs: Sequence[Evidence]) -> str:
    items = "".join(
        f"<div class='ev'>{escape(e.where())} {escape(iso(e.time) or '')} {escape(e.text)}</div>"
        for e in evs
    )
    return f"<div><b>Evidence</b>{items}</div>"


def _finding(f: Finding, index: int) -> str:
    code = "" if f.key.code is None else f"{f.key.code} "
    messages = "".join(f"<li>“{escape(t)}” ×{n}</li>" for t, n in f.messages)
    values = "".join(
        f"<li>{escape(k)}: " + ", ".join(f"{escape(str(v))} (×{n})" for v, n in vs) + "</li>"
        for k, vs in f.values.items()
    )
    causes = "; ".join(escape(c) for c in f.causes)
    return (
        f"<div class='card' id='f{index}'><h3>{escape(code + f.key.title)} "
        f"<span class='muted'>[{escape(f.key.family.value)}] ×{f.count:,}, "
        f"{_t(f.first_seen)} .. {_t(f.last_seen)}</span></h3>{_mini_chart(f)}"
        f"<ul>{messages}{values}</ul>"
        f"<p><b>Meaning:</b> {escape(f.meaning)}</p>"
        + (f"<p><b>Likely causes:</b> {causes}</p>" if causes else "")
        + f"<p><b>What you should do:</b> {escape(f.fix)}</p>"
        f"<p><b>What binguard does:</b> {escape(f.binguard)}</p>{_evidence(f.examples)}</div>"
    )
