"""The demo's reading of the connector's events: three error groups, and the story's lines.

Unit tests of one layer (demo/runlog.py, demo/story.py, _view.top) fed with Event values as
the connector emits them (connector/client.py `_record`, orders.py `_find`); the end-to-end runs
are in test_demo.py."""

from __future__ import annotations

from collections import Counter

import pytest

from binguard._view import VALUE_WIDTH, top
from binguard.connector.events import Event
from binguard.demo.runlog import RunLog
from binguard.demo.story import ClockFacts, Facts, Timing, tell
from binguard.demo.verdict import Verdict

T0 = 1_000_000.0


def ev(kind: str, at: float, **data: object) -> Event:
    return Event(kind, dict(data), at=T0 + at)


def error(at: float, code: int | None, type_name: str) -> Event:
    return ev("request_error", at, code=code, type=type_name, msg="...")


def fed(*events: Event) -> RunLog:
    log = RunLog(started=T0)
    for event in events:
        log.on_event(event)
    return log


def test_errors_fall_into_three_groups() -> None:
    log = fed(
        error(1, -2013, "OrderNotFoundError"),  # no reconciliation open: the exchange's answer
        ev("reconcile_start", 2, client_order_id="demo-1", reason="ConnectionDroppedError"),
        error(2.1, -2013, "OrderNotFoundError"),  # an expected lookup
        error(2.2, None, "BudgetExhaustedError"),  # refused locally, even while reconciling
        error(2.3, -1008, "ServerBusyError"),
        ev("reconcile_result", 3, client_order_id="demo-1", found=False),
        error(4, -2013, "OrderNotFoundError"),  # closed again: the exchange's answer
        error(5, -1003, "IpBannedError"),
        error(5.5, None, "BanInForceError"),
        error(6, -1003, "RateLimitedError"),
        error(7, None, "ConnectionDroppedError"),
    )
    assert log.errors.exchange == Counter(
        {"-2013": 2, "-1008": 1, "-1003": 2, "ConnectionDropped": 1}
    )
    assert log.errors.local == Counter({"BudgetExhausted": 1, "BanInForce": 1})
    assert log.errors.lookups == Counter({"-2013": 1})
    assert log.errors.total() == 9
    assert (log.rate_limited, log.ban_answers, log.refused_during_ban) == (1, 1, 1)
    assert log.first_budget_refusal == pytest.approx(2.2)
    assert (log.reconciliations, log.found, log.absent) == ([pytest.approx(2.0)], 0, 1)


def test_lookups_of_two_overlapping_reconciliations() -> None:
    log = fed(
        ev("reconcile_start", 1, client_order_id="a", reason="x"),
        ev("reconcile_start", 1.5, client_order_id="b", reason="x"),
        ev("reconcile_result", 2, client_order_id="a", found=True, status="NEW"),
        error(2.5, -2013, "OrderNotFoundError"),  # b is still open
        ev("reconcile_result", 3, client_order_id="b", found=False),
        error(3.5, -2013, "OrderNotFoundError"),
    )
    assert (log.errors.lookups["-2013"], log.errors.exchange["-2013"]) == (1, 1)


def _facts(log: RunLog, **verdict: int) -> Facts:
    counts = {
        "orders_intended": 10,
        "orders_on_exchange": 10,
        "lost": 0,
        "duplicated": 0,
        "bans": 0,
        "requests_during_ban": 0,
        "clock_errors_after_sync": 0,
        "unhandled_exceptions": 0,
    }
    timing = Timing(
        asked=60, traded=60.4, cut_short=1, settling={"recover()": 2.5, "cancels": 0.25}
    )
    clock = ClockFacts(3000.4, 3301.0, False, 0.0, clock_errors=1, clock_errors_after_sync=0)
    return Facts(log, Verdict(**{**counts, **verdict}), timing, clock, 300, 300)


def test_the_story_with_times() -> None:
    log = fed(
        ev("reconcile_start", 4.5, client_order_id="a", reason="x"),
        ev("reconcile_result", 4.6, client_order_id="a", found=True, status="NEW"),
        ev("reconcile_start", 40.25, client_order_id="b", reason="x"),
        ev("reconcile_result", 43, client_order_id="b", found=False),
        ev("resend", 43, client_order_id="b", attempt=2),
        ev("reconcile_start", 43.1, client_order_id="b", reason="x"),
        ev("reconcile_result", 43.2, client_order_id="b", found=True, status="NEW"),
        ev("resync", 5, offset_ms=3050.0, rtt_ms=0.2),
        ev("ban_start", 31, until_ms=1_000_037_000, known_at_ms=1_000_031_000),
        error(32, None, "BanInForceError"),
        error(50, None, "BudgetExhaustedError"),
        ev("ws_disconnect", 12, name="streams-0", reason="reset"),
        ev("ws_reconnect", 12.2, name="streams-0", downtime_ms=200, attempt=0),
    )
    story = tell(_facts(log), forced_ban=True)
    assert story == [
        "forced ban at 31.0 s (until 37.0 s) handled: 0 requests sent during it, 1 call "
        "refused locally until it ended",
        "3 unknown outcomes (first at 4.5 s, last at 43.1 s) reconciled by client order id: "
        "2 found, 1 proven absent, 1 re-sent; 0 expected 'not found' lookups",
        "server clock +3.00 s off at the start, +3.30 s at the end (drift still being "
        "estimated): 1 resync, 1 x -1021 in all, 0 after the first sync",
        "weight limit 300/min (fullest window 300) reached at 50.0 s: 1 call refused locally "
        "(nothing sent); 0 x 429 from the exchange",
        "WebSockets: 1 drop (first at 12.0 s), 1 reconnect; order book resynced 0 times after "
        "0 gaps; user data caught up 0 times (+0 fills)",
        "traded 60.4 s of the 60 s asked; 1 call still running then was cut short",
        "then settling took 2.8 s (not counted above): recover() 2.5 s, cancels 0.2 s",
    ]


def test_an_earned_ban_is_not_called_forced() -> None:
    log = fed(ev("ban_start", 10, until_ms=1_000_070_000, known_at_ms=1_000_010_000))
    story = tell(_facts(log, bans=1, requests_during_ban=2), forced_ban=True)
    assert story[0].startswith("ban at 10.0 s (until 70.0 s) handled: 2 requests sent during it")
    assert story[1] == "1 ban earned by the connector itself"
    assert tell(_facts(fed()), forced_ban=False)[0] == (
        "no order's outcome was unknown: nothing to reconcile"
    )


def test_top_fits_its_width() -> None:
    many = Counter({f"-{1000 + i}": 100 - i for i in range(30)})
    line = top(many)
    assert len(line) <= VALUE_WIDTH and line.startswith("-1000×100, -1001×99") and "more" in line
    assert top(Counter()) == "none"
    assert top(Counter({"-2013": 3})) == "-2013×3"
