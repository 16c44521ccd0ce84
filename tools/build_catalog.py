"""Build src/binguard/errors/catalog.json from Binance's reference catalog and our metadata.

Binance's texts are copied verbatim; everything binguard adds comes from tools/catalog_metadata.toml.
Run `python -m tools.build_catalog [REFERENCE]` after either changes; the catalog test fails while
catalog.json is stale. Errors in the metadata (unknown family, wrong placeholder count) stop the build.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "binance-spot-errors.json"
METADATA = ROOT / "tools" / "catalog_metadata.toml"
OUTPUT = ROOT / "src" / "binguard" / "errors" / "catalog.json"

PLACEHOLDER = re.compile(r"%s|%d|\{param\}")
FAMILIES = (
    "transport",
    "execution_unknown",
    "rate_limited",
    "ip_banned",
    "clock_skew",
    "server_busy",
    "auth",
    "waf_blocked",
    "invalid_request",
    "order_rejected",
    "cancel_rejected",
    "order_not_found",
    "unclassified",
)
RECOVERIES = (
    "retry",
    "retry_after",
    "resync_clock",
    "reconcile",
    "wait_for_ban_end",
    "fix_request",
    "fix_credentials",
)


class MetadataError(ValueError):
    """The metadata file contradicts the reference or itself."""


def _placeholders(message: str) -> int:
    return len(PLACEHOLDER.findall(message))


def _templates(code: int, messages: list[str], names: list[list[str]]) -> list[dict[str, Any]]:
    out = []
    for i, message in enumerate(messages):
        count = _placeholders(message)
        params = names[i] if i < len(names) else [f"value{n + 1}" for n in range(count)]
        if len(params) != count:
            raise MetadataError(f"{code}: message {i} has {count} placeholders, params={params}")
        out.append({"message": message, "params": params})
    return out


def _range_family(code: int, ranges: dict[str, str]) -> str:
    for span, family in ranges.items():
        high, low = (int(x) for x in span.split(".."))
        if low <= code <= high:
            return family
    return "unclassified"


def build(reference: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Return the catalog as a JSON-ready dict."""
    for name, fam in meta["families"].items():
        if name not in FAMILIES or fam["recovery"] not in RECOVERIES:
            raise MetadataError(f"family {name!r}: unknown family or recovery")
    ranges = meta["ranges"]
    codes_meta = meta["codes"]
    known = {c["code"] for c in reference["codes"]}
    stray = {int(k) for k in codes_meta} - known
    if stray:
        raise MetadataError(f"metadata for codes not in the reference: {sorted(stray)}")

    codes = []
    for ref in reference["codes"]:
        code = ref["code"]
        m = codes_meta.get(str(code), {})
        family = m.get("family", _range_family(code, ranges))
        if family not in FAMILIES:
            raise MetadataError(f"{code}: unknown family {family!r}")
        names = m.get("params", [])
        templates = _templates(code, ref["messages"], names)
        plain = ref.get("messages_plain", [])
        seen = {t["message"] for t in templates}
        for i, message in enumerate(plain):
            if message in seen:
                continue
            seen.add(message)
            count = _placeholders(message)
            params = names[i] if i < len(names) and len(names[i]) == count else None
            params = params or [f"value{n + 1}" for n in range(count)]
            templates.append({"message": message, "params": params})
        for old in m.get("legacy", []):
            if _placeholders(old["message"]) != len(old["params"]):
                raise MetadataError(f"{code}: legacy message placeholders != params")
            templates.append({"message": old["message"], "params": old["params"], "legacy": True})
        entry: dict[str, Any] = {
            "code": code,
            "name": ref["name"],
            "group": ref["group"],
            "doc_section": ref["doc_section"],
            "messages": ref["messages"],
        }
        if "messages_plain" in ref:
            entry["messages_plain"] = ref["messages_plain"]
        if ref.get("heading"):
            entry["heading"] = ref["heading"]
        entry["family"] = family
        entry["statuses"] = m.get("statuses", [400])
        entry["may_have_executed"] = m.get("may_have_executed", False)
        entry["meaning"] = m.get("meaning") or ref.get("description") or ""
        entry["causes"] = m.get("causes", [])
        entry["fix"] = m.get("fix", "")
        entry["templates"] = templates
        codes.append(entry)

    overrides = meta.get("rejections", {})
    rejections = []
    for r in reference["order_rejection_messages"]:
        item = {"message": r["message"], "description": r["description"]}
        if "message_plain" in r:
            item["message_plain"] = r["message_plain"]
        item.update(overrides.get(r["message"], {}))
        rejections.append(item)
    unknown = set(overrides) - {r["message"] for r in rejections}
    if unknown:
        raise MetadataError(f"rejection overrides for unknown messages: {sorted(unknown)}")

    return {
        "about": "Generated by tools/build_catalog.py; do not edit. Binance texts are verbatim.",
        "source": {k: reference[k] for k in ("source", "repository", "commit", "file")},
        "families": meta["families"],
        "ranges": ranges,
        "codes": codes,
        "order_rejection_messages_applies_to": reference["order_rejection_messages_applies_to"],
        "order_rejection_messages": rejections,
        "filter_failures": reference["filter_failures"],
    }


def render(reference_path: Path = REFERENCE) -> str:
    reference = json.loads(reference_path.read_text(encoding="utf-8"))
    meta = tomllib.loads(METADATA.read_text(encoding="utf-8"))
    return json.dumps(build(reference, meta), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else REFERENCE
    OUTPUT.write_text(render(path), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
