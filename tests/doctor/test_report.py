"""The report as a reader meets it (issue 19): per-source diagnoses, -1021's two messages apart,
clean excerpts and values, -1020 under the simulator, and the terminal at 80 columns, no TTY.

Logs are written into tmp_path the way the named libraries log; the CLI runs in a subprocess with
COLUMNS=80 and stdout a pipe, as in CI or `| less`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from binguard.doctor import doctor
from binguard.errors import Family

from .helpers import DATA, diagnosis, finding

WEIGHT = (
    "APIError(code=-1003): Too much request weight used; current limit is 6000 request weight per "
    "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."
)
BAN = (
    "APIError(code=-1003): Way too much request weight used; IP banned until {until}. Please use "
    "WebSocket Streams for live updates to avoid bans."
)
BEHIND = "Timestamp for this request is outside of the recvWindow."
AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _escalation(tmp: Path) -> str:
    """A bot that kept polling after 429s and got banned at 12:00:04 (python-binance's wording)."""
    return _write(
        tmp / "escalating-bot.log",
        [
            "2024-03-02 12:00:00,000 INFO bot: polling order book",
            *(
                f"2024-03-02 12:00:0{i},000 ERROR bot: GET /api/v3/depth: {WEIGHT}"
                for i in (1, 2, 3)
            ),
            "2024-03-02 12:00:04,000 ERROR bot: GET /api/v3/depth: "
            + BAN.format(until=1709384404000),
        ],
    )


def _earlier_ban(tmp: Path) -> str:
    """Another bot, banned the day before, with no warning in its own log."""
    return _write(
        tmp / "other-bot.log",
        [
            "2024-03-01 08:00:00,000 INFO other: start",
            "2024-03-01 08:00:01,000 ERROR other: " + BAN.format(until=1709283601000),
        ],
    )


def test_ban_diagnosis_is_per_source_an_earlier_ban_elsewhere_does_not_hide_it(
    tmp_path: Path,
) -> None:
    escalating, other = _escalation(tmp_path), _earlier_ban(tmp_path)
    for order in ([escalating, other], [other, escalating]):
        report = doctor(order)
        ignored = diagnosis(report, "ignored_rate_limit")
        assert ignored.severity == "critical"
        assert ignored.source == escalating
        assert ignored.data["warnings_before_ban"] == 3
        assert {e.path for e in ignored.evidence} == {escalating}
    alone = doctor([other])
    assert [d.id for d in alone.diagnoses] == []


def _clock_log(path: Path, hours: list[int], message: str, *, day: int = 1) -> str:
    lines = [f"2024-03-{day:02d} 00:00:00,000 INFO bot: start"]
    for h in hours:
        lines.append(
            f"2024-03-{day:02d} {h:02d}:00:00,000 WARNING bot: APIError(code=-1021): {message}"
        )
    return _write(path, lines)


def test_ahead_and_behind_are_diagnosed_apart(tmp_path: Path) -> None:
    """errors.md: -1021 has two messages; 'ahead' is the clock ahead, recvWindow is late arrival."""
    lines = ["2024-03-01 00:00:00,000 INFO bot: start"]
    lines += [
        f"2024-03-01 0{h}:00:00,000 WARNING bot: APIError(code=-1021): {AHEAD}" for h in (1, 2, 3)
    ]
    lines += [
        f"2024-03-01 0{h}:30:00,000 WARNING bot: APIError(code=-1021): {BEHIND}" for h in (4, 8)
    ]
    report = doctor([_write(tmp_path / "both.log", lines)])
    ahead, behind = diagnosis(report, "clock_ahead"), diagnosis(report, "clock_behind")
    assert (ahead.data["events"], ahead.data["threshold_ms"]) == (3, 1000)
    assert (behind.data["events"], behind.data["threshold_ms"]) == (2, 5000)
    assert ahead.data["drift_ms_per_hour"] == 1000.0  # 1000 ms crossed every hour
    assert behind.data["drift_ms_per_hour"] == 1250.0  # 5000 ms crossed every 4 hours
    assert "ahead of Binance's" in ahead.summary and "behind" not in ahead.summary
    assert "recvWindow" in behind.summary


def test_drift_is_fitted_per_source_and_per_episode(tmp_path: Path) -> None:
    fast = _clock_log(tmp_path / "fast.log", [1, 2, 3, 4], BEHIND)  # every hour
    slow = _clock_log(tmp_path / "slow.log", [4, 8, 12], BEHIND, day=5)  # every 4 hours
    report = doctor([fast, slow])
    rates = {d.source: d.data["drift_ms_per_hour"] for d in report.diagnoses}
    assert rates == {fast: 5000.0, slow: 1250.0}
    slow_episodes = next(d for d in report.diagnoses if d.source == slow).data["episode_list"]
    assert [e["since_previous_s"] for e in slow_episodes] == [None, 14400.0, 14400.0]
    assert [e["drift_ms_per_hour"] for e in slow_episodes] == [None, 1250.0, 1250.0]


def test_excerpts_and_values_are_clean(tmp_path: Path) -> None:
    log = _write(
        tmp_path / "sdk.log",
        [
            "[2024-03-03 09:00:00] ERROR binance.error.ClientError: (400, -1013, 'Filter failure: "
            "PRICE_FILTER', {'Content-Type': 'application/json', 'x-mbx-uuid': 'abc'})",
            '{"ts": 1709456400000, "level": "error", "error": {"code": -2013, "msg": "Order does '
            'not exist."}}',
        ],
    )
    report = doctor([log])
    flt = finding(report, -1013, Family.ORDER_REJECTED)
    assert flt.values == {"filter": [("PRICE_FILTER", 1)]}
    assert flt.messages == [("Filter failure: PRICE_FILTER", 1)]
    assert flt.examples[0].text.startswith("ERROR binance.error.ClientError")
    not_found = finding(report, -2013, Family.ORDER_NOT_FOUND)
    assert not_found.examples[0].text.startswith('{"level": "error"')


def test_long_lines_are_cut_at_a_word_boundary() -> None:
    source = (DATA / "python_binance.log").read_text(encoding="utf-8")
    # A relative path, so the location lines stay short whatever the checkout's path is.
    out = _cli("--no-progress", "python_binance.log", cwd=DATA)
    quoted = [line.strip("│ “") for line in out.stdout.splitlines() if "…" in line]
    assert quoted
    for line in quoted:
        before = line.split("…")[0]
        # the cut falls where the log has a space (after punctuation the cut drops)
        assert re.search(re.escape(before[-20:]) + r"[,;:]? ", source), line


def test_1020_under_the_simulator_is_an_endpoint_not_served(tmp_path: Path) -> None:
    lines = [
        "binguard sim: Binance Spot simulator at http://127.0.0.1:8765",
        "  REST base URL : http://127.0.0.1:8765/api/v3   admin: http://127.0.0.1:8765/_sim/",
        *(
            f"2024-03-04 10:00:0{i},000 ERROR bot: GET /api/v3/ticker/tradingDay failed: "
            '{"code":-1020,"msg":"This operation is not supported."}'
            for i in range(3)
        ),
    ]
    sim = _write(tmp_path / "bot-on-sim.log", lines)
    report = doctor([sim])
    served = diagnosis(report, "endpoint_not_served")
    assert served.data == {"events": 3, "endpoints": {"GET /api/v3/ticker/tradingDay": 3}}
    assert served.evidence[0].line == 1
    assert "not served" in served.title
    assert "not served" in finding(report, -1020, Family.INVALID_REQUEST).fix
    plain = doctor([_write(tmp_path / "bot.log", lines[2:])])
    assert [d.id for d in plain.diagnoses] == []
    assert "not served" not in finding(plain, -1020, Family.INVALID_REQUEST).fix


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    env["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "binguard", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=cwd,
    )


def test_terminal_report_at_80_columns_diagnoses_first(tmp_path: Path) -> None:
    out = _cli(_escalation(tmp_path), _earlier_ban(tmp_path), str(DATA / "hummingbot.log"))
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = out.stdout
    assert text.index("Diagnoses") < text.index("Findings") < text.index("Details")
    assert text.index("kept sending after the 429 warning") < text.index("Findings")
    header = next(line for line in lines if line.split()[:3] == ["code", "name", "count"])
    assert "first seen" in header and "last seen" in header
    assert "INVALID_TIMESTAMP" in text and "-…" not in text
    assert "\x1b[" not in text  # no colour codes into a pipe


def test_json_document_carries_source_name_and_title(tmp_path: Path) -> None:
    log = _write(
        tmp_path / "cr.log",
        [
            "2024-03-05 10:00:00,000 ERROR bot: cancelReplace failed: APIError(code=-2021): "
            "Order cancel-replace partially failed.",
            *(
                f"2024-03-05 1{h}:00:00,000 WARNING bot: APIError(code=-1021): {AHEAD}"
                for h in (1, 2)
            ),
        ],
    )
    out = _cli("--json", log)
    doc = json.loads(out.stdout)
    partial = next(f for f in doc["findings"] if f["code"] == -2021)
    assert partial["name"] is None
    assert partial["title"] == "Order cancel-replace partially failed"
    assert [(d["id"], d["source"]) for d in doc["diagnoses"]] == [("clock_ahead", log)]
    human = _cli(log).stdout
    assert "Order cancel-replace partially failed" in human
    assert "ORDER_CANCEL_REPLACE" not in human


def test_missing_file_is_one_line_and_status_4_not_a_clean_report(tmp_path: Path) -> None:
    out = _cli(str(tmp_path / "nope.log"))
    assert out.returncode == 4
    assert out.stderr.splitlines() == [
        f"binguard doctor: cannot read {tmp_path / 'nope.log'}: no such file"
    ]
    assert "No Binance errors found" not in out.stdout
    assert "Nothing was read" in out.stdout
