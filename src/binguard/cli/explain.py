"""`binguard explain`: what a Binance error code or message means and what to do about it.

    binguard explain -1021
    binguard explain "Timestamp for this request is outside of the recvWindow."
    binguard explain --all [--json]

Exit status: 0 when the code or message is explained, 1 when it is not a known Binance error.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from binguard.errors import BinanceError, CatalogEntry, catalog, classify_text

_CODE = re.compile(r"\A\s*(-?\d{1,5})\s*\Z")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="?", help="an error code (-1021) or a message or log line")
    parser.add_argument("--all", action="store_true", help="every code in the catalog")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def entry_json(entry: CatalogEntry) -> dict[str, Any]:
    """One catalog entry as the JSON `explain` prints (also used by --all --json)."""
    fam = catalog().families[entry.family]
    return {
        "code": entry.code,
        "name": entry.display_name,
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
        "code": code,
        "name": None,
        "family": family.value,
        "recovery": fam.recovery.value,
        "messages": [],
        "meaning": f"Not in Binance's catalog; by its number range it belongs to '{family.value}'.",
        "causes": list(fam.causes),
        "binguard": fam.binguard,
        "fix": fam.fix,
        "known": False,
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
            "family": err.family.value,
            "recovery": err.recovery.value,
            "messages": [],
            "meaning": fam.summary,
            "causes": list(fam.causes),
            "binguard": fam.binguard,
            "fix": fam.fix,
        }
    out["matched"] = err.template
    out["params"] = err.as_dict()["params"]
    if err.filter:
        out["params"].setdefault("filter", err.filter)
    return out


def lookup(query: str) -> dict[str, Any] | None:
    """The explanation for a code or a message, or None when it names no Binance error."""
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
    title = f"{info['code'] if info['code'] is not None else ''} {info['name'] or ''}".strip()
    body = Text()

    def section(label: str, text: str) -> None:
        body.append(f"{label}\n", style="bold")
        body.append(f"{text}\n\n")

    section("Family", f"{info['family']} → recovery: {info['recovery']}")
    section("Meaning", info["meaning"])
    if info.get("matched"):
        section("Matched message", info["matched"])
    if info.get("params"):
        section("Values", ", ".join(f"{k} = {v}" for k, v in info["params"].items()))
    if info.get("messages"):
        section("Binance's messages", "\n".join(f"• {m}" for m in info["messages"]))
    if info.get("causes"):
        section("Likely causes", "\n".join(f"• {c}" for c in info["causes"]))
    section("What binguard does", info["binguard"])
    section("What you should do", info["fix"])
    body.rstrip()
    console.print(Panel(body, title=title or "error", title_align="left"))


def _render_all(console: Console) -> None:
    table = Table(title="Binance Spot error catalog")
    for col in ("code", "name", "family", "recovery"):
        table.add_column(col)
    for entry in catalog().values():
        fam = catalog().families[entry.family]
        table.add_row(str(entry.code), entry.display_name, entry.family.value, fam.recovery.value)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.all:
        if args.json:
            print(json.dumps([entry_json(e) for e in catalog().values()], indent=1))
        else:
            _render_all(console)
        return 0
    if not args.query:
        print("binguard explain: give a code, a message, or --all", file=sys.stderr)
        return 2
    info = lookup(args.query)
    if info is None:
        print(f"binguard explain: no Binance error found in {args.query!r}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(info, indent=1, default=str))
    else:
        _render(console, info)
    return 0 if info.get("known", True) else 1


__all__ = ["add_arguments", "entry_json", "lookup", "run"]
