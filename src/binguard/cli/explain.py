"""`binguard explain`: what a Binance error code, HTTP status or message means and what to do.

    binguard explain -1021
    binguard explain 429                      # HTTP statuses: 403, 409, 418, 429, 5XX, other 4XX
    binguard explain "Timestamp for this request is outside of the recvWindow."
    binguard explain "AttributeError: 'ConnectionError' object has no attribute 'code'"
    binguard explain --all [--json]

Every answer has a `kind`: "code", "http_status", "message" or "handler_crash". `name` is Binance's
name for the code, null where Binance gives none (-2021, -2022, HTTP statuses, the handler crash);
`title` always carries the heading to show. With --json the output is always one JSON document,
`{"error": ...}` when nothing is recognised.

Exit status: 0 explained; 1 not a known Binance error (or a code outside the catalog); 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from binguard.errors import BinanceError, CatalogEntry, HttpReply, catalog, classify, classify_text
from binguard.errors._hints import (
    CRASH_BINGUARD,
    CRASH_FIX,
    CRASH_MEANING,
    CRASH_TITLE,
    HTTP_DOC,
    HttpHint,
    handler_crash,
    http_status,
)

if TYPE_CHECKING:
    from rich.console import Console

_CODE = re.compile(r"\A\s*(-?\d{1,5})\s*\Z")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "query", nargs="?", help="an error code (-1021), an HTTP status (429, 5XX), or a log line"
    )
    parser.add_argument("--all", action="store_true", help="every code in the catalog")
    parser.add_argument("--json", action="store_true", help="machine-readable output, always JSON")


def entry_json(entry: CatalogEntry) -> dict[str, Any]:
    """One catalog entry as the JSON `explain` prints (also used by --all --json)."""
    fam = catalog().families[entry.family]
    return {
        "kind": "code",
        "code": entry.code,
        "name": entry.name,
        "title": entry.title,
        "family": entry.family.value,
        "recovery": fam.recovery.value,
        "messages": list(entry.messages),
        "statuses": list(entry.statuses),
        "may_have_executed": entry.may_have_executed,
        "meaning": entry.meaning or fam.summary,
        "causes": list(entry.causes or fam.causes),
        "binguard": fam.binguard,
        "fix": entry.fix or fam.fix,
        "doc_section": entry.doc_section,
    }


def _unknown_code_json(code: int) -> dict[str, Any]:
    family = catalog().family_of(code)
    fam = catalog().families[family]
    return {
        "kind": "code",
        "code": code,
        "name": None,
        "title": f"code {code}",
        "family": family.value,
        "recovery": fam.recovery.value,
        "messages": [],
        "meaning": f"Not in Binance's catalog; by its number range it belongs to '{family.value}'.",
        "causes": list(fam.causes),
        "binguard": fam.binguard,
        "fix": fam.fix,
        "known": False,
    }


def _http_json(hint: HttpHint) -> dict[str, Any]:
    """An HTTP status as Binance's rest-api.md uses it; the family is the one classify() gives."""
    err = classify(HttpReply(hint.status, (), ""))
    family = err.family if err is not None else catalog().family_of(0)
    if hint.codes and family.value == "unclassified":  # 409: the cancelReplace codes' family
        family = catalog()[hint.codes[0]].family
    fam = catalog().families[family]
    return {
        "kind": "http_status",
        "http_status": hint.status,
        "code": None,
        "name": None,
        "title": f"HTTP {hint.label}",
        "family": family.value,
        "recovery": fam.recovery.value,
        "may_have_executed": hint.status >= 500 or hint.status == 409,
        "meaning": hint.meaning,
        "causes": list(fam.causes),
        "binguard": fam.binguard,
        "fix": fam.fix,
        "see_also": [{"code": c, "title": catalog()[c].title} for c in hint.codes],
        "doc_section": HTTP_DOC,
    }


def _crash_json(exception: str, matched: str) -> dict[str, Any]:
    return {
        "kind": "handler_crash",
        "code": None,
        "name": None,
        "title": CRASH_TITLE,
        "exception": exception,
        "matched": matched,
        "family": None,
        "recovery": None,
        "meaning": CRASH_MEANING,
        "causes": [f"a {exception} reached a handler written only for Binance API errors"],
        "binguard": CRASH_BINGUARD,
        "fix": CRASH_FIX,
    }


def _error_json(err: BinanceError) -> dict[str, Any]:
    """A classified message: the entry's explanation plus what was matched in the text."""
    entry = err.entry
    if entry is not None:
        out = entry_json(entry)
        out["family"] = err.family.value  # the message may refine it (a ban message of -1003)
        out["recovery"] = err.recovery.value
    else:
        fam = catalog().families[err.family]
        out = {
            "code": err.code,
            "name": None,
            "title": f"HTTP {err.http_status}" if err.http_status else err.family.value,
            "family": err.family.value,
            "recovery": err.recovery.value,
            "messages": [],
            "meaning": fam.summary,
            "causes": list(fam.causes),
            "binguard": fam.binguard,
            "fix": fam.fix,
        }
    out["kind"] = "message"
    out["matched"] = err.template
    out["params"] = err.as_dict()["params"]
    if err.filter:
        out["params"].setdefault("filter", err.filter)
    return out


def lookup(query: str) -> dict[str, Any] | None:
    """The explanation for a code, HTTP status or message; None when it names no Binance error."""
    crash = handler_crash(query)
    if crash is not None:
        return _crash_json(crash.exception, crash.matched)
    hint = http_status(query)
    if hint is not None:
        return _http_json(hint)
    m = _CODE.match(query)
    if m:
        code = int(m.group(1))
        if code > 0 and -code in catalog():
            code = -code  # people often drop the sign
        entry = catalog().get(code)
        return entry_json(entry) if entry is not None else _unknown_code_json(code)
    err = classify_text(query)
    return _error_json(err) if err is not None else None


def _render(console: Console, info: dict[str, Any]) -> None:
    from rich.panel import Panel
    from rich.text import Text

    code = info.get("code")
    title = f"{code} {info['title']}" if code is not None else info["title"]
    body = Text()

    def section(label: str, text: str) -> None:
        body.append(f"{label}\n", style="bold")
        body.append(f"{text}\n\n")

    if info.get("family"):
        section("Family", f"{info['family']} → recovery: {info['recovery']}")
    section("Meaning", info["meaning"])
    if info.get("doc_section"):
        section("Binance's docs", info["doc_section"])
    if info.get("matched"):
        section("Matched message", info["matched"])
    if info.get("params"):
        section("Values", ", ".join(f"{k} = {v}" for k, v in info["params"].items()))
    if info.get("messages"):
        section("Binance's messages", "\n".join(f"• {m}" for m in info["messages"]))
    if info.get("see_also"):
        section(
            "Codes sent with it", ", ".join(f"{s['code']} {s['title']}" for s in info["see_also"])
        )
    if info.get("causes"):
        section("Likely causes", "\n".join(f"• {c}" for c in info["causes"]))
    section("What binguard does", info["binguard"])
    section("What you should do", info["fix"])
    body.rstrip()
    console.print(Panel(body, title=title, title_align="left"))


def _render_all(console: Console) -> None:
    from rich.table import Table

    table = Table(title="Binance Spot error catalog")
    for col in ("code", "name", "family", "recovery"):
        table.add_column(col)
    for entry in catalog().values():
        fam = catalog().families[entry.family]
        table.add_row(str(entry.code), entry.title, entry.family.value, fam.recovery.value)
    console.print(table)


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _fail(args: argparse.Namespace, message: str, status: int, **extra: Any) -> int:
    """A failure: one line on stderr, and with --json the same as a JSON object on stdout."""
    if args.json:
        print(json.dumps({"error": message, **extra}))
    print(f"binguard explain: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    if args.all:
        if args.json:
            print(json.dumps([entry_json(e) for e in catalog().values()], indent=1))
        else:
            _render_all(_console())
        return 0
    if not args.query:
        return _fail(args, "give a code, an HTTP status, a message, or --all", 2)
    info = lookup(args.query)
    if info is None:
        return _fail(args, f"no Binance error found in {args.query!r}", 1, query=args.query)
    if args.json:
        print(json.dumps(info, indent=1, default=str))
    else:
        _render(_console(), info)
    return 0 if info.get("known", True) else 1


__all__ = ["add_arguments", "entry_json", "lookup", "run"]
