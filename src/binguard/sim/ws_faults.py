"""WebSocket faults from the fault plan: when they fire and what the client sees.

Selection uses the plan's selectors (path, method, time window, every Nth, probability, times;
see faults.py). Three moments: a connection opening (rules for any method, injected `after_s`
later), a WebSocket API request (rules naming its method, before or after it ran), and an event
about to be sent (diff depth events for `ws_gap`, executionReports for `ws_duplicate` and
`ws_delay`). Each fault is written to the fault log when it is injected, with the connection id.

`serverShutdown`: Binance sends it before a server goes down (CHANGELOG 2026-03-09, 2026-05-06,
2026-06-09) without a documented payload; the simulator sends `{"e": "serverShutdown", "E": ms}`
on streams and `{"event": {"e": "serverShutdown", "E": ms}}` on the WebSocket API (its event
envelope), then closes with 1001 going away.
"""

from __future__ import annotations

import functools
from typing import Any

from .faults import WS_CONNECTION, WS_REQUEST, FaultRule, first_only
from .state import SimState
from .ws_conn import GOING_AWAY, NORMAL, WsConn


def _record(state: SimState, conn: WsConn, rule: FaultRule, method: str, **detail: Any) -> None:
    state.faults.record(
        rule, method, conn.path, conn.ip, state.clock.now_ms(), conn=conn.id, **detail
    )


def on_connect(state: SimState, conn: WsConn) -> None:
    """Pick the connection faults of a new connection and schedule their injection."""
    if not state.faults.active:
        return
    now = state.clock.now_ms()
    for rule in state.faults.pick("GET", conn.path, conn.ip, now, WS_CONNECTION, log=False):
        conn.later(rule.after_s, functools.partial(inject, state, conn, rule, "GET"))


def for_request(state: SimState, conn: WsConn, method: str) -> list[FaultRule]:
    """The rules naming this WebSocket API method that fire for this request (not yet logged)."""
    if not state.faults.active:
        return []
    now = state.clock.now_ms()
    return state.faults.pick(
        method.upper(),
        conn.path,
        conn.ip,
        now,
        WS_REQUEST,
        exact_method=True,
        log=False,
        claim=first_only(),
    )


def inject(state: SimState, conn: WsConn, rule: FaultRule, method: str) -> None:
    """Do a connection-level fault to `conn` now (ws_error is answered by the WebSocket API)."""
    if conn.closing:
        return
    _record(state, conn, rule, method)
    action = rule.action
    if action == "ws_close":
        conn.close(rule.code or NORMAL, "fault: ws_close")
    elif action == "ws_reset":
        conn.reset("fault: ws_reset")
    elif action == "ws_silence":
        conn.silence(rule.stall_s if rule.stall_s is not None else state.config.stall_s)
    elif action == "ws_shutdown":
        event = {"e": "serverShutdown", "E": state.clock.now_ms()}
        conn.send_json({"event": event} if conn.kind == "api" else event)
        # The grace is service as usual (answers, events), then the close: a pause in the send
        # queue followed by close() would drop every answer produced during the grace.
        conn.later(rule.grace_s, lambda: conn.close(GOING_AWAY, "server shutdown"))
    elif action == "ws_expire":
        conn.close(NORMAL, "connection lifetime")


def fires(state: SimState, conn: WsConn, action: str, stream: str) -> FaultRule | None:
    """The first `action` rule firing for this event on `conn` (logged), or None."""
    now = state.clock.now_ms()
    rules = state.faults.pick(
        "GET",
        conn.path,
        conn.ip,
        now,
        frozenset({action}),
        stream=stream,
        log=False,
        claim=first_only(),
    )
    if not rules:
        return None
    _record(state, conn, rules[0], "EVENT", stream=stream)
    return rules[0]


def record_request(state: SimState, conn: WsConn, rule: FaultRule, method: str) -> None:
    """Log a request-level fault that the WebSocket API injects itself (ws_error)."""
    _record(state, conn, rule, method)
