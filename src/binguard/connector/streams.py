"""Market data streams: one API for every stream of web-socket-streams.md, sharded over sockets.

    async with bn.stream("btcusdt@kline_1m", "btcusdt@aggTrade") as sub:
        async for event in sub:          # StreamEvent(stream=..., data={...}, value=Candle(...))
            ...
        await sub.add("ethusdt@trade")   # dynamic, on the same sockets
        await sub.remove("btcusdt@bookTicker")

Every socket is a combined stream (`/stream`, events arrive as `{"stream", "data"}`) under a
`WsSupervisor`, so it reconnects forever, is watched for silence and rotated before Binance's
24-hour close. A socket carries at most `max_streams` streams (Binance allows 1024); more open
another socket. The streams a socket should carry are the truth: a new socket gets them in its URL
(no control message needed) and the rest by `SUBSCRIBE`; a live one is brought in line by a worker
that sends `SUBSCRIBE` / `UNSUBSCRIBE` under the 5 messages per second rule. Several readers of one
stream share it; the stream is unsubscribed when the last one leaves.

Each event carries Binance's payload (`data`) and, for the kinds that have one, its typed form
(`value`, market.py `decoder_for`: `kline_<i>` → Candle with `closed`, `aggTrade` → AggTrade,
`trade` → PublicTrade, `miniTicker` / `ticker` / `ticker_<w>` → Ticker, `!…@arr` → a tuple of
Tickers, `avgPrice` → AvgPrice, `bookTicker` → BookTicker; depth: None). A payload that does
not have its documented shape is not delivered: it is counted (`Subscription.malformed`) and
told as a `stream_malformed` event.

Readers get events through a bounded queue; a reader that falls behind loses its oldest events
(counted in `Subscription.dropped`), never the socket. Internal consumers (the order book) register
a `StreamListener` and are called in the socket's task, with `on_down` / `on_up` around gaps.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable
from types import TracebackType
from typing import Any, NamedTuple, Protocol

import aiohttp

from binguard._aio import reap
from binguard.errors import BinanceError
from binguard.policy.gate import RateGate
from binguard.transport.ws import Emit, Frame, WsLink, WsOptions, WsSupervisor
from binguard.transport.ws_limits import ConnectLimiter

from .dropqueue import DropOldest
from .market import Decoder, decoder_for
from .models import ResponseFormatError

log = logging.getLogger("binguard.connector.streams")

# `<symbol>@<kind>` (kinds like `kline_1m@+08:00`, `depth@100ms`) or an all-market `!<kind>@arr`
_NAME = re.compile(r"(?:[a-z0-9]{2,40}@[A-Za-z0-9_@.:+]{1,60}|![A-Za-z0-9_]{1,40}@arr)\Z")
MAX_URL_STREAMS_CHARS = 2000  # longer stream lists go by SUBSCRIBE (URL length limits)
SUBSCRIBE_BATCH = 200  # streams per SUBSCRIBE message


def stream_name(name: str) -> str:
    """`BTCUSDT@trade` → `btcusdt@trade` (symbols are lowercase; kinds keep their case, and so
    do all-market names such as `!miniTicker@arr`)."""
    symbol, sep, kind = name.strip().partition("@")
    out = f"{symbol if symbol.startswith('!') else symbol.lower()}{sep}{kind}"
    if _NAME.match(out) is None:
        raise ValueError(f"not a Binance stream name: {name!r} (e.g. btcusdt@trade)")
    return out


class StreamEvent(NamedTuple):
    """One event of one stream: `data` is Binance's payload as it arrived (an object, or a list
    for the `!…@arr` streams); `value` its typed form, or None for kinds without one (depth).
    (A NamedTuple: built once per event on every stream's hot path, bench/bench_candles.py.)"""

    stream: str
    data: Any
    value: Any = None


_new_event = tuple.__new__


class StreamListener(Protocol):
    """An internal consumer of streams, called synchronously in the socket's task."""

    def on_event(self, stream: str, data: dict[str, Any]) -> None: ...

    def on_down(self, reason: str) -> None: ...

    def on_up(self, reconnected: bool) -> None: ...


class _Shard:
    """One supervised socket and the streams it must carry."""

    def __init__(self, owner: MarketStreams, index: int) -> None:
        self.owner = owner
        self.index = index
        self.streams: dict[str, None] = {}
        self.url_streams: tuple[str, ...] = ()
        self.kick = asyncio.Event()
        self.synced = asyncio.Event()
        self.sup = WsSupervisor(
            self._url,
            name=f"streams-{index}",
            on_message=owner._dispatch,
            on_open=self._on_open,
            on_down=lambda reason: owner._shard_down(self, reason),
            on_up=lambda again: owner._shard_up(self, again),
            options=owner.options,
            emit=owner.emit,
            limiter=owner.limiter,
            session=owner.session,
            gate=owner.gate,
        )
        self.worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.sup.start()
        if self.worker is None:
            self.worker = asyncio.create_task(self._work(), name=f"streams-{self.index}-sync")

    def _url(self) -> str:
        chosen: list[str] = []
        size = 0
        for name in self.streams:
            size += len(name) + 1
            if size > MAX_URL_STREAMS_CHARS:
                break
            chosen.append(name)
        self.url_streams = tuple(chosen)
        base = f"{self.owner.base_url}/stream"
        # `+` (kline_1m@+08:00) would read as a space in a query string: sent as %2B
        query = "/".join(chosen).replace("+", "%2B")
        return f"{base}?streams={query}" if chosen else base

    async def _on_open(self, link: WsLink) -> None:
        link.context["streams"] = set(self.url_streams)
        await self._sync(link)

    async def _sync(self, link: WsLink) -> None:
        """Bring the socket's subscriptions in line with `streams`."""
        have: set[str] = link.context["streams"]
        while True:
            missing = [s for s in self.streams if s not in have]
            extra = [s for s in have if s not in self.streams]
            if not missing and not extra:
                self.synced.set()
                return
            self.synced.clear()
            if missing:
                batch = missing[:SUBSCRIBE_BATCH]
                reply = await link.request({"method": "SUBSCRIBE", "params": batch})
                if "error" in reply:
                    self.owner._refused(batch, reply["error"])
                    continue
                have.update(batch)
            else:
                batch = extra[:SUBSCRIBE_BATCH]
                reply = await link.request({"method": "UNSUBSCRIBE", "params": batch})
                have.difference_update(batch)

    async def _work(self) -> None:
        """Sync the live socket whenever the wanted streams change."""
        while True:
            await self.kick.wait()
            self.kick.clear()
            link = self.sup.link
            if link is None or "streams" not in link.context:
                continue  # the next socket syncs in on_open
            try:
                await self._sync(link)
            except BinanceError as err:
                # The socket went down mid-way: its successor syncs in on_open.
                log.info("stream sync on %s interrupted: %s", self.sup.name, err)

    async def close(self) -> None:
        try:
            await reap(self.worker)
        finally:
            await self.sup.close()


class MarketStreams:
    """Every market data stream of one connector; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        options: WsOptions | None = None,
        emit: Emit | None = None,
        limiter: ConnectLimiter | None = None,
        max_streams: int = 1024,
        local_addr: str | None = None,
        gate: RateGate | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.options = options or WsOptions()
        self.emit: Emit = emit or (lambda *a, **k: None)
        self.limiter = limiter or ConnectLimiter()
        self.gate = gate  # no socket is opened during a ban it knows of (transport/ws.py)
        self.max_streams = max_streams
        self._local_addr = local_addr
        self.session: aiohttp.ClientSession | None = None
        self._shards: list[_Shard] = []
        self._where: dict[str, _Shard] = {}
        self._listeners: dict[str, list[StreamListener]] = {}
        self.refused: list[tuple[str, str]] = []

    @property
    def shards(self) -> list[WsSupervisor]:
        return [s.sup for s in self._shards]

    @property
    def streams(self) -> list[str]:
        return list(self._where)

    def connected(self, name: str) -> bool:
        shard = self._where.get(name)
        return shard is not None and shard.sup.connected and shard.synced.is_set()

    # -- registration ---------------------------------------------------------------------
    def add(self, names: Iterable[str], listener: StreamListener) -> list[str]:
        """Deliver these streams to `listener` (subscribing them if new); returns the names."""
        chosen = [stream_name(n) for n in names]
        for name in chosen:
            readers = self._listeners.setdefault(name, [])
            readers.append(listener)
            if name not in self._where:
                shard = self._shard_with_room()
                shard.streams[name] = None
                self._where[name] = shard
                shard.synced.clear()
                shard.kick.set()
        return chosen

    def remove(self, names: Iterable[str], listener: StreamListener) -> None:
        """Stop delivering these streams to `listener`; the last reader unsubscribes."""
        for raw in names:
            name = stream_name(raw)
            readers = self._listeners.get(name)
            if not readers or listener not in readers:
                continue
            readers.remove(listener)
            if not readers:
                del self._listeners[name]
                shard = self._where.pop(name)
                shard.streams.pop(name, None)
                shard.kick.set()

    async def wait_synced(self, names: Iterable[str], within: float | None = None) -> None:
        """Wait until every named stream is subscribed on a live socket."""

        async def all_synced() -> None:
            for raw in names:
                shard = self._where.get(stream_name(raw))
                if shard is None:
                    raise ValueError(f"stream {raw!r} is not subscribed")
                while not (shard.sup.connected and shard.synced.is_set()):
                    await shard.sup.wait_connected()
                    await shard.synced.wait()

        await asyncio.wait_for(all_synced(), within)

    def _shard_with_room(self) -> _Shard:
        for shard in self._shards:
            if len(shard.streams) < self.max_streams:
                return shard
        if self.session is None:
            connector = aiohttp.TCPConnector(
                local_addr=(self._local_addr, 0) if self._local_addr else None
            )
            self.session = aiohttp.ClientSession(connector=connector)
        shard = _Shard(self, len(self._shards))
        self._shards.append(shard)
        shard.start()
        return shard

    def _refused(self, names: list[str], error: Any) -> None:
        """The server refused a SUBSCRIBE (invalid name, too many): stop asking for these."""
        msg = error.get("msg") if isinstance(error, dict) else str(error)
        for name in names:
            self.refused.append((name, str(msg)))
            shard = self._where.pop(name, None)
            if shard is not None:
                shard.streams.pop(name, None)
            for listener in self._listeners.pop(name, []):
                listener.on_down(f"subscription refused: {msg}")
        self.emit("stream_refused", streams=names, msg=msg)

    # -- delivery -------------------------------------------------------------------------
    def _dispatch(self, frame: Frame) -> None:
        stream = frame.get("stream")
        data = frame.get("data")
        if stream is None or data is None:
            return
        for listener in self._listeners.get(stream, ()):
            listener.on_event(stream, data)

    def _shard_down(self, shard: _Shard, reason: str) -> None:
        shard.synced.clear()
        for name in list(shard.streams):
            for listener in self._listeners.get(name, ()):
                listener.on_down(reason)

    def _shard_up(self, shard: _Shard, reconnected: bool) -> None:
        link = shard.sup.link
        if link is not None and set(shard.streams) <= link.context.get("streams", set()):
            shard.synced.set()  # subscribed in on_open (or before a rotation's gap signal)
        else:
            shard.kick.set()
        for name in list(shard.streams):
            for listener in self._listeners.get(name, ()):
                listener.on_up(reconnected)

    async def close(self) -> None:
        for shard in self._shards:
            await shard.close()
        self._shards.clear()
        if self.session is not None:
            await self.session.close()
            self.session = None


class Subscription:
    """What `bn.stream(...)` returns: an async iterator of `StreamEvent`s, changeable live.

    Use it as `async with bn.stream(...) as sub: async for event in sub: ...`; leaving the block
    (or breaking out of a bare `async for`) unsubscribes.
    """

    def __init__(self, streams: MarketStreams, names: Iterable[str], maxsize: int = 10_000):
        self._streams = streams
        self._queue: DropOldest[StreamEvent] = DropOldest(maxsize)
        self._put = self._queue.put
        # The next event if one waits; `asyncio.QueueEmpty` otherwise.
        self.get_nowait: Callable[[], StreamEvent] = self._queue.get_nowait
        self.malformed = 0
        self.names: list[str] = []
        self._decoders: dict[str, Decoder | None] = {}
        self._closed = False
        self.names = self._with_decoders(streams.add(names, self))

    def _with_decoders(self, names: list[str]) -> list[str]:
        for name in names:
            self._decoders[name] = decoder_for(name)
        return names

    def __repr__(self) -> str:
        return f"Subscription({self.names!r})"

    # StreamListener
    def on_event(self, stream: str, data: Any) -> None:
        decode = self._decoders.get(stream)
        if decode is None:
            self._put(_new_event(StreamEvent, (stream, data, None)))
            return
        try:
            value = decode(data)
        except (ResponseFormatError, AttributeError, TypeError) as err:
            self.malformed += 1
            self._streams.emit("stream_malformed", stream=stream, error=str(err)[:200])
            return
        # (tuple.__new__ directly, and the queue's bound put: every event of every stream)
        self._put(_new_event(StreamEvent, (stream, data, value)))

    @property
    def dropped(self) -> int:
        """Events lost because the reader fell `maxsize` behind (the oldest go first)."""
        return self._queue.dropped

    def on_down(self, reason: str) -> None:
        return None

    def on_up(self, reconnected: bool) -> None:
        return None

    async def add(self, *names: str, within: float | None = 10.0) -> None:
        """Add streams and wait until they are subscribed on a live socket."""
        added = self._with_decoders(self._streams.add(names, self))
        self.names.extend(added)
        await self._streams.wait_synced(added, within)

    async def remove(self, *names: str) -> None:
        """Stop receiving these streams (events already queued stay)."""
        self._streams.remove(names, self)
        gone = {stream_name(n) for n in names}
        self.names = [n for n in self.names if n not in gone]

    async def wait_subscribed(self, within: float | None = 10.0) -> None:
        await self._streams.wait_synced(self.names, within)

    async def get(self) -> StreamEvent:
        """The next event."""
        return await self._queue.get()

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        try:
            while not self._closed:
                yield await self._queue.get()
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._streams.remove(list(self.names), self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
