"""Answers in microseconds: the `X-MBX-TIME-UNIT` header (rest-api.md, General API Information).

"All time and timestamp related fields in the JSON responses are in milliseconds by default. To
receive the information in microseconds, please add the header `X-MBX-TIME-UNIT:MICROSECOND` or
`X-MBX-TIME-UNIT:microsecond`." The simulator keeps its times in milliseconds, so an answer in
microseconds is its millisecond answer with every time field times 1,000 (Binance's own would
also carry the sub-millisecond digits, which the simulator does not have).

The time fields are the ones rest-api.md's answers name: `transactTime`, `workingTime`, `time`,
`updateTime`, `transactionTime`, `serverTime`, `openTime`, `closeTime`, `trailingTime`, an
aggregate trade's `T`, a WebSocket API session's `connectedSince` and `authorizedSince`, and a
kline row's open and close times (its first and seventh values); in an error's `data` too
(cancelReplace's -2021/-2022 carry both halves' answers). A value that is not a positive integer
(`trailingTime` -1: not trailing; `authorizedSince` null) stays as it is. A close time in
microseconds is the millisecond one times 1,000 (`...999000`): the simulator has no finer clock,
and the docs here do not say what Binance's sub-millisecond digits are.

The header takes `MILLISECOND`, `millisecond`, `MICROSECOND` or `microsecond` (CHANGELOG.md
2024-12-17); any other value is -1194 INVALID_TIME_UNIT (errors.md), before the request does
anything. The WebSocket API and the market streams take the same values as `timeUnit` in their
URL (web-socket-api.md, web-socket-streams.md "General WSS information"); a bad one refuses the
handshake with -1194. Their answers are converted as REST's; their events by event type, the
one-letter fields the docs call a time (`EVENT_TIMES`: web-socket-streams.md,
user-data-stream.md) — `u` is a time in `outboundAccountPosition`, an update id elsewhere.
"""

from __future__ import annotations

from typing import Any

from .errors import SimError

__all__ = ["MICROSECOND", "event_in_micros", "in_micros", "wants_micros"]

MICROSECOND = "MICROSECOND"
TIME_FIELDS = frozenset(
    {
        "transactTime",
        "workingTime",
        "time",
        "updateTime",
        "transactionTime",
        "serverTime",
        "openTime",
        "closeTime",
        "trailingTime",
        "T",
        "connectedSince",  # the WebSocket API's session.* results (web-socket-api.md)
        "authorizedSince",
    }
)
# Answers made of kline rows: REST paths and the WebSocket API's method names
KLINES = frozenset({"/api/v3/klines", "/api/v3/uiKlines", "klines", "uiKlines"})
_KLINE_TIMES = (0, 6)  # rest-api.md §Kline/Candlestick data: "Kline open time", "Kline Close time"


_UNITS = {"MILLISECOND": False, "millisecond": False, "MICROSECOND": True, "microsecond": True}


# Each event's time fields by its type `e` (web-socket-streams.md, user-data-stream.md: the fields
# whose comment says time): a kline's own start and close times are in its `k`.
EVENT_TIMES: dict[str, tuple[str, ...]] = {
    "trade": ("E", "T"),
    "aggTrade": ("E", "T"),
    "blockTrade": ("E", "T"),
    "kline": ("E",),
    "24hrTicker": ("E", "O", "C"),
    "24hrMiniTicker": ("E",),
    "1hTicker": ("E", "O", "C"),
    "4hTicker": ("E", "O", "C"),
    "1dTicker": ("E", "O", "C"),
    "depthUpdate": ("E",),
    "avgPrice": ("E", "T"),
    "referencePrice": ("t",),
    "serverShutdown": ("E",),
    "executionReport": ("E", "T", "O", "W", "D"),
    "outboundAccountPosition": ("E", "u"),
    "balanceUpdate": ("E", "T"),
    "listStatus": ("E", "T"),
    "eventStreamTerminated": ("E",),
    "externalLockUpdate": ("E", "T"),
}
_KLINE_OWN_TIMES = ("t", "T")  # web-socket-streams.md §Kline/Candlestick Streams: start, close


def wants_micros(header: str | None) -> bool:
    """Whether the request's `X-MBX-TIME-UNIT` asks for microseconds; SimError -1194 for a value
    Binance does not take."""
    if header is None:
        return False
    micros = _UNITS.get(header)
    if micros is None:
        raise SimError.of(-1194, 0)
    return micros


def in_micros(body: Any, path: str) -> Any:
    """`body` (a parsed answer) with its time fields in microseconds; `path` the REST path or
    the WebSocket API method that answered it (kline rows are read by position)."""
    if path in KLINES and isinstance(body, list):
        return [_kline(row) for row in body]
    return _walk(body)


def _walk(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _micros(v) if k in TIME_FIELDS else _walk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    return value


def _micros(value: Any) -> Any:
    if type(value) is int and value > 0:
        return value * 1000
    return _walk(value)


def _kline(row: Any) -> Any:
    if not isinstance(row, list):
        return row
    out = list(row)
    for i in _KLINE_TIMES:
        if i < len(out):
            out[i] = _micros(out[i])
    return out


def event_in_micros(event: Any) -> Any:
    """A stream or user data event (or an array of them: `!miniTicker@arr`) with its time fields
    in microseconds; an event of a type not in EVENT_TIMES (a partial book) as it is."""
    if isinstance(event, list):
        return [event_in_micros(e) for e in event]
    if not isinstance(event, dict):
        return event
    fields = EVENT_TIMES.get(event.get("e", ""), ())
    if not fields:
        return event
    out = {k: _micros(v) if k in fields else v for k, v in event.items()}
    kline = out.get("k")
    if event.get("e") == "kline" and isinstance(kline, dict):
        out["k"] = {k: _micros(v) if k in _KLINE_OWN_TIMES else v for k, v in kline.items()}
    return out
