"""The market caches' stream subscribers (market.py): each turns its stream's events into the
REST answer(s) it can give, and forgets them when the stream is lost."""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from typing import Any

import orjson

KLINES, UI_KLINES = "/api/v3/klines", "/api/v3/uiKlines"
TICKER_24H, AVG_PRICE = "/api/v3/ticker/24hr", "/api/v3/avgPrice"
INTERVALS = frozenset(
    [
        "1s",
        "1m",
        "3m",
        "5m",
        "15m",
        "30m",
        "1h",
        "2h",
        "4h",
        "6h",
        "8h",
        "12h",
        "1d",
        "3d",
        "1w",
        "1M",
    ]
)  # rest-api.md §ENUM Definitions, Kline/Candlestick chart intervals
BACKFILL = 1000  # the most klines one request returns (weight 2)
KEEP = 2000  # rows kept per series: older ones go (then the series no longer reaches its start)
_FULL = (("symbol", "s"), ("priceChange", "p"), ("priceChangePercent", "P"),
         ("weightedAvgPrice", "w"), ("prevClosePrice", "x"), ("lastPrice", "c"),
         ("lastQty", "Q"), ("bidPrice", "b"), ("bidQty", "B"), ("askPrice", "a"),
         ("askQty", "A"), ("openPrice", "o"), ("highPrice", "h"), ("lowPrice", "l"),
         ("volume", "v"), ("quoteVolume", "q"), ("openTime", "O"), ("closeTime", "C"),
         ("firstId", "F"), ("lastId", "L"), ("count", "n"))  # fmt: skip
_MINI = (("symbol", "s"), ("openPrice", "o"), ("highPrice", "h"), ("lowPrice", "l"),
         ("lastPrice", "c"), ("volume", "v"), ("quoteVolume", "q"), ("openTime", "O"),
         ("closeTime", "C"), ("firstId", "F"), ("lastId", "L"), ("count", "n"))  # fmt: skip


class Feed:
    """One stream's internal subscriber (duck-typed as a bot socket, streams.Subscriber)."""

    combined = False

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.streams: dict[str, None] = {}
        self.closed = False
        self.used = time.monotonic()
        self.retry_at = 0.0  # after a failed subscription or backfill: not before then

    def deliver(self, text: str) -> None:
        """One event; one the cache cannot read drops what it holds (requests go upstream)."""
        try:
            data = orjson.loads(text)
            if isinstance(data, dict):
                self.on_event(data)
        except (ValueError, KeyError, TypeError, IndexError):
            self.down()

    def on_event(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def down(self) -> None:
        """The stream was lost: forget what it said."""

    def close(self, code: int, reason: str) -> None:
        self.down()
        self.closed = True


class Ticker24(Feed):
    """`<s>@ticker`: the FULL and MINI bodies of ticker/24hr for one symbol."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol.lower() + "@ticker")
        self.symbol = symbol
        self.bodies: dict[str, bytes] = {}

    def on_event(self, data: dict[str, Any]) -> None:
        if data.get("e") == "24hrTicker" and data.get("s") == self.symbol:
            self.bodies = {
                "FULL": orjson.dumps({k: data[v] for k, v in _FULL}),
                "MINI": orjson.dumps({k: data[v] for k, v in _MINI}),
            }

    def down(self) -> None:
        self.bodies = {}


class Avg(Feed):
    """`<s>@avgPrice`: the avgPrice body for one symbol."""

    def __init__(self, symbol: str) -> None:
        super().__init__(symbol.lower() + "@avgPrice")
        self.symbol = symbol
        self.body: bytes | None = None

    def on_event(self, data: dict[str, Any]) -> None:
        window = data.get("i")
        if data.get("e") == "avgPrice" and data.get("s") == self.symbol and window == "5m":
            self.body = orjson.dumps({"mins": 5, "price": data["w"], "closeTime": data["T"]})

    def down(self) -> None:
        self.body = None


class Series(Feed):
    """`<s>@kline_<i>`: a contiguous run of REST rows, backfilled once, then kept by events."""

    def __init__(self, path: str, symbol: str, interval: str) -> None:
        super().__init__(f"{symbol.lower()}@kline_{interval}")
        self.path, self.symbol, self.interval = path, symbol, interval
        self.opens: list[int] = []
        self.rows: list[bytes] = []
        self.last_close = 0  # closeTime (T) of the newest row
        self.whole = False  # the rows reach the symbol's first candle
        self.ready = False
        self.filling: list[dict[str, Any]] | None = None  # events during a backfill
        self.epoch = 0

    def on_event(self, data: dict[str, Any]) -> None:
        k = data.get("k")
        if data.get("e") != "kline" or data.get("s") != self.symbol or not isinstance(k, dict):
            return
        if k.get("i") != self.interval:
            return
        if self.filling is not None:
            self.filling.append(k)
        elif self.ready and not self.apply(k):
            self.down()  # a candle was skipped: backfill again (the owner sees `ready` fall)

    def apply(self, k: dict[str, Any]) -> bool:
        """Put one event's candle in place; False when it does not follow the rows."""
        row = orjson.dumps([*(k[f] for f in "tohlcvTqnVQ"), "0"])  # REST's row, "0" unused
        t = k["t"]
        if self.opens and t <= self.opens[-1]:
            i = bisect_left(self.opens, t)
            if self.opens[i] == t:
                self.rows[i] = row
            return True  # (an older candle the rows do not hold is no gap)
        if self.opens and t != self.last_close + 1:
            return False
        self.opens.append(t)
        self.rows.append(row)
        self.last_close = k["T"]
        if len(self.opens) > KEEP:
            del self.opens[: len(self.opens) - KEEP], self.rows[: len(self.rows) - KEEP]
            self.whole = False
        return True

    def fill(self, rows: list[list[Any]]) -> bool:
        """The backfill's rows, then the events that came meanwhile; True when ready."""
        self.opens = [r[0] for r in rows]
        self.rows = [orjson.dumps(r) for r in rows]
        self.last_close = rows[-1][6] if rows else 0
        self.whole = len(rows) < BACKFILL
        pending, self.filling = self.filling or [], None
        self.ready = bool(rows) and all(self.apply(k) for k in pending)
        return self.ready

    def down(self) -> None:
        self.ready = False
        self.filling = None
        self.opens, self.rows = [], []
        self.epoch += 1

    def select(self, start: int | None, end: int | None, limit: int) -> bytes | None:
        """The REST answer when the rows hold all of it, else None (rest_history semantics:
        openTime within [start, end]; without start, the last `limit` up to end)."""
        opens = self.opens
        if not self.ready or not opens:
            return None
        j = len(opens) if end is None else bisect_right(opens, end)
        if start is not None:
            if (start < opens[0] and not self.whole) or start > self.last_close:
                return None
            i = bisect_left(opens, start)
            j = max(i, min(j, i + limit))
        else:
            i = max(0, j - limit)
            if j - i < limit and not self.whole:
                return None
        return b"[" + b",".join(self.rows[i:j]) + b"]"
