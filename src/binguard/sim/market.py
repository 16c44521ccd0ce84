"""Candles, window statistics and aggregate trades of each symbol: history plus the engine's trades.

One `Tape` per symbol holds the seeded history (history.py, built on first use), the live 1s and
1m candles built from every engine trade (`Engine.trade_hooks`), and the aggregate trades. REST,
the WebSocket API and the streams all read candles through `Tape.candle()` / `Tape.klines()`, so a
kline stream's last update, `GET /api/v3/klines` and the trades always agree.

History ends at the anchor: the start of the minute in which the simulator (or its last reset)
started; live trades come after it. A bucket with neither history nor trades is flat at the
previous close with zero volume, so series have no holes. Rows of wholly historical candles are
formatted on first request and cached per interval (UTC and UTC+8 only, so that hostile
`timeZone` values cannot grow the cache).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from .candles import (
    FIXED_MS,
    HOUR,
    LAST,
    MINUTE,
    SECOND,
    TQ,
    TV,
    C,
    H,
    L,
    N,
    Q,
    V,
    bucket,
    flat,
    following,
    merge,
    preceding,
    row,
)
from .clock import ServerClock
from .config import MarketConfig, SymbolSpec
from .engine import Engine, Trade
from .history import History, Tier, build
from .numbers import SCALE, fmt, to_atoms

AGG_KEPT = 100_000
_CACHED_ZONES = (0, 8 * 3_600_000)
HOURLY = frozenset(
    {"1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"}
)  # UTC and the streams' +08:00; other zones are computed
_PRUNE_EVERY = 4096


@dataclass(slots=True)
class AggTrade:
    """Trades of one taker order at one price and time (rest-api.md §aggTrades)."""

    agg_id: int
    price: int
    qty: int
    first_id: int
    last_id: int
    time: int
    buyer_is_maker: bool

    def body(self) -> dict[str, object]:
        return {
            "a": self.agg_id,
            "p": fmt(self.price),
            "q": fmt(self.qty),
            "f": self.first_id,
            "l": self.last_id,
            "T": self.time,
            "m": self.buyer_is_maker,
            "M": True,
        }


class _Live:
    """Live candles of one step (1s or 1m), keyed by open time, with sorted keys."""

    def __init__(self, step_ms: int) -> None:
        self.step = step_ms
        self.candles: dict[int, list[int]] = {}
        self.keys: list[int] = []

    def add(self, t: Trade) -> None:
        open_ms = t.time - t.time % self.step
        c = self.candles.get(open_ms)
        p = t.price
        if c is None:
            c = self.candles[open_ms] = [open_ms, p, p, p, p, 0, 0, 0, 0, 0, t.trade_id, -1]
            if not self.keys or open_ms > self.keys[-1]:
                self.keys.append(open_ms)
            else:  # the server clock was moved back
                insort(self.keys, open_ms)
        elif p > c[H]:
            c[H] = p
        elif p < c[L]:
            c[L] = p
        c[C] = p
        c[V] += t.qty
        c[Q] += t.quote_qty
        c[N] += 1
        if not t.buyer_is_maker:
            c[TV] += t.qty
            c[TQ] += t.quote_qty
        c[LAST] = t.trade_id

    def between(self, lo: int, hi: int) -> Iterator[list[int]]:
        keys = self.keys
        for i in range(bisect_left(keys, lo), bisect_left(keys, hi)):
            yield self.candles[keys[i]]

    def close_before(self, t: int) -> tuple[int, int] | None:
        i = bisect_left(self.keys, t)
        if i == 0:
            return None
        key = self.keys[i - 1]
        return key, self.candles[key][C]

    def prune(self, before: int) -> None:
        cut = bisect_left(self.keys, before)
        for key in self.keys[:cut]:
            del self.candles[key]
        del self.keys[:cut]


class Tape:
    """One symbol's market data."""

    def __init__(self, spec: SymbolSpec, seed: int, config: MarketConfig, anchor: int) -> None:
        self.spec = spec
        self.seed = seed
        self.config = config
        self.anchor = anchor
        self.initial = to_atoms(spec.initial_price)
        self._history: History | None = None
        self.seconds, self.minutes = _Live(SECOND), _Live(MINUTE)
        self.aggs: deque[AggTrade] = deque(maxlen=AGG_KEPT)
        self._last_taker = -1  # the orderId of the newest aggregate trade's taker
        self.last_trade: Trade | None = None
        self._rows: dict[tuple[str, int], dict[int, str]] = {}
        self._partial: dict[tuple[str, int, int], list[int]] = {}
        self._added = 0

    # ----- inputs -----------------------------------------------------------------------------
    def on_trade(self, t: Trade) -> None:
        self.seconds.add(t)
        self.minutes.add(t)
        self.last_trade = t
        # only the newest aggregate trade can grow, so only its taker is remembered: its orderId
        # (unique per symbol), not the Order, which the ring would keep alive past the
        # retention rule (issue 18, memory)
        taker = (t.sell_order if t.buyer_is_maker else t.buy_order).order_id
        last = self.aggs[-1] if self.aggs else None
        if last and self._last_taker == taker and last.price == t.price and last.time == t.time:
            last.qty += t.qty
            last.last_id = t.trade_id
        else:
            agg_id = last.agg_id + 1 if last else 1
            self._last_taker = taker
            self.aggs.append(
                AggTrade(agg_id, t.price, t.qty, t.trade_id, t.trade_id, t.time, t.buyer_is_maker)
            )
        self._added += 1
        if self._added % _PRUNE_EVERY == 0:  # 1s candles are kept for the configured hours only
            self.seconds.prune(t.time - max(1, self.config.second_hours) * 3_600_000)

    # ----- history ----------------------------------------------------------------------------
    @property
    def history(self) -> History | None:
        if self._history is None and self.config.history_days > 0:
            c = self.config
            self._history = build(
                self.spec, self.seed, c.history_days, c.second_hours, c.hourly_days
            )
        return self._history

    def _tiers(self, name: str) -> list[tuple[Tier, int]]:
        """The history tiers a `name` candle is made of, oldest first, with their start times:
        1s candles from seconds, others from minutes, and 1h or coarser from hours before."""
        h = self.history
        if h is None:
            return []
        if name == "1s":
            return [(h.seconds, self.anchor - h.seconds.count * SECOND)] if h.seconds.count else []
        minutes = self.anchor - h.minutes.count * MINUTE
        out = [(h.minutes, minutes)] if h.minutes.count else []
        if name in HOURLY and h.hours.count:
            out.insert(0, (h.hours, minutes - h.hours.count * HOUR))
        return out

    def earliest(self, name: str) -> int:
        """Open time of the oldest base candle (history start, or the first live one)."""
        tiers = self._tiers(name)
        start = tiers[0][1] if tiers else self.anchor
        live = self.seconds if name == "1s" else self.minutes
        return min(start, live.keys[0]) if live.keys else start

    def close_before(self, step: int, t: int) -> int:
        """The last price before time `t` (history, live trades, or the initial price)."""
        live = (self.seconds if step == SECOND else self.minutes).close_before(t)
        tiers = self._tiers("1s" if step == SECOND else "1m")
        hist: tuple[int, int] | None = None
        if tiers:
            tier, first = tiers[0]
            if t > first:
                i = min((t - first) // step, tier.count) - 1
                hist = (first + i * step, tier.fields[C - 1][i]) if i >= 0 else None
        if live is not None and (hist is None or live[0] >= hist[0]):
            return live[1]
        if hist is not None:
            return hist[1]
        return tiers[0][0].fields[0][0] if tiers else self.initial

    def _history_part(self, name: str, lo: int, hi: int) -> list[int] | None:
        """History aggregated over [lo, hi), or None when the range holds none of it."""
        out: list[int] | None = None
        for tier, first in self._tiers(name):
            step = tier.step_ms
            i, j = max(0, -(-(lo - first) // step)), min(tier.count, -(-(hi - first) // step))
            for k in range(i, j):
                if out is None:
                    out = tier.candle(k, lo)
                else:
                    merge(out, tier.candle(k, lo))
        return out

    # ----- candles ----------------------------------------------------------------------------
    def candle(self, name: str, tz: int, open_ms: int, prev_close: int | None = None) -> list[int]:
        """The `name` candle opening at `open_ms`: history part, then live trades."""
        step = SECOND if name == "1s" else MINUTE
        end = following(name, tz, open_ms)
        if prev_close is None:
            prev_close = self.close_before(step, open_ms)
        c = flat(open_ms, prev_close)
        if open_ms < self.anchor:
            key = (name, tz, open_ms)
            part = self._partial.get(key)
            if part is None:
                part = self._history_part(name, open_ms, min(end, self.anchor)) or flat(open_ms, 0)
                if end > self.anchor:  # only the straddling bucket: history no longer changes
                    self._partial[key] = part
            merge(c, part)
        for live in (self.seconds if step == SECOND else self.minutes).between(open_ms, end):
            merge(c, live)
        return c

    def opens(
        self, name: str, tz: int, start: int | None, end: int | None, limit: int, now: int
    ) -> list[int]:
        """Open times of the candles a klines request returns (openTime in [start, end])."""
        first, hi = bucket(name, tz, self.earliest(name)), now if end is None else min(end, now)
        if hi < first or (start is not None and start > hi):
            return []  # nothing there yet (and no calendar arithmetic on absurd times)
        last = bucket(name, tz, hi)
        out: list[int] = []
        if start is not None:
            begin = max(start, first)
            open_ms = bucket(name, tz, begin)
            open_ms = open_ms if open_ms >= begin else following(name, tz, open_ms)
            if name != "1M":  # a fixed step: one C-level range (the hot path of a klines call)
                return list(range(open_ms, last + 1, FIXED_MS[name])[:limit])
            while open_ms <= last and len(out) < limit:
                out.append(open_ms)
                open_ms = following(name, tz, open_ms)
            return out
        if name != "1M":
            size = FIXED_MS[name]
            return list(range(max(first, last - (limit - 1) * size), last + 1, size))
        open_ms = last
        while open_ms >= first and len(out) < limit:
            out.append(open_ms)
            open_ms = preceding(name, tz, open_ms)
        out.reverse()
        return out

    def klines(
        self, name: str, tz: int, start: int | None, end: int | None, limit: int, now: int
    ) -> list[str]:
        """Pre-serialised kline rows (rest-api.md §Kline/Candlestick data)."""
        cached = self._rows.setdefault((name, tz), {})
        opens = self.opens(name, tz, start, end, limit, now)
        out: list[str | None] = list(map(cached.get, opens))  # None: not (yet) formatted
        if None not in out:
            return out  # type: ignore[return-value]
        prev: int | None = None  # a computed candle's close opens the next one
        for i in range(out.index(None), len(out)):  # usually the live candle(s) at the end
            if out[i] is not None:
                prev = None
                continue
            open_ms = opens[i]
            close = following(name, tz, open_ms)
            c = self.candle(name, tz, open_ms, prev)
            out[i] = text = row(c, close - 1)
            if close <= self.anchor and tz in _CACHED_ZONES:  # wholly history: format once
                cached[open_ms] = text
            prev = c[C]
        return out  # type: ignore[return-value]

    def window(self, lo: int, now: int) -> list[int]:
        """Statistics candle of [lo, now] from 1m candles opening at or after `lo`."""
        c = flat(lo, self.close_before(MINUTE, lo))
        part = self._history_part("1m", lo, self.anchor) if lo < self.anchor else None
        if part is not None:
            merge(c, part)
        for live in self.minutes.between(lo, now + 1):
            merge(c, live)
        return c

    def trade_ids(self, lo: int, now: int) -> tuple[int, int]:
        """First and last trade id in [lo, now] (history ids, then the engine's), or (-1, -1)."""
        first = last = -1
        h = self.history
        if h is not None and lo < self.anchor:
            before = self._ids_before(h, lo)
            if before < h.trades:
                first, last = before + 1, h.trades
        for live in self.minutes.between(lo, now + 1):
            if live[N]:
                first = live[10] if first < 0 else first
                last = live[LAST]
        return first, last

    def _ids_before(self, h: History, t: int) -> int:
        """How many history trades happened before time `t`."""
        minutes = self.anchor - h.minutes.count * MINUTE
        if t >= minutes:
            return h.minute_ids[min(h.minutes.count, -(-(t - minutes) // MINUTE))]
        hours = minutes - h.hours.count * HOUR
        return h.hour_ids[max(0, -(-(t - hours) // HOUR))]

    def first_trade_id(self) -> int:
        """The id of the engine's first trade: right after the history's."""
        h = self.history
        return h.trades + 1 if h is not None else 1


class MarketData:
    """The tapes of every symbol, fed by the engine's trade hook."""

    def __init__(self, config: MarketConfig, symbols: tuple[SymbolSpec, ...], seed: int,
                 clock: ServerClock, engine: Engine) -> None:  # fmt: skip
        anchor = clock.now_ms() // MINUTE * MINUTE
        self.clock = clock
        self.tapes = {s.symbol: Tape(s, seed, config, anchor) for s in symbols}
        for symbol, tape in self.tapes.items():  # engine trades are numbered after the history's
            engine.next_trade_id[symbol] = tape.first_trade_id()
        engine.trade_hooks.append(self._on_trade)

    def _on_trade(self, t: Trade) -> None:
        self.tapes[t.symbol].on_trade(t)

    def avg_price(self, symbol: str, now: int) -> tuple[int, int]:
        """(price, closeTime) of `avgPrice`: the volume-weighted price of the last 5 minutes."""
        tape = self.tapes[symbol]
        c = tape.window((now - 5 * MINUTE) // MINUTE * MINUTE, now)
        price = c[Q] * SCALE // c[V] if c[V] else c[C]
        last = tape.last_trade
        return price, last.time if last is not None else now
