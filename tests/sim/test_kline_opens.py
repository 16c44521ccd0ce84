"""`Tape.opens` (sim/market.py), the open times a klines request returns, against a reference
that walks candle by candle with candles.py's `following`/`preceding` (the step-by-step rule
rest-api.md §Kline/Candlestick data describes: candles opening in [startTime, endTime], the
newest `limit` without startTime, the oldest `limit` from it). The simulator takes a shortcut
for fixed-size intervals (one range); this holds it to the walk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.sim.candles import INTERVALS, bucket, following, preceding
from binguard.sim.config import MarketConfig, SimConfig
from binguard.sim.market import Tape

ANCHOR = 1_764_000_000_000  # 2025-11-24
TAPE = Tape(SimConfig().symbols[0], 7, MarketConfig(history_days=0), ANCHOR)
HOURS = 3_600_000


def walk(name: str, tz: int, start: int | None, end: int | None, limit: int, now: int) -> list[int]:
    first = bucket(name, tz, TAPE.earliest(name))
    hi = now if end is None else min(end, now)
    if hi < first or (start is not None and start > hi):
        return []
    last = bucket(name, tz, hi)
    out: list[int] = []
    if start is not None:
        begin = max(start, first)
        open_ms = bucket(name, tz, begin)
        open_ms = open_ms if open_ms >= begin else following(name, tz, open_ms)
        while open_ms <= last and len(out) < limit:
            out.append(open_ms)
            open_ms = following(name, tz, open_ms)
        return out
    open_ms = last
    while open_ms >= first and len(out) < limit:
        out.append(open_ms)
        open_ms = preceding(name, tz, open_ms)
    return out[::-1]


offsets = st.integers(min_value=-400 * 24 * HOURS, max_value=400 * 24 * HOURS)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(INTERVALS),
    tz=st.sampled_from([0, 8 * HOURS, -5 * HOURS, 14 * HOURS, -12 * HOURS]),
    start=st.none() | offsets,
    end=st.none() | offsets,
    limit=st.integers(min_value=1, max_value=1000),
    now=st.integers(min_value=-2 * HOURS, max_value=800 * 24 * HOURS),
)
def test_opens_match_the_candle_by_candle_walk(
    name: str, tz: int, start: int | None, end: int | None, limit: int, now: int
) -> None:
    at = ANCHOR + now
    s = None if start is None else ANCHOR + start
    e = None if end is None else ANCHOR + end
    assert TAPE.opens(name, tz, s, e, limit, at) == walk(name, tz, s, e, limit, at)
