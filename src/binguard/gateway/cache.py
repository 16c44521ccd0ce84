"""Market data answered without weight: exchangeInfo (short TTL), ticker/bookTicker and
ticker/price (streams).

- `GET /api/v3/exchangeInfo` (weight 20; bots ask at start and often): a 200 answer is kept
  `cache_ttl_s` seconds per exact query string and served from memory meanwhile.
- `GET /api/v3/ticker/bookTicker?symbol=X`: the first request subscribes `x@bookTicker` on the
  shared upstream socket (streams.py) and goes upstream; once an event has arrived, requests are
  answered from it (s, b, B, a, A → symbol, bidPrice, bidQty, askPrice, askQty;
  web-socket-streams.md §Individual Symbol Book Ticker Streams).
- `GET /api/v3/ticker/price?symbol=X`: likewise from `x@trade` (the last trade's `p` is the
  price). A quiet market may send no trade for long, so the first REST answer *sent after the
  stream was live* seeds the value: every later trade arrives on the stream and replaces it.
- While the upstream socket is down the values are dropped (an answer is never staler than its
  stream) and requests go upstream until the stream is live again and has spoken (or seeded).
  A symbol nobody asked for in `cache_idle_s` is unsubscribed.

Cached answers carry `X-Binguard-Gateway: cache` and the IP-wide X-MBX-USED-WEIGHT-* headers.
They go on during a ban: they send nothing upstream. Other requests (all symbols, `symbols=`,
other endpoints) are forwarded as they are.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from binguard._aio import reap

from .answers import GATEWAY_HEADER
from .metrics import EXPIRED, NOT_HELD, NOT_READY, Metrics
from .streams import StreamHub

BOOK_TICKER = "/api/v3/ticker/bookTicker"
TICKER_PRICE = "/api/v3/ticker/price"
EXCHANGE_INFO = "/api/v3/exchangeInfo"
Seed = Callable[[int, bytes], None]


class _Ticker:
    """An internal subscriber of one symbol's stream (duck-typed as a bot socket)."""

    combined = False

    def __init__(self, symbol: str, kind: str) -> None:
        self.symbol = symbol
        self.kind = kind  # BOOK_TICKER or TICKER_PRICE
        self.stream = symbol.lower() + ("@bookTicker" if kind == BOOK_TICKER else "@trade")
        self.body: bytes | None = None
        self.live = False  # subscribed on a live upstream socket since `epoch` began
        self.epoch = 0
        self.closed = False
        self.used = time.monotonic()
        self.streams: dict[str, None] = {}

    def deliver(self, text: str) -> None:
        data = orjson.loads(text)
        if not isinstance(data, dict) or data.get("s") != self.symbol:
            return
        if self.kind == BOOK_TICKER:
            fields = {"bidPrice": "b", "bidQty": "B", "askPrice": "a", "askQty": "A"}
            self.body = orjson.dumps(
                {"symbol": data["s"], **{k: data[v] for k, v in fields.items()}}
            )
        elif data.get("e") == "trade":
            self.body = orjson.dumps({"symbol": data["s"], "price": data["p"]})

    def seed(self, epoch: int, status: int, body: bytes) -> None:
        """A REST answer asked for while the stream was live in this epoch (ticker/price)."""
        if status == 200 and epoch == self.epoch and self.live and self.body is None:
            data = orjson.loads(body)
            if isinstance(data, dict) and data.get("symbol") == self.symbol:
                self.body = orjson.dumps({"symbol": data["symbol"], "price": data["price"]})

    def down(self) -> None:
        self.body = None
        self.live = False
        self.epoch += 1

    def close(self, code: int, reason: str) -> None:
        self.down()
        self.closed = True


class Caches:
    """The gateway's caches; `answer()` before forwarding, then `seed()`'s callback (if any)
    with the upstream answer."""

    def __init__(self, hub: StreamHub, ttl_s: float, idle_s: float, metrics: Metrics) -> None:
        self._hub = hub
        self._metrics = metrics
        self._ttl = ttl_s
        self._idle = idle_s
        self._info: dict[str, tuple[float, bytes]] = {}
        self._tickers: dict[tuple[str, str], _Ticker] = {}
        self._tasks: set[asyncio.Future[object]] = set()
        hub.down_listeners.append(self._upstream_down)
        hub.up_listeners.append(self._upstream_up)
        self.hits = 0
        self.misses = 0
        self.clock: Callable[[], float] = time.monotonic  # (a test may move it on)

    def answer(self, method: str, path: str, query: str) -> web.Response | None:
        """A cached answer for this request, or None (forward it); hits and misses (with the
        miss's reason, metrics.py) are counted."""
        if method != "GET" or self._ttl <= 0:
            return None
        if path == EXCHANGE_INFO:
            kept = self._info.get(query)
            if kept is not None and (age := self.clock() - kept[0]) < self._ttl:
                return self._hit(path, _aged(kept[1], age))
            why = NOT_HELD if kept is None else EXPIRED
        elif path in (BOOK_TICKER, TICKER_PRICE):
            ticker = self._ticker_for(path, query)
            if ticker is not None and ticker.body is not None:
                return self._hit(path, ticker.body)
            why = NOT_HELD if ticker is None else NOT_READY
        else:
            return None
        self.misses += 1
        self._metrics.miss(path, why)
        self._sweep()
        return None

    def seed(self, method: str, path: str, query: str) -> Seed | None:
        """What to do with the upstream answer of a request about to be forwarded."""
        if method != "GET" or self._ttl <= 0:
            return None
        if path == EXCHANGE_INFO:
            return lambda status, body: self._keep_info(query, status, body)
        if path == TICKER_PRICE:
            ticker = self._ticker_for(path, query)
            if ticker is not None and ticker.live and ticker.body is None:
                epoch = ticker.epoch  # taken before the request leaves
                return lambda status, body: ticker.seed(epoch, status, body)
        return None

    def _keep_info(self, query: str, status: int, body: bytes) -> None:
        if status == 200:
            self._info[query] = (self.clock(), body)

    def _hit(self, path: str, body: bytes) -> web.Response:
        self.hits += 1
        self._metrics.hit(path)
        return web.Response(
            body=body, headers={GATEWAY_HEADER: "cache", "Content-Type": "application/json"}
        )

    def _ticker_for(self, path: str, query: str) -> _Ticker | None:
        params = dict(parse_qsl(query))
        symbol = params.get("symbol", "")
        if set(params) != {"symbol"} or not symbol.isalnum():
            return None
        key = (path, symbol.upper())
        ticker = self._tickers.get(key)
        if ticker is None or ticker.closed:
            ticker = self._tickers[key] = _Ticker(symbol.upper(), path)
            self._spawn(self._start(ticker))
        ticker.used = time.monotonic()
        return ticker

    async def _start(self, ticker: _Ticker) -> None:
        if await self._hub.subscribe(ticker, [ticker.stream]) is None:
            ticker.live = self._hub.live(ticker.stream)

    def _sweep(self) -> None:
        now = time.monotonic()
        for key, ticker in list(self._tickers.items()):
            if now - ticker.used > self._idle:
                del self._tickers[key]
                ticker.close(1000, "idle")
                self._spawn(self._hub.unsubscribe(ticker, list(ticker.streams)))
        self._info = {q: v for q, v in self._info.items() if now - v[0] < self._ttl}

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _upstream_down(self) -> None:
        for ticker in self._tickers.values():
            ticker.down()

    def _upstream_up(self) -> None:
        for ticker in self._tickers.values():
            ticker.live = not ticker.closed and self._hub.live(ticker.stream)

    async def close(self) -> None:
        await reap(*self._tasks)


_SERVER_TIME = b'"serverTime":'


def _aged(body: bytes, age_s: float) -> bytes:
    """A kept exchangeInfo answer with its `serverTime` moved on by the time it was kept: a bot
    that sets its clock from it (rest-api.md §Exchange information: the server's time now)
    would else be up to the TTL behind, and its signed requests -1021. The field is near the
    start of the body; an answer without it (or unreadable there) is given as it is."""
    start = body.find(_SERVER_TIME, 0, 256)
    if start < 0:
        return body
    digits = start + len(_SERVER_TIME)
    end = digits
    while end < len(body) and 48 <= body[end] <= 57:
        end += 1
    if end == digits:
        return body
    now = int(body[digits:end]) + int(age_s * 1000)
    return b"%s%d%s" % (body[:digits], now, body[end:])
