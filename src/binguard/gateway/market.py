"""klines / uiKlines, ticker/24hr (one symbol, FULL and MINI) and avgPrice from market streams.

For each (symbol, interval) or symbol a bot asks about, the first request subscribes one stream
on the shared upstream socket (streams.py) and goes upstream; later ones are answered from what
the stream said (web-socket-streams.md §Detailed Stream information; REST shapes as in
rest-api.md §Market Data endpoints):

- `GET /api/v3/klines|uiKlines?symbol&interval[&limit&startTime&endTime]` from
  `<s>@kline_<interval>`: once the stream is live the series is backfilled ONCE with
  `limit=1000` over REST through the gateway's forwarder (budget and ban breaker apply), then
  every event replaces or appends its candle as the REST row `[t, o, h, l, c, v, T, q, n, V, Q,
  "0"]`. A request is answered only when the kept rows hold its whole answer (openTime within
  [startTime, endTime], `limit` default 500, max 1000; rest-api.md §Kline/Candlestick data);
  otherwise (older than the backfill, `timeZone`, a bad value) it goes upstream. An event that
  skips a candle drops the series and backfills it again. uiKlines keeps its own series,
  backfilled from uiKlines (Binance documents the same response; its history is upstream's own).
- `GET /api/v3/ticker/24hr?symbol[&type=FULL|MINI]` from `<s>@ticker` (24hrTicker: p, P, w, x,
  c, Q, b, B, a, A, o, h, l, v, q, O, C, F, L, n → the REST fields in REST's order).
- `GET /api/v3/avgPrice?symbol` from `<s>@avgPrice` (i "5m", w, T → mins 5, price, closeTime).

Never staler than the stream: when the upstream socket drops, every value (and every series) is
dropped and requests go upstream until the new socket has spoken again (a series backfills again).
Anything a bot has not asked about in `idle_s` is unsubscribed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from aiohttp import web
from multidict import CIMultiDict

from binguard._aio import reap

from .answers import GATEWAY_HEADER
from .feeds import (
    AVG_PRICE,
    BACKFILL,
    INTERVALS,
    KLINES,
    TICKER_24H,
    UI_KLINES,
    Avg,
    Feed,
    Series,
    Ticker24,
)
from .forward import Forwarder
from .metrics import NOT_HELD, NOT_READY, Metrics
from .streams import StreamHub

PATHS = (KLINES, UI_KLINES, TICKER_24H, AVG_PRICE)
RETRY_S = 1.0  # a failed subscription or backfill is tried again on a request after this
_KLINE_KEYS = frozenset(("symbol", "interval", "limit", "startTime", "endTime"))


def _ints(params: dict[str, str]) -> dict[str, int | None] | None:
    """limit, startTime, endTime as integers (None when absent); None when one is not a
    positive integer (the request goes upstream, which answers it in its own words)."""
    out: dict[str, int | None] = {}
    for key in ("limit", "startTime", "endTime"):
        text = params.get(key)
        if text is not None and not (text.isdigit() and 0 < len(text) < 19 and int(text) > 0):
            return None
        out[key] = None if text is None else int(text)
    return out


class Market:
    """The market caches; `answer()` before forwarding (None: forward the request)."""

    def __init__(
        self, hub: StreamHub, forwarder: Forwarder, idle_s: float, metrics: Metrics
    ) -> None:
        self._hub = hub
        self._metrics = metrics
        self._fwd = forwarder
        self._idle = idle_s
        self._feeds: dict[tuple[str, ...], Feed] = {}
        self._tasks: set[asyncio.Future[object]] = set()
        hub.down_listeners.append(self._upstream_down)
        self.hits = 0
        self.misses = 0

    def answer(self, method: str, path: str, query: str) -> web.Response | None:
        """A cached answer, or None (forward it); hits and misses (with the miss's reason,
        metrics.py) are counted."""
        if method != "GET" or path not in PATHS:
            return None
        pairs = parse_qsl(query, keep_blank_values=True)
        params = dict(pairs)
        symbol = params.get("symbol", "")
        found: bytes | str = NOT_HELD
        if len(params) == len(pairs) and symbol.isalnum() and symbol == symbol.upper():
            found = self._body(path, symbol, params)
        if isinstance(found, str):
            self.misses += 1
            self._metrics.miss(path, found)
            self._sweep()
            return None
        self.hits += 1
        self._metrics.hit(path)
        return web.Response(
            body=found, headers={GATEWAY_HEADER: "cache", "Content-Type": "application/json"}
        )

    def _body(self, path: str, symbol: str, params: dict[str, str]) -> bytes | str:
        """The answer's body, or why there is none (NOT_READY, NOT_HELD)."""
        if path == TICKER_24H:
            kind = params.get("type", "FULL")
            if set(params) - {"symbol", "type"} or kind not in ("FULL", "MINI"):
                return NOT_HELD
            ticker = self._feed(("ticker", symbol), lambda: Ticker24(symbol))
            assert isinstance(ticker, Ticker24)
            return ticker.bodies.get(kind) or NOT_READY
        if path == AVG_PRICE:
            if len(params) != 1:
                return NOT_HELD
            avg = self._feed(("avg", symbol), lambda: Avg(symbol))
            assert isinstance(avg, Avg)
            return avg.body or NOT_READY
        return self._klines(path, symbol, params)

    def _klines(self, path: str, symbol: str, params: dict[str, str]) -> bytes | str:
        interval = params.get("interval", "")
        ints = _ints(params)
        if set(params) - _KLINE_KEYS or interval not in INTERVALS or ints is None:
            return NOT_HELD
        series = self._feed((path, symbol, interval), lambda: Series(path, symbol, interval))
        assert isinstance(series, Series)
        if not series.ready:
            now = time.monotonic()
            if series.filling is None and now >= series.retry_at and self._hub.live(series.stream):
                series.retry_at = now + RETRY_S
                self._spawn(self._backfill(series))
            return NOT_READY
        limit = ints["limit"]
        size = 500 if limit is None else min(limit, BACKFILL)  # rest-api.md: 500, max 1000
        return series.select(ints["startTime"], ints["endTime"], size) or NOT_HELD

    def _feed(self, key: tuple[str, ...], make: Callable[[], Feed]) -> Feed:
        feed = self._feeds.get(key)
        now = time.monotonic()
        if feed is None or (feed.closed and now >= feed.retry_at):
            feed = self._feeds[key] = make()
            self._spawn(self._start(feed))
        feed.used = now
        return feed

    async def _start(self, feed: Feed) -> None:
        if await self._hub.subscribe(feed, [feed.stream]) is not None:
            feed.closed = True  # refused or upstream down: a later request tries again
            feed.retry_at = time.monotonic() + RETRY_S
        elif isinstance(feed, Series):
            await self._backfill(feed)

    async def _backfill(self, series: Series) -> None:
        """Once per live stream: the newest BACKFILL rows over REST (budget and ban apply)."""
        if series.closed or series.ready or series.filling is not None:
            return
        if not self._hub.live(series.stream):
            return
        epoch, series.filling = series.epoch, []
        query = urlencode({"symbol": series.symbol, "interval": series.interval, "limit": BACKFILL})
        answer = await self._fwd.forward(
            self._fwd.call("GET", series.path, query, b"", CIMultiDict())
        )
        if series.epoch != epoch or series.closed:
            return  # the stream was lost meanwhile: a later request starts again
        body = answer.body if isinstance(answer, web.Response) else None
        if answer.status != 200 or not isinstance(body, bytes) or GATEWAY_HEADER in answer.headers:
            series.filling = None
            series.retry_at = time.monotonic() + RETRY_S
            return
        try:
            ready = series.fill(orjson.loads(body))
        except (ValueError, KeyError, TypeError, IndexError):
            ready = False  # not rows as rest-api.md gives them: keep forwarding
        if not ready:
            series.down()  # (or events meanwhile skipped a candle): a later request backfills

    def summary(self) -> dict[str, object]:
        """For /status: which streams feed the market caches and whether each is serving."""
        return {
            feed.stream: (feed.ready if isinstance(feed, Series) else not feed.closed)
            for feed in self._feeds.values()
        }

    def _sweep(self) -> None:
        now = time.monotonic()
        for key, feed in list(self._feeds.items()):
            if now - feed.used > self._idle:
                del self._feeds[key]
                feed.close(1000, "idle")
                self._spawn(self._hub.unsubscribe(feed, list(feed.streams)))

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _upstream_down(self) -> None:
        for feed in self._feeds.values():
            feed.down()

    async def close(self) -> None:
        for feed in self._feeds.values():
            feed.close(1001, "closing")
        self._feeds.clear()
        await reap(*self._tasks)
