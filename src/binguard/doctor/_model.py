"""The doctor's data: what one log line said (Hit, Event), and what the report says (Finding, Diagnosis).

Hits are cached per message text, so an Event is small: a reference to its Hit plus where and when
the line was written. Everything in a Report is plain data, ready for the JSON, terminal and HTML
renderers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from binguard.errors import BinanceError, Family, catalog


class FindingKey(NamedTuple):
    """What findings are grouped by: the error (code or failure name) and its family."""

    code: int | None
    name: str | None  # None for the codes Binance leaves unnamed (-2021, -2022)
    family: Family

    @property
    def title(self) -> str:
        """The name, or the heading errors.md gives an unnamed code: what a table shows."""
        if self.name is not None:
            return self.name
        entry = catalog().get(self.code) if self.code is not None else None
        return entry.title if entry is not None else f"code {self.code}"


@dataclass(frozen=True, slots=True)
class Hit:
    """One message classified: shared by every line that carries the same message."""

    key: FindingKey
    error: BinanceError
    text: str  # the line without its timestamp, trimmed
    matched: str  # the Binance message (or failure text) that was recognised
    values: Mapping[str, str | int]  # extracted parameters, JSON-ready
    endpoint: str | None  # REST path or library call the line names, if any
    crash: bool = False  # "'XError' object has no attribute 'code'": the bot's handler crashed


class Event(NamedTuple):
    """One log line that reported an error (a tuple: the scan makes one per error line)."""

    hit: Hit
    time: float | None  # epoch seconds, own or inherited from the previous stamped line
    source: int  # index into Report.inputs
    line: int  # 1-based line number in its source
    recv_window: int | None = None  # a recvWindow value the line names, in ms


@dataclass(frozen=True, slots=True)
class Evidence:
    """A log line quoted as proof: file:line, its time and its text."""

    path: str
    line: int
    time: float | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.path, "line": self.line, "time": iso(self.time), "text": self.text}

    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(slots=True)
class Finding:
    """Every line reporting one error, with the catalog's explanation."""

    key: FindingKey
    count: int
    first_seen: float | None
    last_seen: float | None
    timeline: dict[int, int]  # hour start (epoch s) -> lines in that hour
    messages: list[tuple[str, int]]  # distinct recognised messages, most frequent first
    values: dict[
        str, list[tuple[str | int, int]]
    ]  # parameter -> (value, lines), most frequent first
    http_statuses: dict[int, int]
    endpoints: list[tuple[str, int]]
    examples: list[Evidence]
    meaning: str
    causes: list[str]
    fix: str
    family_summary: str
    recovery: str
    binguard: str
    may_have_executed: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.key.code,
            "name": self.key.name,
            "title": self.key.title,
            "family": self.key.family.value,
            "count": self.count,
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "timeline": {iso(h): n for h, n in sorted(self.timeline.items())},
            "messages": [{"text": t, "count": n} for t, n in self.messages],
            "values": {
                k: [{"value": v, "count": n} for v, n in vs] for k, vs in self.values.items()
            },
            "http_statuses": {str(s): n for s, n in sorted(self.http_statuses.items())},
            "endpoints": [{"endpoint": e, "count": n} for e, n in self.endpoints],
            "meaning": self.meaning,
            "causes": self.causes,
            "fix": self.fix,
            "family_summary": self.family_summary,
            "recovery": self.recovery,
            "binguard": self.binguard,
            "may_have_executed": self.may_have_executed,
            "examples": [e.as_dict() for e in self.examples],
        }


@dataclass(slots=True)
class Diagnosis:
    """A conclusion drawn across lines, with the lines that support it."""

    id: str
    severity: str  # "critical" | "warning" | "info"
    title: str
    summary: str
    fix: str
    evidence: list[Evidence]
    data: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # the input (file, or - for stdin) the diagnosis is about

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "fix": self.fix,
            "evidence": [e.as_dict() for e in self.evidence],
            "data": self.data,
        }


@dataclass(slots=True)
class InputReport:
    """One input as read: its size and line count, its time span, or why it could not be read."""

    path: str
    bytes: int = 0
    lines: int = 0
    error_lines: int = 0
    first_time: float | None = None
    last_time: float | None = None
    error: str | None = None  # why it could not be read (a failure)
    skipped: str | None = None  # why it was passed over (binary file found inside a directory)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "bytes": self.bytes,
            "lines": self.lines,
            "error_lines": self.error_lines,
            "first_time": iso(self.first_time),
            "last_time": iso(self.last_time),
            "error": self.error,
            "skipped": self.skipped,
        }


_DEBRIS: Final = re.compile(r"\A(?:\[\s*\]|\(\s*\)|[\s\-|:,\]])+")
JSON_STAMP: Final = '"ts":0'  # what stands for a JSON line's own stamp in a message key


def clean_text(text: str) -> str:
    """A log line without what its removed timestamp left behind: `[] ERROR` -> `ERROR`,
    ` - 4242 - bot` -> `4242 - bot`, and a JSON line's stand-in stamp field."""
    if text.startswith("{" + JSON_STAMP):
        text = "{" + text[len(JSON_STAMP) + 1 :].lstrip(", ")
    return _DEBRIS.sub("", text).rstrip()


def clip(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width)
    if cut < width // 3:  # one token fills most of the width (a URL): cut inside it
        cut = width - 1
    return text[:cut].rstrip(" ,;:") + "…"


def iso(t: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds; None stays None."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")
