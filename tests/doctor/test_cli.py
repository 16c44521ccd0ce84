"""`binguard doctor` as users run it: files, stdin, .gz, directories, bad inputs, --json, --html."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from binguard.cli import main

from .helpers import DATA

_TOP = {"schema", "generated_at", "summary", "inputs", "findings", "diagnoses"}
_FINDING = {
    "code",
    "name",
    "title",
    "family",
    "count",
    "first_seen",
    "last_seen",
    "timeline",
    "messages",
    "values",
    "http_statuses",
    "endpoints",
    "meaning",
    "causes",
    "fix",
    "family_summary",
    "recovery",
    "binguard",
    "may_have_executed",
    "examples",
}


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    status = main(["doctor", "--json", *args])
    return status, json.loads(capsys.readouterr().out)


def test_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    status, doc = _json(capsys, str(DATA / "python_binance.log"))
    assert status == 1
    assert set(doc) == _TOP
    assert doc["schema"] == "binguard.doctor/1"
    assert doc["summary"]["error_lines"] == 9
    assert doc["summary"]["findings"] == len(doc["findings"]) == 6
    first = doc["findings"][0]
    assert set(first) == _FINDING
    assert first["code"] == -1003
    assert first["name"] == "TOO_MANY_REQUESTS"
    assert first["family"] == "rate_limited"
    assert first["count"] == 3
    assert first["first_seen"] == "2024-03-02T10:00:01.100+00:00"
    assert first["last_seen"] == "2024-03-02T10:00:03.100+00:00"
    assert first["timeline"] == {"2024-03-02T10:00:00.000+00:00": 3}
    assert first["values"]["limit"] == [{"value": 6000, "count": 3}]
    assert {d["id"] for d in doc["diagnoses"]} == {"ignored_rate_limit", "polling"}
    ev = doc["diagnoses"][0]["evidence"][0]
    assert set(ev) == {"file", "line", "time", "text"}
    assert ev["file"].endswith("python_binance.log")


def test_clean_log_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "ok.log"
    log.write_text("2024-03-01 00:00:00 INFO all good\n2024-03-01 00:00:01 INFO error_count=0\n")
    status, doc = _json(capsys, str(log))
    assert status == 0
    assert doc["findings"] == [] and doc["diagnoses"] == []


def test_gz_and_directory_recursion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = tmp_path / "logs" / "old"
    nested.mkdir(parents=True)
    shutil.copy(DATA / "ccxt.log", tmp_path / "logs" / "ccxt.log")
    with gzip.open(nested / "hummingbot.log.1.gz", "wb") as gz:
        gz.write((DATA / "hummingbot.log").read_bytes())
    (tmp_path / "logs" / ".hidden.log").write_text('{"code":-1121,"msg":"Invalid symbol."}\n')
    (nested / "state.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(100))
    status, doc = _json(capsys, str(tmp_path / "logs"))
    assert status == 1  # the binary file found in a directory is skipped, not a failure
    paths = [Path(i["path"]).name for i in doc["inputs"]]
    assert paths == ["ccxt.log", "hummingbot.log.1.gz", "state.sqlite"]
    assert doc["inputs"][2]["skipped"] and doc["inputs"][2]["error"] is None
    assert doc["summary"]["error_lines"] == 6 + 8
    assert -1121 not in {f["code"] for f in doc["findings"]}


def test_binary_and_missing_inputs_among_good_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 10)
    bad_gz = tmp_path / "broken.gz"
    bad_gz.write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    status = main(
        [
            "doctor",
            "--json",
            str(blob),
            str(DATA / "raw.txt"),
            str(tmp_path / "nope.log"),
            str(bad_gz),
        ]
    )
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert status == 1 | 4
    errors = {Path(i["path"]).name: i["error"] for i in doc["inputs"]}
    assert errors["blob.bin"] == "binary file (NUL bytes), not a text log"
    assert errors["raw.txt"] is None
    assert errors["nope.log"] == "no such file"
    assert errors["broken.gz"].startswith("not a valid gzip file")
    assert doc["summary"]["error_lines"] == 4
    assert "cannot read" in captured.err and "Traceback" not in captured.err


def test_only_failed_inputs_exit_four(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(tmp_path / "missing.log")]) == 4
    assert "cannot read" in capsys.readouterr().err


def test_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.html"
    status = main(["doctor", "--html", str(out), str(DATA / "hummingbot.log")])
    assert status == 1
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page and "<rect" in page
    assert "INVALID_TIMESTAMP" in page and "Recurring -1021" in page
    # self-contained: nothing is fetched
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in page
    # log text is escaped
    assert "&#x27;ConnectionError&#x27;" in page
    assert "INVALID_TIMESTAMP" in capsys.readouterr().out  # the terminal report still printed


def test_html_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["doctor", "--html", str(tmp_path / "no" / "dir.html"), str(DATA / "raw.txt")])
    assert status == 2
    assert "cannot write" in capsys.readouterr().err


def test_terminal_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(DATA / "ccxt.log")]) == 1
    out = capsys.readouterr().out
    for part in (
        "NO_SUCH_ORDER",
        "Unknown execution status handled as failure",
        "What binguard does",
        "ccxt.log:3",
    ):
        assert part in out


def _subprocess(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "binguard", "doctor", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_stdin_plain_and_gzip() -> None:
    data = (DATA / "freqtrade.log").read_bytes()
    for payload in (data, gzip.compress(data)):
        out = _subprocess("--json", "-", stdin=payload)
        assert out.returncode == 1, out.stderr
        doc = json.loads(out.stdout)
        assert doc["inputs"][0]["path"] == "-"
        assert doc["summary"]["error_lines"] == 4
        assert out.stderr == b""  # no progress bar when stderr is not a terminal


def test_binary_stdin_is_a_clear_error() -> None:
    out = _subprocess("-", stdin=b"\x00\x01\x02" * 100)
    assert out.returncode == 4
    assert b"binary file" in out.stderr and b"Traceback" not in out.stderr
