"""The retry policy as a spec table: each case cites the Binance rule it comes from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binguard.errors import BinanceError, HttpReply, catalog, classify
from binguard.policy import (
    Action,
    Attempt,
    Backoff,
    BanInForceError,
    BudgetExhaustedError,
    RetryPolicy,
)

HTTP_5XX = "rest-api.md §HTTP Return Codes: 5XX execution status UNKNOWN"
EXEC_UNKNOWN = "errors.md -1006/-1007: execution status unknown"
TIMING = "rest-api.md §Timing security: -1021 rejected before the matching engine"
LIMITS = "rest-api.md §LIMITS: on 429 back off (Retry-After seconds)"
BAN = "rest-api.md §LIMITS: 418 IP ban, Retry-After until it ends"

POLICY = RetryPolicy(backoff=Backoff(base=0.1, cap=5.0, random=lambda: 0.5), max_attempts=5)


def reply(status: int, code: int | None = None, msg: str | None = None, **headers: str) -> Any:
    if code is None:
        body: object = "<html><body>502 Bad Gateway</body></html>"
    else:
        entry = catalog().get(code)
        body = {"code": code, "msg": msg or (entry.messages[0] if entry else "?")}
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    return classify(HttpReply(status, hdrs, body))  # type: ignore[arg-type]


def err(x: object) -> BinanceError:
    e = classify(x)
    assert e is not None
    return e


RESET = err(ConnectionResetError(104, "Connection reset by peer"))
TIMEOUT = err(TimeoutError())
REFUSED = err(ConnectionRefusedError(111, "Connection refused"))
BAN_MSG = (
    "Way too much request weight used; IP banned until 1767225720000. "
    "Please use WebSocket Streams for live updates to avoid bans."
)
BAN_END = datetime(2026, 1, 1, 0, 2, tzinfo=UTC)

READ = Attempt("GET", "/api/v3/openOrders")
PLACE = Attempt("POST", "/api/v3/order", is_order=True)
CANCEL = Attempt("DELETE", "/api/v3/order", is_order=True)
OTHER_WRITE = Attempt("POST", "/api/v3/order/test")


def at(base: Attempt, **changes: Any) -> Attempt:
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    return Attempt(**{**fields, **changes})


CASES = [
    # -- idempotent reads: retried with capped full-jitter backoff ----------------------------
    ("read reset", RESET, READ, Action.RETRY, "transient_read", "transport error, GET"),
    ("read timeout", TIMEOUT, READ, Action.RETRY, "transient_read", "transport error, GET"),
    ("read html 502", reply(502), READ, Action.RETRY, "transient_read", HTTP_5XX),
    ("read -1001", reply(500, -1001), READ, Action.RETRY, "transient_read", "errors.md -1001"),
    ("read -1008", reply(503, -1008), READ, Action.RETRY, "transient_read", "errors.md -1008"),
    ("read -1006", reply(500, -1006), READ, Action.RETRY, "transient_read", EXEC_UNKNOWN),
    ("read -1007", reply(408, -1007), READ, Action.RETRY, "transient_read", EXEC_UNKNOWN),
    # -- orders whose outcome is unknown: reconcile, never a blind re-send --------------------
    ("place reset", RESET, PLACE, Action.RECONCILE, "outcome_unknown", "reset after sending"),
    ("place timeout", TIMEOUT, PLACE, Action.RECONCILE, "outcome_unknown", "timeout"),
    ("place html 502", reply(502), PLACE, Action.RECONCILE, "outcome_unknown", HTTP_5XX),
    ("place -1006", reply(500, -1006), PLACE, Action.RECONCILE, "outcome_unknown", EXEC_UNKNOWN),
    ("place -1007", reply(408, -1007), PLACE, Action.RECONCILE, "outcome_unknown", EXEC_UNKNOWN),
    ("place -1008 503", reply(503, -1008), PLACE, Action.RECONCILE, "outcome_unknown", HTTP_5XX),
    ("place -1001 500", reply(500, -1001), PLACE, Action.RECONCILE, "outcome_unknown", HTTP_5XX),
    ("cancel reset", RESET, CANCEL, Action.RECONCILE, "outcome_unknown", "reset after sending"),
    ("cancel 503", reply(503, -1008), CANCEL, Action.RECONCILE, "outcome_unknown", HTTP_5XX),
    # -- nothing was sent: safe to send again, even an order ----------------------------------
    ("place refused", REFUSED, PLACE, Action.RETRY, "nothing_sent", "connect failed: not sent"),
    ("read refused", REFUSED, READ, Action.RETRY, "nothing_sent", "connect failed: not sent"),
    # -- clock ----------------------------------------------------------------------------------
    ("place -1021", reply(400, -1021), PLACE, Action.RESYNC_CLOCK, "clock_skew", TIMING),
    ("read -1021", reply(400, -1021), READ, Action.RESYNC_CLOCK, "clock_skew", TIMING),
    (
        "place -1021 again",
        reply(400, -1021),
        at(PLACE, resynced=True),
        Action.RAISE,
        "clock_skew_again",
        "negative: only one resync per request",
    ),
    # -- rate limits and bans -------------------------------------------------------------------
    (
        "429 fits",
        reply(429, -1003, Retry_After="7"),
        at(READ, time_left=30),
        Action.RETRY,
        "rate_limited",
        LIMITS,
    ),
    (
        "429 order",
        reply(429, -1015, Retry_After="2"),
        PLACE,
        Action.RETRY,
        "rate_limited",
        "rest-api.md §Unfilled Order Count: -1015 rejected; wait for the interval",
    ),
    (
        "429 too late",
        reply(429, -1003, Retry_After="7"),
        at(READ, time_left=5),
        Action.RAISE,
        "rate_limited:deadline",
        "negative: Retry-After beyond the caller's deadline",
    ),
    ("418 read", reply(418, -1003, BAN_MSG, Retry_After="120"), READ, Action.RAISE, "banned", BAN),
    ("418 order", reply(418, -1003, BAN_MSG), PLACE, Action.RAISE, "banned", BAN),
    (
        "ban msg on 429",
        reply(429, -1003, BAN_MSG),
        READ,
        Action.RAISE,
        "banned",
        "errors.md -1003 'IP banned until' template",
    ),
    (
        "budget refused",
        BudgetExhaustedError("no room", wait=None),
        PLACE,
        Action.RAISE,
        "refused_locally",
        "negative: the local budget already waited as long as the deadline allows",
    ),
    (
        "budget ban",
        BanInForceError(1767225720000, 1767225600000),
        READ,
        Action.RAISE,
        "banned",
        "design: a known ban is never probed",
    ),
    # -- fix the request or the credentials: raised at once --------------------------------------
    ("bad key", reply(401, -2015), READ, Action.RAISE, "must_fix", "errors.md -2015"),
    ("bad signature", reply(400, -1022), PLACE, Action.RAISE, "must_fix", "errors.md -1022"),
    ("illegal chars", reply(400, -1100), READ, Action.RAISE, "must_fix", "errors.md 11xx"),
    ("missing param", reply(400, -1102), PLACE, Action.RAISE, "must_fix", "errors.md -1102"),
    ("rejected", reply(400, -2010), PLACE, Action.RAISE, "must_fix", "errors.md -2010"),
    ("cancel rejected", reply(400, -2011), CANCEL, Action.RAISE, "must_fix", "errors.md -2011"),
    ("no such order", reply(400, -2013), READ, Action.RAISE, "must_fix", "errors.md -2013"),
    (
        "waf",
        classify(HttpReply(403, {}, "<html>403 Forbidden</html>")),
        READ,
        Action.RAISE,
        "must_fix",
        "rest-api.md: 403 WAF limit violated",
    ),
    # -- negative cases: limits of the retrying itself --------------------------------------------
    (
        "non-order write reset",
        RESET,
        OTHER_WRITE,
        Action.RAISE,
        "not_retryable",
        "negative: a write that may have executed and cannot be reconciled",
    ),
    (
        "read attempts used",
        RESET,
        at(READ, attempt=5),
        Action.RAISE,
        "transient_read:attempts",
        "negative: max_attempts",
    ),
    (
        "read deadline",
        RESET,
        at(READ, attempt=3, time_left=0.1),
        Action.RAISE,
        "transient_read:deadline",
        "negative: backoff beyond the deadline",
    ),
]


@pytest.mark.parametrize(
    ("error", "attempt", "action", "rule", "source"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decision_table(
    error: BinanceError, attempt: Attempt, action: Action, rule: str, source: str
) -> None:
    decision = POLICY.decide(error, attempt)
    assert (decision.action, decision.rule) == (action, rule), source


def test_backoff_delay_follows_attempt_number() -> None:
    # random pinned at 0.5: ceilings 0.1, 0.2, 0.4, 0.8 → delays half of them
    delays = [POLICY.decide(RESET, at(READ, attempt=n)).delay for n in (1, 2, 3, 4)]
    assert delays == pytest.approx([0.05, 0.1, 0.2, 0.4])


def test_rate_limited_waits_exactly_retry_after() -> None:
    decision = POLICY.decide(reply(429, -1003, Retry_After="7"), READ)
    assert decision.delay == 7.0


def test_rate_limited_without_retry_after_backs_off() -> None:
    decision = POLICY.decide(reply(429, -1003), at(READ, attempt=2))
    assert (decision.action, decision.delay) == (Action.RETRY, pytest.approx(0.1))


def test_ban_decision_carries_the_end() -> None:
    decision = POLICY.decide(reply(418, -1003, BAN_MSG, Retry_After="120"), PLACE)
    assert decision.banned_until == BAN_END


# -- invariant: an order that may have executed is never re-sent blindly ------------------------
def _every_catalog_error() -> list[BinanceError]:
    out = [RESET, TIMEOUT, REFUSED, reply(502), reply(500), reply(504)]
    for code in catalog():
        entry = catalog()[code]
        for status in (*entry.statuses, 200, 400, 500, 503):
            for msg in entry.messages:
                e = classify(HttpReply(status, {}, {"code": entry.code, "msg": msg}))
                if e is not None:
                    out.append(e)
    return out


ALL_ERRORS = _every_catalog_error()


@given(
    st.sampled_from(ALL_ERRORS),
    st.sampled_from([PLACE, CANCEL]),
    st.integers(1, 10),
    st.none() | st.floats(0, 100),
    st.booleans(),
)
def test_no_blind_resend_of_an_order_that_may_have_executed(
    error: BinanceError, base: Attempt, n: int, time_left: float | None, resynced: bool
) -> None:
    decision = POLICY.decide(error, at(base, attempt=n, time_left=time_left, resynced=resynced))
    if decision.action is Action.RETRY:
        assert not error.may_have_executed, repr(error)
        assert not (error.http_status or 0) >= 500, repr(error)
    if decision.action is not Action.RAISE:
        assert decision.delay <= (time_left if time_left is not None else float("inf"))


@given(st.sampled_from(ALL_ERRORS), st.sampled_from([READ, PLACE, CANCEL, OTHER_WRITE]))
def test_every_error_gets_a_decision(error: BinanceError, attempt: Attempt) -> None:
    decision = POLICY.decide(error, attempt)
    assert decision.action in Action
    assert decision.delay >= 0
