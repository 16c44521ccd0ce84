"""Kline arithmetic: intervals, time zones, bucket boundaries, candle rows (rest-api.md §Klines).

A candle is a plain list `[open_ms, o, h, l, c, v, q, n, V, Q, f, L]` (amounts in atoms; `V`/`Q`
the taker-buy base/quote volumes; `f`/`L` the first/last trade id, -1 when the candle holds no
trade of the engine). Intervals (case-sensitive): 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h,
1d, 3d, 1w, 1M. With `timeZone`, bucket boundaries are taken in that zone while every timestamp
stays UTC epoch ms; weeks start on Monday 00:00, months on the 1st.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from .errors import SimError, invalid_value
from .numbers import fmt

SECOND, MINUTE, HOUR, DAY = 1000, 60_000, 3_600_000, 86_400_000
FIXED_MS = {
    "1s": SECOND,
    "1m": MINUTE,
    "3m": 3 * MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1h": HOUR,
    "2h": 2 * HOUR,
    "4h": 4 * HOUR,
    "6h": 6 * HOUR,
    "8h": 8 * HOUR,
    "12h": 12 * HOUR,
    "1d": DAY,
    "3d": 3 * DAY,
    "1w": 7 * DAY,
}
INTERVALS = (*FIXED_MS, "1M")
_MONDAY_MS = 4 * DAY  # 1970-01-05 was a Monday
_TZ = re.compile(r"([+-]?)(\d{1,2})(?::(\d{2}))?\Z")

# indexes into a candle list
T, O, H, L, C, V, Q, N, TV, TQ, F, LAST = range(12)  # noqa: E741 (Binance's letters)


def interval(text: str | None) -> str:
    """The `interval` parameter checked (-1120 "Invalid interval." otherwise)."""
    if text not in FIXED_MS and text != "1M":
        raise SimError.of(-1120)
    return text


def time_zone(text: str | None) -> int:
    """Offset in ms for `timeZone` ("8", "-1:00", "05:45"); range [-12:00, +14:00] inclusive."""
    if text is None:
        return 0
    m = _TZ.match(text)
    if m is None:
        raise invalid_value("timeZone")
    sign = -1 if m.group(1) == "-" else 1
    hours, minutes = int(m.group(2)), int(m.group(3) or 0)
    offset = sign * (hours * 60 + minutes)
    if minutes >= 60 or not -12 * 60 <= offset <= 14 * 60:
        raise invalid_value("timeZone")
    return offset * MINUTE


def bucket(name: str, tz_ms: int, t: int) -> int:
    """Open time (UTC ms) of the `name` candle containing `t`."""
    if name == "1M":
        local = datetime.fromtimestamp((t + tz_ms) / 1000, UTC)
        start = datetime(local.year, local.month, 1, tzinfo=UTC)
        return int(start.timestamp() * 1000) - tz_ms
    size = FIXED_MS[name]
    shift = _MONDAY_MS if name == "1w" else 0
    return (t + tz_ms - shift) // size * size + shift - tz_ms


def following(name: str, tz_ms: int, open_ms: int) -> int:
    """Open time of the candle after the one opening at `open_ms`."""
    if name != "1M":
        return open_ms + FIXED_MS[name]
    local = datetime.fromtimestamp((open_ms + tz_ms) / 1000, UTC)
    nxt = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
    return int(nxt.timestamp() * 1000) - tz_ms


def preceding(name: str, tz_ms: int, open_ms: int) -> int:
    """Open time of the candle before the one opening at `open_ms`."""
    if name != "1M":
        return open_ms - FIXED_MS[name]
    return bucket(name, tz_ms, open_ms - 1)


def flat(open_ms: int, price: int) -> list[int]:
    """A candle without trades: every price at the previous close, no volume."""
    return [open_ms, price, price, price, price, 0, 0, 0, 0, 0, -1, -1]


def merge(into: list[int], c: list[int]) -> None:
    """Fold candle `c` (later in time) into `into` (in place); empty candles change nothing."""
    if not c[N] and not c[V]:
        return
    if not into[N] and not into[V]:
        into[O : LAST + 1] = c[O : LAST + 1]
        return
    if c[H] > into[H]:
        into[H] = c[H]
    if c[L] < into[L]:
        into[L] = c[L]
    into[C] = c[C]
    into[V] += c[V]
    into[Q] += c[Q]
    into[N] += c[N]
    into[TV] += c[TV]
    into[TQ] += c[TQ]
    if into[F] < 0:
        into[F] = c[F]
    if c[LAST] >= 0:
        into[LAST] = c[LAST]


def row(c: list[int], close_ms: int) -> str:
    """One kline as Binance's JSON array (12 items), pre-serialised."""
    return (
        f'[{c[T]},"{fmt(c[O])}","{fmt(c[H])}","{fmt(c[L])}","{fmt(c[C])}","{fmt(c[V])}",'
        f'{close_ms},"{fmt(c[Q])}",{c[N]},"{fmt(c[TV])}","{fmt(c[TQ])}","0"]'
    )
