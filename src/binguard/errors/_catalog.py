"""Binance's error catalog as typed, immutable data, loaded once from catalog.json.

Every part of binguard that speaks about an error (exceptions, classify(), the simulator's error bodies,
the doctor, `binguard explain`) reads this module, so there is one place for Binance's text and one for
binguard's knowledge about it. Message templates are compiled lazily to anchored regexes: a process only
pays for the codes it meets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any


class Family(StrEnum):
    """The recovery family of an error: errors in one family call for the same handling."""

    TRANSPORT = "transport"
    EXECUTION_UNKNOWN = "execution_unknown"
    RATE_LIMITED = "rate_limited"
    IP_BANNED = "ip_banned"
    CLOCK_SKEW = "clock_skew"
    SERVER_BUSY = "server_busy"
    AUTH = "auth"
    WAF_BLOCKED = "waf_blocked"
    INVALID_REQUEST = "invalid_request"
    ORDER_REJECTED = "order_rejected"
    CANCEL_REJECTED = "cancel_rejected"
    ORDER_NOT_FOUND = "order_not_found"
    UNCLASSIFIED = "unclassified"


class Recovery(StrEnum):
    """What an error calls for. The connector's retry policy turns this into an action."""

    RETRY = "retry"
    RETRY_AFTER = "retry_after"
    RESYNC_CLOCK = "resync_clock"
    RECONCILE = "reconcile"
    WAIT_FOR_BAN_END = "wait_for_ban_end"
    FIX_REQUEST = "fix_request"
    FIX_CREDENTIALS = "fix_credentials"


_PLACEHOLDER = re.compile(r"%s|%d|\{param\}")
_PLACEHOLDER_PATTERN = {"%s": "(.*?)", "%d": "(-?[0-9]+)", "{param}": "(.*?)"}


def _compile(message: str) -> re.Pattern[str]:
    """Anchored regex for a template; a final period is optional (logs often drop it)."""
    text = message[:-1] if message.endswith(".") else message
    parts: list[str] = []
    last = 0
    for m in _PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[last : m.start()]))
        parts.append(_PLACEHOLDER_PATTERN[m.group()])
        last = m.end()
    parts.append(re.escape(text[last:]))
    return re.compile(r"\A" + "".join(parts) + r"\.?\s*\Z", re.DOTALL)


_WORD = re.compile(r"[A-Za-z]{3,}")


def literal_opening(message: str) -> str:
    """A template's text before its first placeholder, without a final period."""
    cut = min((i for i in (message.find("%"), message.find("{param}")) if i >= 0), default=-1)
    text = (message if cut < 0 else message[:cut]).strip()
    return text[:-1] if text.endswith(".") else text


def words_of(text: str) -> set[str]:
    return set(_WORD.findall(text))


def normalize_message(msg: str) -> str:
    """Key for exact lookups: surrounding blanks and one final period do not matter."""
    msg = msg.strip()
    return msg[:-1] if msg.endswith(".") else msg


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """One message Binance can send for a code; placeholders become named parameters."""

    message: str
    params: tuple[str, ...] = ()
    legacy: bool = False
    description: str = ""
    family: Family | None = None  # overrides the code's family (e.g. a ban message of -1003)
    recovery: Recovery | None = None  # overrides the family's recovery
    filter: str | None = None  # set for "Filter failure: NAME" messages
    _regex: list[re.Pattern[str]] = field(default_factory=list, repr=False)

    @property
    def has_placeholders(self) -> bool:
        return bool(self.params)

    def match(self, msg: str) -> tuple[str, ...] | None:
        """The placeholder values if `msg` is this template rendered, else None."""
        if not self._regex:
            self._regex.append(_compile(self.message))
        m = self._regex[0].match(msg)
        return m.groups() if m else None


@dataclass(frozen=True, slots=True)
class FamilyInfo:
    family: Family
    summary: str
    recovery: Recovery
    binguard: str
    fix: str
    causes: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class CatalogEntry:
    """A Binance error code with its verbatim texts and binguard's metadata."""

    code: int
    name: str | None
    family: Family
    messages: tuple[str, ...]
    templates: tuple[Template, ...]
    statuses: tuple[int, ...]
    may_have_executed: bool
    meaning: str
    causes: tuple[str, ...]
    fix: str
    doc_section: str
    group: str
    heading: str | None = None
    _exact: dict[str, Template] = field(default_factory=dict, repr=False)

    @property
    def display_name(self) -> str | None:
        """Binance's name for the code; None where errors.md gives none (-2021, -2022). A name made
        up from the heading would be one a user cannot find in Binance's docs: `title` carries it."""
        return self.name

    @property
    def title(self) -> str:
        """What errors.md heads the code with: its name, or for the two unnamed cancelReplace codes
        the heading's text, verbatim ("Order cancel-replace partially failed")."""
        return self.name or self.heading or f"code {self.code}"

    def match(self, msg: str) -> tuple[Template, tuple[str, ...]] | None:
        """The template `msg` was rendered from, with its values; None when it matches none."""
        hit = self._exact.get(normalize_message(msg))
        if hit is not None:
            return hit, ()
        for t in self.templates:
            if t.has_placeholders:
                values = t.match(msg)
                if values is not None:
                    return t, values
        return None


class Catalog(Mapping[int, CatalogEntry]):
    """Read-only mapping code -> entry, plus the families and shared message tables."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.source: Mapping[str, str] = data["source"]
        self.families: dict[Family, FamilyInfo] = {
            Family(k): FamilyInfo(
                family=Family(k),
                summary=v["summary"],
                recovery=Recovery(v["recovery"]),
                binguard=v["binguard"],
                fix=v["fix"],
                causes=tuple(v["causes"]),
            )
            for k, v in data["families"].items()
        }
        self._ranges: list[tuple[int, int, Family]] = []
        for span, fam in data["ranges"].items():
            low, high = sorted(int(x) for x in span.split(".."))
            self._ranges.append((low, high, Family(fam)))
        self.rejections: tuple[Template, ...] = tuple(
            Template(
                message=r.get("message_plain", r["message"]),
                description=r["description"],
                recovery=Recovery(r["recovery"]) if "recovery" in r else None,
                family=Family(r["family"]) if "family" in r else None,
            )
            for r in data["order_rejection_messages"]
        )
        self.filter_failures: tuple[Template, ...] = (
            *(
                Template(message=f["message"], description=f["description"], filter=f["filter"])
                for f in data["filter_failures"]
            ),
        )
        shared_rejection_codes = (-1010, -2010, -2011, -2038)
        entries: dict[int, CatalogEntry] = {}
        for c in data["codes"]:
            code = c["code"]
            family = Family(c["family"])
            templates = [
                Template(
                    message=t["message"],
                    params=tuple(t["params"]),
                    legacy=t.get("legacy", False),
                    family=Family.IP_BANNED if "banned_until" in t["params"] else None,
                )
                for t in c["templates"]
            ]
            if code in shared_rejection_codes:
                templates.extend(self.rejections)
            if code in (-1013, -2010):
                templates.extend(self.filter_failures)
                templates.append(_ANY_FILTER)
            entries[code] = CatalogEntry(
                code=code,
                name=c["name"],
                family=family,
                messages=tuple(c["messages"]),
                templates=tuple(templates),
                statuses=tuple(c["statuses"]),
                may_have_executed=c["may_have_executed"],
                meaning=c["meaning"],
                causes=tuple(c["causes"]),
                fix=c["fix"],
                doc_section=c["doc_section"],
                group=c["group"],
                heading=c.get("heading"),
                _exact=_exact_map(templates),
            )
        self._entries = entries
        self._openings: dict[str, tuple[tuple[str, CatalogEntry, Template], ...]] | None = None

    def __getitem__(self, code: int) -> CatalogEntry:
        return self._entries[code]

    def get(self, code: int, default: CatalogEntry | None = None) -> CatalogEntry | None:  # type: ignore[override]
        """Direct dict lookup: Mapping.get's generic version costs a try/except per call."""
        return self._entries.get(code, default)

    def __iter__(self) -> Iterator[int]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def family_of(self, code: int) -> Family:
        """The family of any code: the catalog's, else by Binance's number ranges."""
        entry = self._entries.get(code)
        if entry is not None:
            return entry.family
        for low, high, family in self._ranges:
            if low <= code <= high:
                return family
        return Family.INVALID_REQUEST if code >= 0 else Family.UNCLASSIFIED

    def all_templates(self) -> Iterator[tuple[CatalogEntry, Template]]:
        """Every (entry, template) pair, for matching text that carries no code."""
        for entry in self._entries.values():
            for t in entry.templates:
                yield entry, t

    def openings_by_word(self) -> Mapping[str, tuple[tuple[str, CatalogEntry, Template], ...]]:
        """Each template's fixed opening (the text before its first placeholder, 12 characters
        or more), indexed by the opening's longest word: text that carries no code is checked only
        against the openings sharing one of its words, not against every message."""
        if self._openings is None:
            index: dict[str, list[tuple[str, CatalogEntry, Template]]] = {}
            seen: set[tuple[int, str]] = set()
            for entry, t in self.all_templates():
                opening = literal_opening(t.message)
                words = _WORD.findall(opening)
                if len(opening) < 12 or not words or (entry.code, t.message) in seen:
                    continue
                seen.add((entry.code, t.message))
                index.setdefault(max(words, key=len), []).append((opening, entry, t))
            self._openings = {w: tuple(v) for w, v in index.items()}
        return self._openings


def _exact_map(templates: list[Template]) -> dict[str, Template]:
    exact: dict[str, Template] = {}
    for t in templates:
        if not t.has_placeholders:
            exact.setdefault(normalize_message(t.message), t)
    return exact


# A filter Binance adds later still names itself: keep the name even when no row documents it.
_ANY_FILTER = Template(message="Filter failure: %s", params=("filter",))


@cache
def catalog() -> Catalog:
    """The catalog shipped with binguard (parsed once per process)."""
    raw = resources.files("binguard.errors").joinpath("catalog.json").read_bytes()
    return Catalog(json.loads(raw))
