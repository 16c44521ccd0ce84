"""Market data answered without weight: exchangeInfo (short TTL) and ticker/bookTicker (stream).

- `GET /api/v3/exchangeInfo` (weight 20; bots ask at start and often): a 200 answer is kept
  `cache_ttl_s` seconds per exact query string and served from memory meanwhile.
- `GET /api/v3/ticker/bookTicker?symbol=X`: the first request subscribes `x@bookTicker` on the
  shared upstream socket (streams.py) and goes upstream; once an event has arrived, requests are
  answered from it (the stream's fields are Binance's REST fields: s, b, B, a, A →
  symbol, bidPrice, bidQty, askPrice, askQty; web-socket-streams.md §Individual Symbol Book
  Ticker Streams). While the upstream socket is down the value is dropped (an answer is never
  staler than its stream) and requests go upstream until the next event. A symbol nobody asked
  for in `cache_idle_s` is unsubscribed.

Cached answers carry `X-Binguard-Gateway: cache` and the IP-wide X-MBX-USED-WEIGHT-* headers.
They go on during a ban: they send nothing upstream. Other requests (all symbols, `symbols=`,
other endpoints) are forwarded as they are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from binguard._aio import reap

from .answers import GATEWAY_HEADER
from .streams import StreamHub

BOOK_TICKER = "/api/v3/ticker/bookTicker"
EXCHANGE_INFO = "/api/v3/exchangeInfo"


class _Ticker:
    """An internal subscriber of one `<symbol>@bookTicker` stream (duck-typed as a bot)."""

    combined = False

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.body: bytes | None = None
        self.closed = False
        self.used = time.monotonic()
        self.streams: dict[str, None] = {}

    def deliver(self, text: str) -> None:
        data = orjson.loads(text)
        if isinstance(data, dict) and data.get("s") == self.symbol:
            self.body = orjson.dumps(
                {
                    "symbol": data["s"],
                    "bidPrice": data["b"],
                    "bidQty": data["B"],
                    "askPrice": data["a"],
                    "askQty": data["A"],
                }
            )

    def close(self, code: int, reason: str) -> None:
        self.body = None
        self.closed = True


class Caches:
    """The gateway's caches; `answer()` before forwarding, `keep()` after."""

    def __init__(self, hub: StreamHub, ttl_s: float, idle_s: float) -> None:
        self._hub = hub
        self._ttl = ttl_s
        self._idle = idle_s
        self._info: dict[str, tuple[float, bytes]] = {}
        self._tickers: dict[str, _Ticker] = {}
        self._tasks: set[asyncio.Future[object]] = set()
        hub.down_listeners.append(self._upstream_down)
        self.hits = 0
        self.misses = 0

    def answer(self, method: str, path: str, query: str) -> web.Response | None:
        """A cached answer for this request, or None (forward it)."""
        if method != "GET" or self._ttl <= 0:
            return None
        if path == EXCHANGE_INFO:
            kept = self._info.get(query)
            if kept is not None and time.monotonic() - kept[0] < self._ttl:
                return self._hit(kept[1])
        elif path == BOOK_TICKER:
            params = dict(parse_qsl(query))
            symbol = params.get("symbol", "")
            if set(params) == {"symbol"} and symbol.isalnum():
                ticker = self._ticker(symbol.upper())
                if ticker.body is not None:
                    return self._hit(ticker.body)
        else:
            return None
        self.misses += 1
        self._sweep()
        return None

    def keep(self, path: str, query: str, status: int, body: bytes) -> None:
        """Remember an upstream answer worth keeping (exchangeInfo 200s)."""
        if path == EXCHANGE_INFO and status == 200 and self._ttl > 0:
            self._info[query] = (time.monotonic(), body)

    def _hit(self, body: bytes) -> web.Response:
        self.hits += 1
        return web.Response(
            body=body, headers={GATEWAY_HEADER: "cache", "Content-Type": "application/json"}
        )

    def _ticker(self, symbol: str) -> _Ticker:
        ticker = self._tickers.get(symbol)
        if ticker is None or ticker.closed:
            ticker = self._tickers[symbol] = _Ticker(symbol)
            self._spawn(self._hub.subscribe(ticker, [f"{symbol.lower()}@bookTicker"]))
        ticker.used = time.monotonic()
        return ticker

    def _sweep(self) -> None:
        now = time.monotonic()
        for symbol, ticker in list(self._tickers.items()):
            if now - ticker.used > self._idle:
                del self._tickers[symbol]
                ticker.close(1000, "idle")
                self._spawn(self._hub.unsubscribe(ticker, list(ticker.streams)))
        self._info = {q: v for q, v in self._info.items() if now - v[0] < self._ttl}

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _upstream_down(self) -> None:
        for ticker in self._tickers.values():
            ticker.body = None

    async def close(self) -> None:
        await reap(*self._tasks)
