"""Market data streams built from candles and tickers (web-socket-streams.md §Detailed Stream
information): aggTrade, kline_<interval>[@+08:00], miniTicker, !miniTicker@arr, ticker,
ticker_<1h|4h|1d>, !ticker_<1h|4h|1d>@arr, depth<5|10|20>[@100ms], avgPrice, referencePrice,
blockTrade.

Update speeds as documented, in units of `MarketConfig.stream_ms` (1000 ms by default): klines
every unit for 1s and every two for the others, tickers, avgPrice, referencePrice and partial
depth every unit, `@100ms` partial depth every tenth of one. When a candle closes, its last update
(`x: true`) equals `GET /api/v3/klines` for it. The `!…@arr` streams carry only the symbols
whose statistics changed since their last push (a new subscriber first gets every symbol).
aggTrade is real time: pushed at the end of the engine step that completed it. The simulator has
no block trades and no reference prices, so `@blockTrade` stays silent and `@referencePrice`
pushes `"r": null`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from typing import Any

from .candles import DAY, HOUR, TQ, TV, C, H, L, N, O, Q, V, bucket, following
from .numbers import fmt
from .state import SimState
from .tickers import avg_price, day_24h, full_24h, rolling

_SYMBOL = r"[a-z0-9]{2,30}"
_KINDS = (
    r"trade|aggTrade|blockTrade|bookTicker|depth|depth@100ms|depth(?:5|10|20)(?:@100ms)?"
    r"|kline_(?:1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1M)(?:@\+08:00)?"
    r"|miniTicker|ticker|ticker_(?:1h|4h|1d)|avgPrice|referencePrice"
)
_NAME = re.compile(rf"(?:{_SYMBOL}@(?:{_KINDS})|!miniTicker@arr|!ticker_(?:1h|4h|1d)@arr)\Z")
_PARTIAL = re.compile(r"depth(5|10|20)(?:@100ms)?\Z")
_WINDOWS = {"1h": HOUR, "4h": 4 * HOUR, "1d": DAY}
PLUS_8 = 8 * HOUR


def valid_stream(name: str) -> bool:
    """A stream name this simulator serves (symbols lowercase, web-socket-streams.md)."""
    return _NAME.match(name) is not None


def kline_event(state: SimState, symbol: str, name: str, tz: int, open_ms: int,
                now: int) -> dict[str, Any]:  # fmt: skip
    """The `kline` payload of the candle opening at `open_ms` (x: closed by now)."""
    c = state.market.tapes[symbol].candle(name, tz, open_ms)
    close = following(name, tz, open_ms) - 1
    k = {"t": open_ms, "T": close, "s": symbol, "i": name, "f": c[10], "L": c[11],
         "o": fmt(c[O]), "c": fmt(c[C]), "h": fmt(c[H]), "l": fmt(c[L]), "v": fmt(c[V]),
         "n": c[N], "x": close < now, "q": fmt(c[Q]), "V": fmt(c[TV]), "Q": fmt(c[TQ]),
         "B": "0"}  # fmt: skip
    return {"e": "kline", "E": now, "s": symbol, "k": k}


def _mini(state: SimState, symbol: str, now: int) -> dict[str, Any]:
    s = day_24h(state, symbol, now).mini()
    return {"e": "24hrMiniTicker", "E": now, "s": symbol, "c": s["lastPrice"],
            "o": s["openPrice"], "h": s["highPrice"], "l": s["lowPrice"], "v": s["volume"],
            "q": s["quoteVolume"]}  # fmt: skip


def _ticker(state: SimState, symbol: str, now: int) -> dict[str, Any]:
    t = full_24h(state, day_24h(state, symbol, now))
    return {"e": "24hrTicker", "E": now, "s": symbol, "p": t["priceChange"],
            "P": t["priceChangePercent"], "w": t["weightedAvgPrice"], "x": t["prevClosePrice"],
            "c": t["lastPrice"], "Q": t["lastQty"], "b": t["bidPrice"], "B": t["bidQty"],
            "a": t["askPrice"], "A": t["askQty"], "o": t["openPrice"], "h": t["highPrice"],
            "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"], "O": t["openTime"],
            "C": t["closeTime"], "F": t["firstId"], "L": t["lastId"], "n": t["count"]}  # fmt: skip


def _window(state: SimState, symbol: str, window: str, now: int) -> dict[str, Any]:
    t = rolling(state, symbol, _WINDOWS[window], now).full()
    return {"e": f"{window}Ticker", "E": now, "s": symbol, "p": t["priceChange"],
            "P": t["priceChangePercent"], "o": t["openPrice"], "h": t["highPrice"],
            "l": t["lowPrice"], "c": t["lastPrice"], "w": t["weightedAvgPrice"],
            "v": t["volume"], "q": t["quoteVolume"], "O": t["openTime"], "C": t["closeTime"],
            "F": t["firstId"], "L": t["lastId"], "n": t["count"]}  # fmt: skip


def _depth(state: SimState, symbol: str, levels: int) -> dict[str, Any]:
    last_id, bids, asks = state.engine.depth(symbol, levels)
    return {"lastUpdateId": last_id, "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks]}  # fmt: skip


class MarketStreams:
    """Publishes the timed streams and the aggregate trades through the hub's fan-out."""

    def __init__(
        self, state: SimState, streams: Mapping[str, Any], publish: Callable[[str, Any], None]
    ) -> None:
        self.state = state
        self.streams = streams  # the hub's name -> subscribers map (read only)
        self.publish = publish
        self.symbols = {s.symbol.lower(): s.symbol for s in state.config.symbols}
        self._kline_open: dict[str, int] = {}
        self._arr_seen: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._arr_subs: dict[str, set[int]] = {}
        self._agg_sent: dict[str, tuple[Any, int]] = {}

    def on_step(self, symbol: str) -> None:
        """End of an engine step on `symbol`: push its completed aggregate trades."""
        name = symbol.lower() + "@aggTrade"
        tape = self.state.market.tapes[symbol]
        aggs = tape.aggs
        if name not in self.streams or not aggs:
            return
        seen_tape, sent = self._agg_sent.get(name, (None, 0))
        if seen_tape is not tape:  # first push, or /_sim/reset (a new tape, ids from 1 again)
            sent = 0
        now = self.state.clock.now_ms()
        step_time = aggs[-1].time  # one engine step's trades share its time
        fresh = []
        for agg in reversed(aggs):  # the new ones are at the end
            if agg.agg_id <= sent or agg.time != step_time:
                break
            fresh.append(agg)
        for agg in reversed(fresh):
            self.publish(name, {"e": "aggTrade", "E": now, "s": symbol, **agg.body()})
        self._agg_sent[name] = (tape, aggs[-1].agg_id)

    def tick(self, n: int) -> None:
        """One tenth of a unit: which streams are due depends on `n`."""
        now = self.state.clock.now_ms()
        for name in list(self.streams):
            if n % 10 == 0 or name.endswith("@100ms"):
                self._push(name, n, now)

    def _push(self, name: str, n: int, now: int) -> None:
        if name.startswith("!"):
            self._push_all(name, now)
            return
        lower, _, kind = name.partition("@")
        symbol = self.symbols.get(lower)
        if symbol is None:
            return  # a well-formed name for a symbol the exchange does not list: silent
        state = self.state
        if kind.startswith("kline_"):
            if kind.startswith("kline_1s") or n % 20 == 0:
                self._kline(name, symbol, kind, now)
        elif kind == "miniTicker":
            self.publish(name, _mini(state, symbol, now))
        elif kind == "ticker":
            self.publish(name, _ticker(state, symbol, now))
        elif kind.startswith("ticker_"):
            self.publish(name, _window(state, symbol, kind[7:], now))
        elif kind == "avgPrice":
            price, last = avg_price(state, symbol, now)
            self.publish(name, {"e": "avgPrice", "E": now, "s": symbol, "i": "5m",
                                "w": fmt(price), "T": last})  # fmt: skip
        elif kind == "referencePrice":
            self.publish(name, {"e": "referencePrice", "s": symbol, "r": None, "t": now})
        elif (m := _PARTIAL.match(kind)) is not None:
            self.publish(name, _depth(state, symbol, int(m.group(1))))

    def _kline(self, name: str, symbol: str, kind: str, now: int) -> None:
        interval, _, zone = kind[6:].partition("@")
        tz = PLUS_8 if zone else 0
        current = bucket(interval, tz, now)
        previous = self._kline_open.get(name)
        if previous is not None and previous < current:  # the last update of a closed candle
            self.publish(name, kline_event(self.state, symbol, interval, tz, previous, now))
        self._kline_open[name] = current
        self.publish(name, kline_event(self.state, symbol, interval, tz, current, now))

    def _push_all(self, name: str, now: int) -> None:
        state = self.state
        subscribers = {id(sink) for sink in self.streams.get(name, ())}
        if not subscribers <= self._arr_subs.get(name, set()):  # a newcomer gets every symbol
            for symbol in self.symbols.values():
                self._arr_seen.pop((name, symbol), None)
        self._arr_subs[name] = subscribers
        items = []
        for symbol in self.symbols.values():
            if name == "!miniTicker@arr":
                item = _mini(state, symbol, now)
            else:
                item = _window(state, symbol, name[8:10], now)
            key = tuple(v for k, v in item.items() if k not in ("E", "C", "O"))
            if self._arr_seen.get((name, symbol)) != key:
                self._arr_seen[(name, symbol)] = key
                items.append(item)
        if items:
            self.publish(name, items)

    async def run(self) -> None:
        """Push the timed streams every tenth of a unit, until cancelled."""
        step = max(1, self.state.config.market.stream_ms) / 10_000.0
        n = 0
        while True:
            await asyncio.sleep(step)
            n += 1
            if self.streams:
                self.tick(n)
