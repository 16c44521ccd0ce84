"""Market data streams fan-out: many bot sockets, one supervised upstream socket.

Bots connect to the gateway as to Binance (web-socket-streams.md): `/ws/<stream>[/<stream>...]`
and `/ws` (raw payloads), `/stream?streams=a/b` (combined `{"stream", "data"}`), and send
SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY ("combined") at any
time. Every stream a bot wants is subscribed once on a shared upstream combined socket kept by
`WsSupervisor` (transport/ws.py: reconnect forever, 24-hour rotation, `serverShutdown`, silence
watchdog) and unsubscribed when no bot wants it any more. A stream the upstream refuses is
refused to the bot with the upstream's own error.

Depth streams never carry a silent gap. A diff depth stream (`<symbol>@depth`,
`<symbol>@depth@100ms`) is checked on every event: each event's first update id `U` must follow
the previous event's last `u` (web-socket-streams.md, "How to manage a local order book
correctly"). After a gap — an event missing upstream, or the upstream socket lost and replaced —
the gateway does NOT re-base the bot's book: it closes that bot's socket (code 1011, reason
"upstream gap on <stream>: resync your book"), so the bot's own resync runs (reconnect, fetch a
snapshot, buffer, apply) exactly as after a disconnect from Binance. Other streams (trades,
tickers) go on across an upstream reconnect. During a ban the gateway's budget knows of, no
upstream socket is opened (a handshake reaches the banned IP too): a lost one is replaced once
the ban ends (transport/ws.py asks the gate before each attempt). A bot too slow to take its
messages (more than `QUEUE_LIMIT` waiting) is closed too (1008), never silently skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from binguard._aio import reap
from binguard.policy.gate import RateGate
from binguard.transport.ws import Frame, WsLink, WsOptions, WsSupervisor

from .metrics import Metrics

log = logging.getLogger("binguard.gateway")
QUEUE_LIMIT = 10_000
GAP, SLOW = 1011, 1008
_CONTROL = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


def is_diff_depth(stream: str) -> bool:
    return stream.endswith("@depth") or "@depth@" in stream


class Subscriber(Protocol):
    """What the hub delivers to: a bot's socket, or one of the gateway's own caches."""

    combined: bool
    closed: bool
    streams: dict[str, None]

    def deliver(self, text: str) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class BotStream:
    """One bot's stream socket: its streams, its form (raw/combined), its outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse, combined: bool) -> None:
        self.ws = ws
        self.combined = combined
        self.streams: dict[str, None] = {}
        self.closed = False
        self._queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_LIMIT)
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Future[Any] | None = None

    def start(self) -> None:
        """The socket is prepared: start writing (what was queued meanwhile goes first)."""
        self._writer = asyncio.create_task(self._write(), name="gateway-bot-stream")

    def deliver(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.close(SLOW, "binguard gateway: too slow to read, messages would be lost")

    def close(self, code: int, reason: str) -> None:
        """Close now: what is still queued is dropped with the socket (the bot resyncs)."""
        if not self.closed:
            self.closed = True
            if self._writer is not None:
                self._writer.cancel()
            self._closing = asyncio.ensure_future(
                self.ws.close(code=code, message=reason.encode()[:120])
            )

    async def _write(self) -> None:
        while True:
            await self.ws.send_str(await self._queue.get())

    async def finish(self) -> None:
        self.closed = True
        await reap(self._writer)
        if self._closing is not None:
            await reap(self._closing, cancel=False)


class StreamHub:
    """The shared upstream socket and who wants which stream (module docstring)."""

    def __init__(
        self,
        base_url: str,
        metrics: Metrics,
        options: WsOptions | None = None,
        *,
        gate: RateGate | None = None,
        micros: bool = False,
    ) -> None:
        """`micros`: the upstream socket asks for microsecond times (`timeUnit=MICROSECOND`,
        web-socket-streams.md), for the bots that ask for them (app.py keeps one hub per unit:
        a shared socket has one unit)."""
        self._url = base_url.rstrip("/") + "/stream" + ("?timeUnit=MICROSECOND" if micros else "")
        self._metrics = metrics
        self._options = options or WsOptions()
        self._gate = gate  # no upstream socket is opened during a ban it knows of
        self._wanted: dict[str, set[Subscriber]] = {}
        self._upstream: set[str] = set()
        self._last_u: dict[str, int] = {}
        self._sup: WsSupervisor | None = None
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self.bots: set[BotStream] = set()
        self.down_listeners: list[Callable[[], None]] = []  # told when the upstream socket drops
        self.up_listeners: list[Callable[[], None]] = []  # and when a new one is up again

    def use_session(self, session: aiohttp.ClientSession) -> None:
        """The gateway's upstream session (its proxy applies to the stream socket too)."""
        self._session = session

    @property
    def reconnects(self) -> int:
        return self._sup.stats.reconnects if self._sup is not None else 0

    @property
    def upstream_connected(self) -> bool:
        return self._sup is not None and self._sup.connected

    def live(self, name: str) -> bool:
        """Subscribed on a live upstream socket (a new socket resubscribes before it is up)."""
        return name in self._upstream and self.upstream_connected

    async def wait_live(self, names: list[str], within: float | None = None) -> None:
        """Wait until every name is live (TimeoutError after `within` seconds)."""

        async def all_live() -> None:
            while not all(self.live(n) for n in names):
                if self._sup is not None and not self._sup.connected:
                    await self._sup.wait_connected()
                else:
                    async with self._lock:  # a subscription on its way ends first
                        pass
                    if not all(n in self._upstream for n in names):
                        raise ValueError(f"not subscribed: {names}")

        await asyncio.wait_for(all_live(), within)

    async def subscribe(self, bot: Subscriber, names: list[str]) -> dict[str, Any] | None:
        """Add `names` for `bot`; the upstream's error (a dict) if it refused them."""
        async with self._lock:
            fresh = [n for n in dict.fromkeys(names) if n not in self._upstream]
            if fresh:
                error = await self._upstream_call("SUBSCRIBE", fresh)
                if error is not None:
                    return error
                self._upstream.update(fresh)
            for n in names:
                self._wanted.setdefault(n, set()).add(bot)
                bot.streams[n] = None
        return None

    async def unsubscribe(self, bot: Subscriber, names: list[str]) -> None:
        async with self._lock:
            unused = []
            for n in names:
                bot.streams.pop(n, None)
                holders = self._wanted.get(n)
                if holders is not None:
                    holders.discard(bot)
                    if not holders:
                        del self._wanted[n]
                        unused.append(n)
            if unused and self.upstream_connected:
                self._upstream.difference_update(unused)
                for n in unused:
                    self._last_u.pop(n, None)
                await self._upstream_call("UNSUBSCRIBE", unused)

    async def _upstream_call(self, method: str, names: list[str]) -> dict[str, Any] | None:
        sup = self._ensure()
        try:
            await sup.wait_connected(self._options.open_timeout)
            reply = await sup.request({"method": method, "params": names})
        except (TimeoutError, Exception) as e:  # noqa: BLE001 - told to the bot, typed
            return {
                "code": 2,
                "msg": f"binguard gateway: upstream unavailable ({type(e).__name__})",
            }
        error = reply.get("error")
        return error if isinstance(error, dict) else None

    def _ensure(self) -> WsSupervisor:
        if self._sup is None:
            self._sup = WsSupervisor(
                self._url,
                name="gateway-streams",
                on_message=self._on_message,
                on_open=self._on_open,
                on_down=self._on_down,
                on_up=self._on_up,
                options=self._options,
                session=self._session,
                gate=self._gate,
            )
            self._sup.start()
        return self._sup

    async def _on_open(self, link: WsLink) -> None:
        """A new upstream socket (first, reconnect or rotation): subscribe everything wanted."""
        wanted = sorted(self._upstream)
        for i in range(0, len(wanted), 200):
            await link.request({"method": "SUBSCRIBE", "params": wanted[i : i + 200]})

    def _on_up(self, reconnected: bool) -> None:
        for listener in self.up_listeners:
            listener()

    def _on_down(self, reason: str) -> None:
        """Upstream lost: events were missed, every diff depth bot must resync."""
        log.info("gateway streams: upstream down (%s)", reason)
        for listener in self.down_listeners:
            listener()
        for stream in [s for s in self._wanted if is_diff_depth(s)]:
            self._gap(stream)
        self._last_u.clear()

    def _on_message(self, frame: Frame) -> None:
        stream, data = frame.get("stream"), frame.get("data")
        if not isinstance(stream, str) or data is None:
            return
        holders = self._wanted.get(stream)
        if not holders:
            return
        if is_diff_depth(stream) and isinstance(data, dict) and not self._follows(stream, data):
            self._gap(stream)
            return
        raw = orjson.dumps(data).decode()
        combined: str | None = None
        for bot in list(holders):
            if bot.combined:
                combined = combined or orjson.dumps({"stream": stream, "data": data}).decode()
                bot.deliver(combined)
            else:
                bot.deliver(raw)

    def _follows(self, stream: str, data: dict[str, Any]) -> bool:
        first, last = data.get("U"), data.get("u")
        if not isinstance(first, int) or not isinstance(last, int):
            return True
        previous = self._last_u.get(stream)
        self._last_u[stream] = last
        return previous is None or first == previous + 1

    def _gap(self, stream: str) -> None:
        self._metrics.local.labels("stream_gap").inc()
        for bot in list(self._wanted.get(stream, ())):
            bot.close(GAP, f"upstream gap on {stream}: resync your book")
        self._last_u.pop(stream, None)

    async def close(self) -> None:
        for bot in list(self.bots):
            bot.close(1001, "binguard gateway: shutting down")
        if self._sup is not None:
            await self._sup.close()
            self._sup = None


def _names(path: str, query: str) -> list[str]:
    """The streams a URL names. A segment without '@' names no stream (ccxt.pro connects to
    `/ws/<n>` and SUBSCRIBEs afterwards, which Binance accepts): it is passed over."""
    if path == "/stream":
        raw = parse_qs(query).get("streams", [""])[0]
    else:
        raw = path[len("/ws/") :] if path.startswith("/ws/") else ""
    return [n for n in raw.split("/") if "@" in n]


async def serve_bot(
    hub: StreamHub, request: web.Request, path: str, query: str
) -> web.StreamResponse:
    """One bot stream socket, from the upgrade to its close. The streams named in the URL are
    live upstream before the handshake completes (a bot may act on the book right after it), and
    a stream the upstream refuses is answered as Binance does: HTTP 400, no socket."""
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=65536)
    bot = BotStream(ws, combined=path == "/stream")
    hub.bots.add(bot)
    try:
        names = _names(path, query)
        if names:
            error = await hub.subscribe(bot, names)
            if error is not None:
                return web.Response(
                    status=400, body=orjson.dumps(error), content_type="application/json"
                )
        await ws.prepare(request)
        bot.start()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and not bot.closed:
                bot.deliver(orjson.dumps(await _control(hub, bot, msg.data)).decode())
    finally:
        hub.bots.discard(bot)
        await hub.unsubscribe(bot, list(bot.streams))
        await bot.finish()
    return ws


async def _control(hub: StreamHub, bot: BotStream, text: str) -> dict[str, Any]:
    """A bot's control message, answered as Binance answers it (web-socket-streams.md §Live
    subscribing/unsubscribing): {"result": ..., "id": ...} or {"error": {...}, "id": ...}."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {"error": {"code": 3, "msg": "Invalid JSON"}, "id": None}
    if not isinstance(msg, dict) or msg.get("method") not in _CONTROL:
        rid = msg.get("id") if isinstance(msg, dict) else None
        return {"error": {"code": 2, "msg": "Invalid request: unknown method"}, "id": rid}
    method, rid = msg["method"], msg.get("id")
    given = msg.get("params")
    params: list[Any] = given if isinstance(given, list) else []
    names = [p for p in params if isinstance(p, str)]
    if method == "SUBSCRIBE":
        error = await hub.subscribe(bot, names)
        return {"result": None, "id": rid} if error is None else {"error": error, "id": rid}
    if method == "UNSUBSCRIBE":
        await hub.unsubscribe(bot, names)
        return {"result": None, "id": rid}
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": list(bot.streams), "id": rid}
    if not names or names[0] != "combined":
        return {"error": {"code": 0, "msg": "Unknown property"}, "id": rid}
    if method == "GET_PROPERTY":
        return {"result": bot.combined, "id": rid}
    if len(params) < 2 or not isinstance(params[1], bool):
        return {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": rid}
    bot.combined = params[1]
    return {"result": None, "id": rid}
