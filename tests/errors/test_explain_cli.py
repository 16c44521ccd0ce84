"""`binguard explain` as a user runs it: a real subprocess at 80 columns without a TTY, human and JSON.

HTTP statuses follow rest-api.md "HTTP Return Codes"; names follow errors.md through the reference
catalog (/work/shared/reference/binance-spot-errors.json, vendored in tests/data).
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from binguard.errors import catalog

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "binance-spot-errors.json"
CRASH = "AttributeError: 'ConnectionError' object has no attribute 'code'"


def binguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "binguard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )


def _fits_80(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > 80]
    assert not too_wide, too_wide


def test_explain_code_human() -> None:
    out = binguard("explain", "-1021")
    assert out.returncode == 0, out.stderr
    for part in (
        "INVALID_TIMESTAMP",
        "Meaning",
        "Likely causes",
        "What binguard does",
        "What you should do",
    ):
        assert part in out.stdout


def test_explain_message_json_with_params() -> None:
    out = binguard(
        "explain", "--json", "Too many new orders; current limit is 50 orders per 10 SECOND."
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["code"] == -1015
    assert data["name"] == "TOO_MANY_ORDERS"
    assert data["family"] == "rate_limited"
    assert data["recovery"] == "retry_after"
    assert data["params"] == {"limit": 50, "interval": "10 SECOND"}
    assert "Too many new orders." in data["messages"]


def test_explain_all_json_lists_every_entry() -> None:
    out = binguard("explain", "--all", "--json")
    assert out.returncode == 0
    data = json.loads(out.stdout)
    assert [d["code"] for d in data] == list(catalog())
    assert all({"code", "name", "family", "recovery", "messages"} <= d.keys() for d in data)


def test_explain_unknown_input_exits_1_without_traceback() -> None:
    out = binguard("explain", "nothing to see here")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert "no Binance error" in out.stderr


def test_human_output_fits_80_columns() -> None:
    for query in ("-1021", "429", "-2021", CRASH, "Filter failure: PRICE_FILTER"):
        out = binguard("explain", query)
        assert out.returncode == 0, (query, out.stderr)
        _fits_80(out.stdout)
    out = binguard("explain", "--all")
    _fits_80(out.stdout)


@pytest.mark.parametrize(
    ("query", "status", "family", "words"),
    [
        ("403", 403, "waf_blocked", "WAF (Web Application Firewall)"),
        ("409", 409, "order_rejected", "cancelReplace order partially succeeds"),
        ("418", 418, "ip_banned", "auto-banned for continuing to send requests"),
        ("HTTP 429", 429, "rate_limited", "breaking a request rate limit"),
        ("5XX", 500, "execution_unknown", "execution status is **UNKNOWN**"),
        ("503", 503, "execution_unknown", "could have been a success"),
        ("404", 404, "unclassified", "malformed requests"),
    ],
)
def test_http_statuses_as_binance_uses_them(
    query: str, status: int, family: str, words: str
) -> None:
    """rest-api.md, "HTTP Return Codes": the sentence for each status, verbatim."""
    out = binguard("explain", "--json", query)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["kind"] == "http_status"
    assert data["http_status"] == status
    assert data["family"] == family
    assert words in data["meaning"]
    assert data["code"] is None and data["name"] is None
    assert data["doc_section"] == "rest-api.md, HTTP Return Codes"
    assert "number range" not in data["meaning"]


def test_http_418_and_429_name_the_codes_sent_with_them() -> None:
    seen = {
        q: json.loads(binguard("explain", "--json", q).stdout)["see_also"] for q in ("418", "429")
    }
    assert [s["code"] for s in seen["418"]] == [-1003]
    assert [s["code"] for s in seen["429"]] == [-1003, -1015]


def test_crash_line_is_the_bots_handler_bug() -> None:
    out = binguard("explain", "--json", CRASH)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["kind"] == "handler_crash"
    assert data["exception"] == "ConnectionError"
    assert "bot's own error handler crashed" in data["meaning"]
    assert "getattr(exc, 'code', None)" in data["fix"]
    human = binguard("explain", CRASH).stdout
    assert "handler crashed" in human and "network" not in human.splitlines()[0]


def test_json_no_match_is_json_with_status_1() -> None:
    out = binguard("explain", "--json", "nothing to see here")
    assert out.returncode == 1
    assert json.loads(out.stdout) == {
        "error": "no Binance error found in 'nothing to see here'",
        "query": "nothing to see here",
    }


def test_json_without_query_is_json_with_status_2() -> None:
    out = binguard("explain", "--json")
    assert out.returncode == 2
    assert "error" in json.loads(out.stdout)
    assert len(out.stderr.splitlines()) == 1


def test_bad_arguments_are_one_line_and_status_2() -> None:
    out = binguard("explain", "--bogus")
    assert out.returncode == 2
    assert out.stderr.splitlines() == ["binguard: error: unrecognized arguments: --bogus"]


def test_version_from_package_metadata() -> None:
    out = binguard("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"binguard {version('binguard')}"


def test_all_json_names_and_titles_hold_to_the_reference() -> None:
    """Binance's errors.md gives -2021 and -2022 no name: `name` is null, `title` is the heading."""
    reference: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ref = {c["code"]: c for c in reference["codes"]}
    data = json.loads(binguard("explain", "--all", "--json").stdout)
    assert {d["code"] for d in data} == set(ref)
    for d in data:
        expected = ref[d["code"]]
        assert d["name"] == expected["name"], d["code"]
        assert d["title"] == (expected["name"] or expected["heading"]), d["code"]
    unnamed = {d["code"]: d["title"] for d in data if d["name"] is None}
    assert unnamed == {
        -2021: "Order cancel-replace partially failed",
        -2022: "Order cancel-replace failed.",
    }
    for code in (-2021, -2022):
        single = json.loads(binguard("explain", "--json", str(code)).stdout)
        assert single["name"] is None and single["title"] == unnamed[code]
