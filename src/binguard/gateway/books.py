"""`GET /api/v3/depth` from a strict local order book kept from the diff depth stream.

The book is binguard's own (connector/book.py: Binance's documented procedure, never served
while inconsistent); here it is fed by the gateway's shared stream socket (streams.py) and takes
its snapshots through the gateway's own forwarder, so they pass the budget and the ban breaker
like any bot request. The first depth request for a symbol starts its book and goes upstream;
once the book is LIVE, requests its snapshot covers are answered from it with its
`lastUpdateId`, prices rendered as Binance renders them (8 decimals) and quantities as received.
A gap or a lost socket makes the book resync: meanwhile requests go upstream. A book nobody asked
for in `idle_s` is closed.

The snapshot is the smallest of Binance's depth tiers that holds `DEEPER` times the largest
`limit` asked for (rest-api.md §Order book: limit 1-100 weighs 5, 101-500 25, 501-1000 50), so
bots polling 5 or 20 levels cost 5 weight per snapshot instead of 50; the margin keeps the asked
levels inside what the snapshot covered while the price moves (the book never serves past that
price: connector/book.py `bound`). A larger `limit` goes upstream and moves the book to the tier
that holds it (a new snapshot); at 1000 levels every `limit` up to 1000 is served, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from aiohttp import web
from multidict import CIMultiDict

from binguard._aio import reap
from binguard.connector.book import OrderBook
from binguard.errors import HttpReply, classify

from .forward import Forwarder
from .metrics import NOT_HELD, NOT_READY, Metrics
from .streams import StreamHub

DEPTH = "/api/v3/depth"
BOOK_LIMIT = 1000  # the deepest snapshot taken (weight 50, rest-api.md §Order book)
TIERS = (100, 500, BOOK_LIMIT)  # snapshot depths at weights 5, 25, 50
DEEPER = 5  # a snapshot holds at least DEEPER x the asked limit (but the deepest tier)
_DEFAULT_LIMIT = 100  # rest-api.md: limit defaults to 100


class _Feed:
    """The hub's subscriber for one book (duck-typed as a bot socket): events in; a gap or a
    lost socket is told to the book as a lost stream, so it resyncs."""

    combined = False
    closed = False

    def __init__(self, book: OrderBook, stream: str) -> None:
        self.book = book
        self.stream = stream
        self.streams: dict[str, None] = {}

    def deliver(self, text: str) -> None:
        data = orjson.loads(text)
        if isinstance(data, dict) and data.get("e") == "depthUpdate":
            self.book.on_event(self.stream, data)

    def close(self, code: int, reason: str) -> None:
        self.book.on_down(reason)  # stays subscribed: the next events resync it


class _Streams:
    """What OrderBook needs of the connector's MarketStreams, over the gateway's hub."""

    def __init__(self, hub: StreamHub, spawn: Any) -> None:
        self._hub = hub
        self._spawn = spawn
        # by (stream, book): a book replaced by a deeper one leaves while its successor is on
        # the same stream, and must take only its own feed with it
        self._feeds: dict[tuple[str, int], _Feed] = {}
        self._subscribing: dict[str, asyncio.Future[object]] = {}

    def add(self, names: Iterable[str], book: OrderBook) -> list[str]:
        chosen = list(names)
        for name in chosen:
            feed = self._feeds[name, id(book)] = _Feed(book, name)
            self._subscribing[name] = self._spawn(self._hub.subscribe(feed, [name]))
        return chosen

    def remove(self, names: Iterable[str], book: OrderBook) -> None:
        for name in names:
            feed = self._feeds.pop((name, id(book)), None)
            if feed is not None:
                self._spawn(self._hub.unsubscribe(feed, [name]))

    async def wait_synced(self, names: Iterable[str], within: float | None = None) -> None:
        chosen = list(names)
        for name in chosen:
            subscribing = self._subscribing.get(name)
            if subscribing is not None:
                await asyncio.shield(subscribing)
        await self._hub.wait_live(chosen, within)

    def connected(self, name: str) -> bool:
        return self._hub.live(name)


class _Fetch:
    """The depth snapshot OrderBook asks for, taken through the gateway's forwarder (and so its
    budget and ban breaker)."""

    def __init__(self, forwarder: Forwarder) -> None:
        self._fwd = forwarder

    async def snapshot(self, symbol: str, limit: int) -> dict[str, Any]:
        query = urlencode({"symbol": symbol, "limit": limit})
        call = self._fwd.call("GET", DEPTH, query, b"", CIMultiDict())
        answer = await self._fwd.forward(call)
        body = answer.body if isinstance(answer, web.Response) else b""
        assert isinstance(body, bytes)
        if answer.status != 200:
            raise classify(HttpReply(answer.status, dict(answer.headers), body)) or RuntimeError(
                f"depth snapshot failed with HTTP {answer.status}"
            )
        data: dict[str, Any] = orjson.loads(body)
        return data


def tier_for(limit: int) -> int:
    """The smallest snapshot tier holding DEEPER x `limit` levels (the deepest one at most)."""
    return next((t for t in TIERS if t >= limit * DEEPER), BOOK_LIMIT)


def _no_events(*_args: Any, **_kw: Any) -> None:
    """OrderBook's events (gaps, resyncs) are counted in its stats, shown in /status."""


class Books:
    """The gateway's order books by symbol; `answer()` before forwarding a depth request."""

    def __init__(
        self, hub: StreamHub, forwarder: Forwarder, idle_s: float, metrics: Metrics
    ) -> None:
        self._metrics = metrics
        self._tasks: set[asyncio.Future[object]] = set()
        self._streams = _Streams(hub, self._spawn)
        self._fetch = _Fetch(forwarder)
        self._idle = idle_s
        self._books: dict[str, tuple[OrderBook, list[float]]] = {}
        self._rendered: dict[tuple[str, int, int], bytes] = {}

    def answer(self, method: str, path: str, query: str) -> web.Response | None:
        if method != "GET" or path != DEPTH:
            return None
        params = dict(parse_qsl(query))
        symbol = params.get("symbol", "")
        limit_text = params.get("limit", str(_DEFAULT_LIMIT))
        shaped = not (set(params) - {"symbol", "limit"}) and symbol.isalnum()
        if not (shaped and limit_text.isdigit() and 1 <= int(limit_text) <= BOOK_LIMIT):
            self._metrics.miss(DEPTH, NOT_HELD)
            return None
        limit = int(limit_text)
        book = self._book(symbol.upper(), limit)  # a deeper one when `limit` needs it
        if not book.ready:
            self._metrics.miss(DEPTH, NOT_READY)
            self._sweep()
            return None
        self._metrics.hit(DEPTH)
        memo_key = (symbol.upper(), limit, book.last_update_id)
        body = self._rendered.get(memo_key)
        if body is None:  # rendered once per book update and limit (polling bots repeat)
            view = book.view(limit)
            body = orjson.dumps(
                {
                    "lastUpdateId": view.last_update_id,
                    "bids": [[f"{p:.8f}", str(q)] for p, q in view.bids],
                    "asks": [[f"{p:.8f}", str(q)] for p, q in view.asks],
                }
            )
            if len(self._rendered) > 64:
                self._rendered.clear()
            self._rendered[memo_key] = body
        return web.Response(
            body=body, headers={"X-Binguard-Gateway": "cache", "Content-Type": "application/json"}
        )

    def summary(self) -> dict[str, dict[str, object]]:
        """For /status: each book's state, its snapshot depth (`limit`: the tier), and how often
        it took a snapshot or saw a gap."""
        return {
            symbol: {
                "state": book.state.value,
                "limit": book.limit,
                "last_update_id": book.last_update_id,
                "snapshots": book.stats.resyncs,
                "gaps": book.stats.gaps,
            }
            for symbol, (book, _) in self._books.items()
        }

    def _book(self, symbol: str, limit: int) -> OrderBook:
        """The symbol's book, (re)made at the tier `limit` needs when it is shallower."""
        kept = self._books.get(symbol)
        tier = tier_for(limit)
        if kept is not None and kept[0].limit < tier:
            del self._books[symbol]
            self._spawn(kept[0].close())
            kept = None
        if kept is None:
            book = OrderBook(
                self._streams,  # type: ignore[arg-type]  # the hub-backed part of MarketStreams
                self._fetch.snapshot,
                _no_events,
                symbol,
                limit=tier,
            )
            book.start()
            kept = self._books[symbol] = (book, [time.monotonic()])
        kept[1][0] = time.monotonic()
        return kept[0]

    def _sweep(self) -> None:
        now = time.monotonic()
        for symbol, (book, used) in list(self._books.items()):
            if now - used[0] > self._idle:
                del self._books[symbol]
                self._spawn(book.close())

    def _spawn(self, work: Coroutine[Any, Any, object]) -> asyncio.Future[object]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for book, _ in self._books.values():
            self._spawn(book.close())
        self._books.clear()
        await reap(*self._tasks, cancel=False)
        await reap(*self._tasks)
