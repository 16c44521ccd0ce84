"""`binguard explain` as a user runs it: a real subprocess, human and JSON output."""

from __future__ import annotations

import json
import subprocess
import sys

from binguard.errors import catalog


def binguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "binguard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"COLUMNS": "100", "PATH": "/usr/bin:/bin"},
    )


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
