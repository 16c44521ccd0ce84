"""The catalog holds Binance's text exactly: codes, names and every message, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tools.build_catalog import render

from binguard.errors import Family, Recovery, catalog

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "tests" / "data" / "binance-spot-errors.json"
SHARED = ROOT.parent / "shared" / "reference" / "binance-spot-errors.json"
CATALOG_JSON = ROOT / "src" / "binguard" / "errors" / "catalog.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VENDORED.read_text(encoding="utf-8"))
    return data


def test_vendored_reference_is_the_shared_one() -> None:
    if not SHARED.exists():
        pytest.skip("../shared is not beside this checkout")
    assert VENDORED.read_bytes() == SHARED.read_bytes()


def test_catalog_json_is_built_from_reference_and_metadata() -> None:
    assert CATALOG_JSON.read_text(encoding="utf-8") == render(VENDORED), (
        "catalog.json is stale: run `python -m tools.build_catalog`"
    )


def test_every_code_name_and_message_verbatim(reference: dict[str, Any]) -> None:
    ref = {c["code"]: c for c in reference["codes"]}
    assert len(ref) == 106
    assert set(catalog()) == set(ref)
    for code, c in ref.items():
        entry = catalog()[code]
        assert entry.name == c["name"]
        assert list(entry.messages) == c["messages"]


def test_plain_message_variants_are_templates(reference: dict[str, Any]) -> None:
    for c in reference["codes"]:
        templates = {t.message for t in catalog()[c["code"]].templates}
        assert set(c["messages"]) <= templates
        assert set(c.get("messages_plain", [])) <= templates


def test_matching_engine_messages_verbatim(reference: dict[str, Any]) -> None:
    expected = [r.get("message_plain", r["message"]) for r in reference["order_rejection_messages"]]
    assert len(expected) == 41
    assert [t.message for t in catalog().rejections] == expected
    for code in (-1010, -2010, -2011, -2038):
        assert set(expected) <= {t.message for t in catalog()[code].templates}


def test_filter_failures_verbatim(reference: dict[str, Any]) -> None:
    expected = [(f["filter"], f["message"]) for f in reference["filter_failures"]]
    assert len(expected) == 18
    assert [(t.filter, t.message) for t in catalog().filter_failures] == expected


def test_every_family_has_guidance() -> None:
    assert set(catalog().families) == set(Family)
    for info in catalog().families.values():
        assert info.summary and info.binguard and info.fix
        assert isinstance(info.recovery, Recovery)


def test_named_placeholders_match_their_count() -> None:
    for entry in catalog().values():
        for t in entry.templates:
            count = t.message.count("%s") + t.message.count("%d") + t.message.count("{param}")
            assert len(t.params) == count, (entry.code, t.message, t.params)


def test_unnamed_codes_keep_name_none_and_title_the_heading(reference: dict[str, Any]) -> None:
    """errors.md gives -2021/-2022 only a heading: no output may invent a name for them."""
    from binguard.errors import classify

    for c in reference["codes"]:
        entry = catalog()[c["code"]]
        assert entry.display_name == c["name"]
        assert entry.title == (c["name"] or c["heading"])
    err = classify({"code": -2021, "msg": "Order cancel-replace partially failed."})
    assert err is not None
    assert err.name is None and err.as_dict()["name"] is None
    assert str(err).startswith("[-2021] Order cancel-replace partially failed.")
