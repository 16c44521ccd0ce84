"""Each supported log format, from a sample written the way the library really logs: exact counts,
extracted values and diagnoses."""

from __future__ import annotations

from binguard.errors import Family

from .helpers import counts, diagnosis, finding, run


def test_hummingbot_log() -> None:
    r = run("hummingbot.log")
    assert counts(r) == {
        (-1021, "INVALID_TIMESTAMP", "clock_skew"): 3,
        (None, "CONNECTION_DROPPED", "transport"): 2,
        (None, "HANDLER_CRASH", "transport"): 2,
        (-1003, "TOO_MANY_REQUESTS", "ip_banned"): 1,
    }
    clock = finding(r, -1021, Family.CLOCK_SKEW)
    assert clock.http_statuses == {400: 3}
    assert clock.endpoints == [("POST /api/v3/order", 3)]
    # The traceback line has no stamp of its own: it inherits its header's.
    assert clock.first_seen is not None
    assert clock.examples[0].line == 10
    assert clock.examples[0].time == clock.first_seen
    assert r.inputs[0].first_time is not None
    assert round(clock.first_seen - r.inputs[0].first_time, 3) == 7200.49
    assert sorted(clock.timeline.values()) == [1, 1, 1]
    ban = finding(r, -1003, Family.IP_BANNED)
    assert ban.values == {"banned_until": [("2024-03-01T08:00:00.000+00:00", 1)]}
    assert ban.endpoints == [("GET /api/v3/depth", 1)]
    crash = finding(r, None, Family.TRANSPORT, "HANDLER_CRASH")
    assert dict(crash.values["exception"]) == {"ConnectionError": 1, "TimeoutError": 1}
    assert [d.id for d in r.diagnoses] == ["handler_crash", "clock_behind"]
    drift = diagnosis(r, "clock_behind")
    assert drift.data["episodes"] == 3
    assert drift.data["method"] == "episode spacing"
    assert drift.data["threshold_ms"] == 5000
    assert drift.data["threshold_assumed"] is True
    assert drift.data["drift_ms_per_hour"] == 2500.0
    assert [e.line for e in drift.evidence] == [10, 15, 19]
    assert diagnosis(r, "handler_crash").severity == "critical"


def test_python_binance_log_ban_after_warnings_and_polling() -> None:
    r = run("python_binance.log")
    assert counts(r) == {
        (-1003, "TOO_MANY_REQUESTS", "rate_limited"): 3,
        (-1013, "INVALID_MESSAGE", "order_rejected"): 2,
        (-1102, "MANDATORY_PARAM_EMPTY_OR_MALFORMED", "invalid_request"): 1,
        (-1015, "TOO_MANY_ORDERS", "rate_limited"): 1,
        (-1003, "TOO_MANY_REQUESTS", "ip_banned"): 1,
        (None, "REQUEST_TIMEOUT", "transport"): 1,
    }
    weight = finding(r, -1003, Family.RATE_LIMITED)
    assert weight.values == {"interval": [("1 MINUTE", 3)], "limit": [(6000, 3)]}
    assert finding(r, -1015, Family.RATE_LIMITED).values == {
        "interval": [("10 SECOND", 1)],
        "limit": [(100, 1)],
    }
    assert finding(r, -1013, Family.ORDER_REJECTED).values == {"filter": [("PRICE_FILTER", 2)]}
    assert finding(r, -1102, Family.INVALID_REQUEST).values == {"param": [("quantity", 1)]}
    banned = finding(r, -1003, Family.IP_BANNED)
    assert banned.values == {"banned_until": [("2024-03-02T11:00:00.000+00:00", 1)]}
    # the quoted source line "raise ReadTimeout(...)" is not a second timeout
    assert finding(r, None, Family.TRANSPORT).examples[0].line == 14
    ignored = diagnosis(r, "ignored_rate_limit")
    assert ignored.data["warnings_before_ban"] == 3
    assert ignored.data["seconds_from_first_warning_to_ban"] == 3.0
    assert ignored.data["ban_seconds"] == 3595.9
    assert [e.line for e in ignored.evidence] == [2, 3, 4, 5]
    polling = diagnosis(r, "polling")
    assert polling.data["endpoints"] == {"GET /api/v3/depth": 4}
    assert "@depth" in polling.data["streams"]["GET /api/v3/depth"]


def test_ccxt_log_timeout_then_not_found_and_clock_ahead() -> None:
    r = run("ccxt.log")
    assert counts(r) == {
        (-1021, "INVALID_TIMESTAMP", "clock_skew"): 2,
        (-2013, "NO_SUCH_ORDER", "order_not_found"): 1,
        (-2010, "NEW_ORDER_REJECTED", "order_rejected"): 1,
        (-1003, "TOO_MANY_REQUESTS", "rate_limited"): 1,
        (None, "REQUEST_TIMEOUT", "transport"): 1,
    }
    weight = finding(r, -1003, Family.RATE_LIMITED)
    assert weight.http_statuses == {429: 1}
    assert weight.endpoints == [("GET /api/v3/ticker/24hr", 1)]
    assert finding(r, None, Family.TRANSPORT).endpoints == [("POST /api/v3/order", 1)]
    unknown = diagnosis(r, "unknown_status_as_failure")
    assert unknown.data == {"duplicates": 0, "not_found_after_unknown": 1}
    assert [e.line for e in unknown.evidence] == [2, 3]
    drift = diagnosis(r, "clock_ahead")
    assert drift.data["direction"] == "ahead"
    assert drift.data["threshold_ms"] == 1000
    assert drift.data["drift_ms_per_hour"] == 1000.0


def test_freqtrade_log() -> None:
    r = run("freqtrade.log")
    assert counts(r) == {
        (-2010, "NEW_ORDER_REJECTED", "order_rejected"): 1,
        (-1013, "INVALID_MESSAGE", "order_rejected"): 1,
        (-1003, "TOO_MANY_REQUESTS", "ip_banned"): 1,
        (None, "HTTP_503", "execution_unknown"): 1,
    }
    ban = finding(r, -1003, Family.IP_BANNED)
    assert ban.http_statuses == {418: 1}
    assert ban.values == {"banned_until": [("2024-03-04T13:00:00.000+00:00", 1)]}
    assert ban.endpoints == [("fetch_ticker()", 1)]
    assert finding(r, None, Family.EXECUTION_UNKNOWN).endpoints == [("GET /api/v3/klines", 1)]
    assert finding(r, -1013, Family.ORDER_REJECTED).values == {"filter": [("NOTIONAL", 1)]}
    assert r.diagnoses == []


def test_official_sdk_log_old_and_new_connector() -> None:
    r = run("official_sdk.log")
    assert counts(r) == {
        (-2010, "NEW_ORDER_REJECTED", "order_rejected"): 1,
        (-1021, "INVALID_TIMESTAMP", "clock_skew"): 1,
        (-1015, "TOO_MANY_ORDERS", "rate_limited"): 1,
        (-1013, "INVALID_MESSAGE", "order_rejected"): 1,
        (None, "HTTP_503", "execution_unknown"): 1,
        (None, "REQUEST_TIMEOUT", "transport"): 1,
    }
    assert finding(r, -1013, Family.ORDER_REJECTED).http_statuses == {400: 1}
    assert finding(r, -1015, Family.RATE_LIMITED).http_statuses == {429: 1}
    dup = finding(r, -2010, Family.ORDER_REJECTED)
    assert dup.messages == [("Duplicate order sent.", 1)]
    assert diagnosis(r, "unknown_status_as_failure").data == {
        "duplicates": 1,
        "not_found_after_unknown": 0,
    }


def test_binguard_json_lines() -> None:
    r = run("binguard.jsonl")
    assert counts(r) == {
        (-2013, "NO_SUCH_ORDER", "order_not_found"): 1,
        (-1021, "INVALID_TIMESTAMP", "clock_skew"): 1,
        (-1003, "TOO_MANY_REQUESTS", "ip_banned"): 1,
    }
    ban = finding(r, -1003, Family.IP_BANNED)
    assert ban.http_statuses == {418: 1}
    assert ban.values == {"banned_until": [("2024-03-05T09:00:00.000+00:00", 1)]}
    assert ban.first_seen == 1709625660.0  # epoch ms in the "ts" field
    not_found = finding(r, -2013, Family.ORDER_NOT_FOUND)
    assert not_found.first_seen == 1709625720.0  # ISO string in the "time" field
    assert not_found.endpoints == [("GET /api/v3/order", 1)]


def test_raw_bodies_and_plain_text_without_timestamps() -> None:
    r = run("raw.txt")
    assert counts(r) == {
        (-2015, "REJECTED_MBX_KEY", "auth"): 1,
        (-1121, "BAD_SYMBOL", "invalid_request"): 1,
        (-1021, "INVALID_TIMESTAMP", "clock_skew"): 1,
        (-1013, "INVALID_MESSAGE", "order_rejected"): 1,
    }
    assert all(f.first_seen is None and f.timeline == {} for f in r.findings)
    assert r.inputs[0].lines == 5


def test_reset_burst() -> None:
    r = run("resets.log")
    assert counts(r) == {(None, "CONNECTION_DROPPED", "transport"): 7}
    burst = diagnosis(r, "reset_burst")
    assert burst.data["bursts"] == [
        {
            "start": "2024-03-06T01:00:00.000+00:00",
            "end": "2024-03-06T01:00:25.000+00:00",
            "events": 6,
        }
    ]


def test_findings_carry_the_catalog_explanation() -> None:
    r = run("hummingbot.log")
    clock = finding(r, -1021, Family.CLOCK_SKEW)
    assert clock.recovery == "resync_clock"
    assert "recvWindow" in clock.meaning
    assert "resync" in clock.binguard
    crash = finding(r, None, Family.TRANSPORT, "HANDLER_CRASH")
    assert "getattr(exc, 'code', None)" in crash.fix
