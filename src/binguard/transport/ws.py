"""The WebSocket supervisor: one logical connection to Binance that never gives up.

    sup = WsSupervisor(url=lambda: f"{base}/stream?streams=btcusdt@trade", on_message=handle)
    sup.start()
    await sup.wait_connected()
    ...
    await sup.close()        # the only way it stops

Each physical socket is a `WsLink`; the supervisor keeps one live at a time and replaces it:

- lost (reset, close frame, error, silence) → reconnect forever with capped full-jitter backoff
  (policy/backoff.py). The backoff resets once a socket has lived `healthy_after` seconds, so a
  flapping server is not hammered and a healthy one is rejoined within tens of milliseconds. A
  planned close (1000 at Binance's 24-hour mark, 1001 going away) reconnects at once; a 1008 policy
  close escalates like a failure (reconnecting at once would loop, hummingbot #7044).
- silent → no frame at all (data, ping, pong) for `silence_timeout` seconds means a stalled socket
  (python-binance #670): it is dropped and replaced. After `probe_after` seconds of quiet the
  supervisor pings the server itself, so an idle but healthy socket answers with a pong.
- old → before `max_lifetime` (Binance closes at 24 h) or on a `serverShutdown` event, a new socket
  is opened and subscribed *while the old one still delivers* (`rotate`); the new one's messages
  are buffered until the old one has delivered one of them, then the switch happens and buffered
  messages the old one already delivered are dropped (by `key`), so nothing is lost or repeated.
  A request-only socket (a WebSocket API socket for orders: answers, never unsolicited data;
  `request_only`, by default when no `on_message` is given) has no data to overlap: the switch
  happens as soon as the new socket has proven it answers (its `on_open` requests were answered,
  or else a ping got its pong). A replaced socket is closed once the answers still owed on it
  have come (within `request_timeout`), so a rotation never fails a request in flight.

Server pings are answered with their payload (aiohttp's autoping is off so the watchdog sees every
frame; the answer is the same). Requests (`SUBSCRIBE`, WebSocket API methods) carry an id and
their answer is matched by it; outgoing messages stay under Binance's 5 per second per socket
(`ws_limits.MessageWindow`) and connection attempts under 300 per 5 minutes per IP
(`ws_limits.ConnectLimiter`, shared between the sockets of one connector). Every failure to connect
is classified through `binguard.errors.classify` into a typed `BinanceError`; URLs and reasons
carry no secrets (WebSocket URLs hold none, signed params never reach a log or an event).

The layer above (market streams, user data) gives `on_open(link)`, which runs on every new socket
before it counts as up (subscribe, log on), `on_message(frame)` for every data frame, and
`on_down(reason)` / `on_up(reconnected)` around unplanned gaps (a rotation is no gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from binguard._aio import reap
from binguard.errors import (
    BinanceError,
    ConnectFailedError,
    ConnectionDroppedError,
    RequestTimeoutError,
    classify,
)
from binguard.policy.backoff import Backoff
from binguard.policy.gate import RateGate
from binguard.policy.weights import Cost

from .ws_limits import ConnectLimiter, MessageWindow

log = logging.getLogger("binguard.ws")

Frame = dict[str, Any]
KeyFn = Callable[[str, Frame], Hashable]
Emit = Callable[..., None]

# RFC 6455 close codes Binance uses: 1000 at the 24-hour mark, 1001 when a server goes away,
# 1008 for a policy violation (too many messages, pong timeout, ban).
NORMAL, GOING_AWAY, POLICY = 1000, 1001, 1008
_PLANNED_CODES = frozenset({NORMAL, GOING_AWAY})
_ENDED = frozenset({aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED})


def raw_key(raw: str, _frame: Frame) -> Hashable:
    """Identical events have identical text on every socket (market data streams)."""
    return raw


def _nothing(*_args: Any, **_kw: Any) -> None:
    return None


async def _first_of(within: float | None, *futures: asyncio.Future[Any]) -> None:
    """Wait until one of `futures` is done, or `within` seconds pass."""
    pending: set[asyncio.Future[Any]] = set(futures)
    await asyncio.wait(pending, timeout=within, return_when=asyncio.FIRST_COMPLETED)


@dataclass(frozen=True, slots=True, kw_only=True)
class WsOptions:
    """How a supervisor behaves; the defaults suit Binance (tests shrink the times).

    - `silence_timeout`: no frame for this long → the socket is dropped. Binance pings every
      20 s, so 30 s never fires on a healthy socket; `probe_after` (default: half of it) sends
      our own ping on a quiet one.
    - `max_lifetime`: rotate before Binance's 24-hour close; `lifetime_jitter` spreads the
      rotations of sockets opened together.
    - `handover_timeout`: a rotation's new socket must answer within it; `handover_grace`: how
      long the old one may take to catch up with the new one's first message.
    - `max_outgoing_per_s`: Binance's 5 messages per second per stream socket (None: no limit,
      for the WebSocket API, which limits by weight).
    - `connect_weight`: REQUEST_WEIGHT a connection costs (2 for the WebSocket API, 0 for streams).
    """

    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.1, cap=30.0))
    silence_timeout: float = 30.0
    probe_after: float | None = None
    max_lifetime: float = 23 * 3600.0
    lifetime_jitter: float = 0.02
    handover_timeout: float = 10.0
    handover_grace: float = 2.0
    open_timeout: float = 10.0
    close_timeout: float = 1.0
    request_timeout: float = 10.0
    healthy_after: float = 10.0
    max_outgoing_per_s: int | None = 5
    connect_weight: int = 0
    max_msg_size: int = 16 * 1024 * 1024

    @property
    def probe(self) -> float:
        return self.probe_after if self.probe_after is not None else self.silence_timeout / 2


@dataclass(slots=True)
class WsStats:
    """What happened to one supervised connection (a dashboard reads it at any time)."""

    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    rotations: int = 0
    rotation_failures: int = 0
    silences: int = 0
    server_shutdowns: int = 0
    messages: int = 0
    duplicates_dropped: int = 0
    malformed: int = 0
    last_reason: str | None = None
    connected: bool = False


class _Down(Exception):  # noqa: N818 - internal signal: a link ended
    pass


class WsLink:
    """One physical socket: its reader and watchdog tasks, pending requests, handover buffer."""

    def __init__(
        self, sup: WsSupervisor, ws: aiohttp.ClientWebSocketResponse, serial: int, url: str
    ) -> None:
        self.sup = sup
        self.ws = ws
        self.serial = serial
        self.url = url
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.opened = loop.time()
        self.last_frame = self.opened
        self.pending: dict[int, asyncio.Future[Frame]] = {}
        self.done: asyncio.Future[str] = loop.create_future()
        self.planned = False  # the server told us it ends (1000/1001, serverShutdown)
        self.close_code: int | None = None
        self.messages = 0
        self.buffering = False
        self.buffer: deque[tuple[Hashable, Frame]] = deque()
        self.buffer_keys: set[Hashable] = set()
        self.first_data = asyncio.Event()
        self.heard = asyncio.Event()  # the server sent a frame (an answer, a ping, a pong...)
        self.delivering = True
        self.context: dict[str, Any] = {}  # the layer above keeps per-socket state here
        limit = sup.options.max_outgoing_per_s
        # One slot of the server's limit stays free for pongs, which are never delayed.
        self.window = MessageWindow(max(1, limit - 1)) if limit else None
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"WsLink(#{self.serial} {self.url!r})"

    @property
    def alive(self) -> bool:
        return not self.done.done()

    def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name=f"ws-read-{self.serial}")
        self._watchdog = asyncio.create_task(self._watch(), name=f"ws-watch-{self.serial}")

    # -- sending ----------------------------------------------------------------------------
    async def send(self, payload: Frame) -> None:
        """Send one JSON message, within the per-socket message rate."""
        if not self.alive:
            raise ConnectionDroppedError(
                f"WebSocket #{self.serial} is closed: {self.done.result()}"
            )
        if self.window is not None:
            await self.window.acquire()
        try:
            await self.ws.send_str(json.dumps(payload, separators=(",", ":")))
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            # RuntimeError: aiohttp refuses to send on a closing socket.
            self.end(f"send failed: {type(exc).__name__}")
            raise ConnectionDroppedError(f"WebSocket #{self.serial}: send failed") from exc

    async def request(self, payload: Frame, within: float | None = None) -> Frame:
        """Send `payload` with a fresh id and return the answer with that id (raw frame: the
        caller reads `result` / `error` / `status`). Raises ConnectionDroppedError when the socket
        ends first and RequestTimeoutError after `within` seconds."""
        request_id = next(self.sup._ids)
        future: asyncio.Future[Frame] = self._loop.create_future()
        self.pending[request_id] = future
        try:
            await self.send({**payload, "id": request_id})
            wait = self.sup.options.request_timeout if within is None else within
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
                # lands as the inner await completes (CPython gh-86296), so close() could hang.
                async with asyncio.timeout(wait):
                    return await future
            except TimeoutError:
                raise RequestTimeoutError(
                    f"no answer to {payload.get('method')} on WebSocket #{self.serial} in {wait} s"
                ) from None
        finally:
            self.pending.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # the socket ended before the request left: already raised

    async def _pong(self, payload: bytes) -> None:
        if self.window is not None:
            self.window.note()
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            await self.ws.pong(payload)

    # -- receiving --------------------------------------------------------------------------
    async def _read(self) -> None:
        ws, sup, loop, heard = self.ws, self.sup, self._loop, self.heard
        reason = "closed"
        text, ping = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.PING
        try:
            while True:
                msg = await ws.receive()
                self.last_frame = loop.time()
                if not heard.is_set():
                    heard.set()
                kind = msg.type
                if kind is text:
                    sup._on_text(self, msg.data)
                elif kind is ping:
                    await self._pong(msg.data)
                elif kind is aiohttp.WSMsgType.BINARY:
                    sup._on_text(self, msg.data.decode(errors="replace"))
                elif kind in _ENDED:
                    code = ws.close_code
                    self.close_code = code
                    if code in _PLANNED_CODES:
                        self.planned = True
                    reason = f"closed by server (code {code})"
                    break
                elif kind is aiohttp.WSMsgType.ERROR:
                    err = classify(msg.data) if msg.data is not None else None
                    reason = f"error: {type(err).__name__ if err else 'unknown'}"
                    self.close_code = ws.close_code
                    break
        except asyncio.CancelledError:
            reason = self.done.result() if self.done.done() else "cancelled"
            raise
        finally:
            self.end(reason)

    async def _watch(self) -> None:
        """Drop the socket after `silence_timeout` without a frame; ping it after `probe`."""
        opts = self.sup.options
        loop = self._loop
        probed_at = float("-inf")
        while self.alive:
            now = loop.time()
            quiet = now - self.last_frame
            if quiet >= opts.silence_timeout:
                self.sup.stats.silences += 1
                self.abort(f"silent for {quiet:.1f} s")
                return
            if quiet >= opts.probe and probed_at < self.last_frame:
                probed_at = now
                if self.window is not None:
                    await self.window.acquire()  # not urgent: the pong slot stays free
                with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
                    await self.ws.ping(b"binguard")
                wake = opts.silence_timeout - quiet
            else:
                wake = (opts.probe if probed_at < self.last_frame else opts.silence_timeout) - quiet
            await asyncio.sleep(max(0.01, wake))

    # -- ending -----------------------------------------------------------------------------
    def end(self, reason: str) -> None:
        """Mark the socket ended (idempotent): pending requests fail, the supervisor moves on."""
        if self.done.done():
            return
        self.done.set_result(reason)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionDroppedError(f"WebSocket ended: {reason}"))
        self.pending.clear()
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()

    def abort(self, reason: str) -> None:
        """End now, whatever the server does (silence, failed open, supervisor closing)."""
        self.end(reason)
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()

    async def prove(self, within: float) -> bool:
        """True once the server has sent anything on this socket; pings it first if it has not
        yet (an answered `on_open` request already counts). False if it ended or stayed mute."""
        if not self.heard.is_set() and self.alive:
            if self.window is not None:
                await self.window.acquire()
            with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
                await self.ws.ping(b"binguard")
            heard = asyncio.ensure_future(self.heard.wait())
            try:
                await _first_of(within, heard, self.done)
            finally:
                heard.cancel()
        return self.alive and self.heard.is_set()

    async def drain(self, within: float) -> None:
        """Wait (at most `within` seconds) for the answers still owed on this socket."""
        until = self._loop.time() + within
        while self.alive and (owed := [f for f in self.pending.values() if not f.done()]):
            left = until - self._loop.time()
            if left <= 0:
                return
            await _first_of(left, *owed, self.done)

    async def finish(self) -> None:
        """Close the socket (bounded by `close_timeout`) and reap the tasks."""
        self.abort(self.done.result() if self.done.done() else "closed by client")
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
            async with asyncio.timeout(self.sup.options.close_timeout + 0.5):
                await self.ws.close()
        # Both are cancelled: a watchdog left to wake on its own timer kept close() (and a test's
        # teardown) waiting.
        await reap(self._reader, self._watchdog)


@dataclass(slots=True)
class _Handover:
    old: WsLink
    new: WsLink | None = None
    seen: set[Hashable] = field(default_factory=set)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)


class WsSupervisor:
    """One supervised WebSocket; see the module docstring."""

    def __init__(
        self,
        url: str | Callable[[], str],
        *,
        name: str = "ws",
        on_message: Callable[[Frame], None] = _nothing,
        on_open: Callable[[WsLink], Awaitable[None]] | None = None,
        on_down: Callable[[str], None] = _nothing,
        on_up: Callable[[bool], None] = _nothing,
        key: KeyFn = raw_key,
        options: WsOptions | None = None,
        emit: Emit = _nothing,
        limiter: ConnectLimiter | None = None,
        gate: RateGate | None = None,
        on_error: Callable[[BinanceError], Awaitable[None]] | None = None,
        session: aiohttp.ClientSession | None = None,
        local_addr: str | None = None,
        request_only: bool | None = None,
    ) -> None:
        """`request_only`: the socket carries answers to requests, never unsolicited data, so
        a rotation switches once the new socket answers (default: True when no `on_message`
        is given)."""
        self._url = url if callable(url) else (lambda: url)
        self.request_only = on_message is _nothing if request_only is None else request_only
        self.name = name
        self.options = options or WsOptions()
        self._on_message = on_message
        self._on_open = on_open
        self._on_down = on_down
        self._on_up = on_up
        self._key = key
        self._emit = emit
        self._limiter = limiter or ConnectLimiter()
        self._gate = gate
        self._on_error = on_error
        self._session = session
        self._own_session = session is None
        self._local_addr = local_addr
        self.stats = WsStats()
        self._ids = itertools.count(1)
        self._serials = itertools.count(1)
        self._current: WsLink | None = None
        self._handover: _Handover | None = None
        self._seen_after_switch: set[Hashable] = set()
        self._seen_until = 0.0
        self._up = asyncio.Event()
        self._rotate_now = asyncio.Event()
        self._closing = False
        self._main: asyncio.Task[None] | None = None
        self._reaping: set[asyncio.Task[None]] = set()
        self._links: set[WsLink] = set()

    def __repr__(self) -> str:
        return f"WsSupervisor({self.name!r}, connected={self.connected})"

    # -- public -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        link = self._current
        return link is not None and link.alive

    @property
    def link(self) -> WsLink | None:
        """The live socket, if any."""
        return self._current if self.connected else None

    def start(self) -> None:
        """Start supervising (idempotent); returns at once, see `wait_connected`."""
        if self._main is None:
            if self._session is None:
                connector = aiohttp.TCPConnector(
                    local_addr=(self._local_addr, 0) if self._local_addr else None
                )
                self._session = aiohttp.ClientSession(connector=connector)
            self._main = asyncio.create_task(self._run(), name=f"ws-{self.name}")

    async def wait_connected(self, within: float | None = None) -> None:
        """Wait until a socket is up (raises TimeoutError after `within` seconds)."""
        self._raise_if_failed()
        waiter = asyncio.ensure_future(self._up.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if self._main is not None:
            tasks.add(self._main)
        try:
            await asyncio.wait(tasks, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        self._raise_if_failed()
        if not self._up.is_set():
            raise TimeoutError(f"WebSocket {self.name} not connected within {within} s")

    async def request(self, payload: Frame, within: float | None = None) -> Frame:
        """A request on the live socket (waits up to `within` seconds for one to be up)."""
        wait = self.options.request_timeout if within is None else within
        try:
            await self.wait_connected(wait)
        except TimeoutError:
            raise ConnectionDroppedError(f"WebSocket {self.name} is down") from None
        link = self._current
        assert link is not None
        return await link.request(payload, wait)

    def rotate(self) -> None:
        """Replace the socket now, with overlap (as before the 24-hour mark)."""
        self._rotate_now.set()

    def drop(self, reason: str = "dropped by client") -> None:
        """Abort the live socket as if the network failed (tests, operators); it reconnects."""
        if self._current is not None:
            self._current.abort(reason)

    async def close(self) -> None:
        """Stop for good: close every socket and the session."""
        self._closing = True
        await reap(self._main)
        for link in list(self._links):
            await link.finish()
        # Sockets being closed in the background (replaced, lost): their close is awaited, not
        # cancelled, so each still says goodbye to the server within `close_timeout`.
        await reap(*self._reaping, cancel=False)
        self._up.clear()
        self.stats.connected = False
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _raise_if_failed(self) -> None:
        main = self._main
        if main is not None and main.done() and not main.cancelled():
            exc = main.exception()
            if exc is not None:
                raise exc

    # -- frames -----------------------------------------------------------------------------
    def _on_text(self, link: WsLink, raw: str) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self.stats.malformed += 1
            return
        if type(frame) is not dict:
            self.stats.malformed += 1
            return
        if "id" in frame and ("result" in frame or "error" in frame or "status" in frame):
            future = link.pending.get(frame["id"])
            if future is not None and not future.done():
                future.set_result(frame)
            return
        kind = frame.get("e")
        if kind is None:
            inner = frame.get("event")
            if type(inner) is dict:
                kind = inner.get("e")
        if kind == "serverShutdown":
            self.stats.server_shutdowns += 1
            link.planned = True
            self._emit("ws_server_shutdown", name=self.name, serial=link.serial)
            if link is self._current:
                self._rotate_now.set()
            return
        link.messages += 1
        if link.buffering:
            key = self._key(raw, frame)
            link.buffer.append((key, frame))
            link.buffer_keys.add(key)
            link.first_data.set()
            return
        if not link.delivering:
            return
        handover = self._handover
        if handover is not None and link is handover.old:
            key = self._key(raw, frame)
            handover.seen.add(key)
            if handover.new is not None and key in handover.new.buffer_keys:
                handover.caught_up.set()
        elif self._seen_after_switch:
            if link._loop.time() > self._seen_until:
                self._seen_after_switch = set()
            elif self._key(raw, frame) in self._seen_after_switch:
                self.stats.duplicates_dropped += 1
                return
        self.stats.messages += 1
        link.first_data.set()
        self._on_message(frame)

    # -- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        opts = self.options
        attempt = 0
        down_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self._closing:
            try:
                link = await self._connect(buffering=False)
            except BinanceError as err:
                await self._connect_failed(err, attempt)
                attempt += 1
                continue
            self._current = link
            self._up.set()
            self.stats.connected = True
            self.stats.connects += 1
            self._emit("ws_connect", name=self.name, serial=link.serial)
            if down_since is not None:
                self.stats.reconnects += 1
                downtime_ms = round((loop.time() - down_since) * 1000, 1)
                self._emit("ws_reconnect", name=self.name, downtime_ms=downtime_ms, attempt=attempt)
                self._on_up(True)
            else:
                self._on_up(False)
            await self._serve()
            link = self._current
            reason = link.done.result()
            self._up.clear()
            self.stats.connected = False
            self.stats.disconnects += 1
            self.stats.last_reason = reason
            down_since = loop.time()
            self._emit(
                "ws_disconnect",
                name=self.name,
                reason=reason,
                code=link.close_code,
                planned=link.planned,
            )
            self._on_down(reason)
            self._reap(link)
            if self._closing:
                return
            lived = loop.time() - link.opened
            settled = min(1.0, opts.healthy_after)
            if link.close_code == POLICY:
                pass  # our fault (rate, pong): escalate, never reconnect in a tight loop
            elif link.planned and lived >= settled:
                attempt = 0
                continue  # the server said so (24 h mark, shutdown): reconnect at once
            elif lived >= opts.healthy_after or (link.messages and lived >= settled):
                attempt = 0
            await asyncio.sleep(opts.backoff.delay(attempt))
            attempt += 1

    async def _connect_failed(self, err: BinanceError, attempt: int) -> None:
        """A failed connection attempt: counted, told, and waited out (backoff, or the
        error's Retry-After when longer)."""
        self.stats.connect_failures += 1
        self._emit(
            "ws_connect_failed",
            name=self.name,
            error=type(err).__name__,
            code=err.code,
            http_status=err.http_status,
            attempt=attempt,
        )
        delay = self.options.backoff.delay(attempt)
        if err.retry_after is not None:
            delay = max(delay, err.retry_after)
        await asyncio.sleep(delay)

    async def _serve(self) -> None:
        """Hold the live socket, rotating it when due, until one is lost."""
        opts = self.options
        loop = asyncio.get_running_loop()
        retry_rotation_at: float | None = None
        failures = 0
        while True:
            link = self._current
            assert link is not None
            if link.done.done():
                return
            jitter = 1.0 - opts.lifetime_jitter * opts.backoff.random()
            due = retry_rotation_at or link.opened + opts.max_lifetime * jitter
            waiter = asyncio.ensure_future(self._rotate_now.wait())
            try:
                await _first_of(max(0.0, due - loop.time()), link.done, waiter)
            finally:
                waiter.cancel()
            if link.done.done():
                return
            self._rotate_now.clear()
            if await self._rotate(link):
                retry_rotation_at = None
                failures = 0
            else:
                self.stats.rotation_failures += 1
                retry_rotation_at = loop.time() + opts.backoff.delay(failures) + 0.05
                failures += 1

    async def _rotate(self, old: WsLink) -> bool:
        """Open a new socket next to `old`, switch once it is proven; False if it failed."""
        opts = self.options
        self.stats.rotations += 1
        self._emit("ws_rotate", name=self.name, serial=old.serial)
        # From now on, remember what the old socket delivers: the new one will repeat some of it.
        handover = self._handover = _Handover(old)
        try:
            try:
                new = await self._connect(buffering=True)
            except BinanceError as err:
                self._emit("ws_rotate_failed", name=self.name, error=type(err).__name__)
                return False
            handover.new = new
            if self.request_only:
                # No data to overlap: proven once it answers; the old one drains its answers.
                if not await new.prove(opts.handover_timeout):
                    self._reap(new)
                    return False
                self._switch(old, new, set())
                return True
            first = asyncio.ensure_future(new.first_data.wait())
            try:
                await _first_of(opts.handover_timeout, first, old.done, new.done)
            finally:
                first.cancel()
            if new.done.done():
                self._reap(new)
                return False
            if new.buffer and old.alive:
                if any(key in handover.seen for key in new.buffer_keys):
                    handover.caught_up.set()  # the old socket is ahead already
                caught = asyncio.ensure_future(handover.caught_up.wait())
                try:
                    await _first_of(opts.handover_grace, caught, old.done, new.done)
                finally:
                    caught.cancel()
                if new.done.done():
                    self._reap(new)
                    return False
        finally:
            self._handover = None
        # Clean: the old socket delivered up to where the new one starts, or both are quiet.
        clean = handover.caught_up.is_set() or (old.alive and not new.buffer)
        self._switch(old, new, handover.seen)
        if not clean:
            # The old socket ended (or stalled) before catching up: events may be missing
            # between the two. Tell the layer above as for a reconnect, so it can check.
            self._emit("ws_handover_gap", name=self.name, old=old.serial, new=new.serial)
            self._on_down("rotation without overlap")
            self._on_up(True)
        return True

    def _switch(self, old: WsLink, new: WsLink, seen: set[Hashable]) -> None:
        """Make `new` the live socket: deliver its buffer minus what `old` delivered."""
        old.delivering = False
        old.planned = True
        self._current = new
        new.buffering = False
        buffered, new.buffer = new.buffer, deque()
        new.buffer_keys = set()
        for key, frame in buffered:
            if key in seen:
                self.stats.duplicates_dropped += 1
                continue
            self.stats.messages += 1
            self._on_message(frame)
        if seen:
            # Frames in flight on the new socket that the old one delivered: drop them briefly.
            self._seen_after_switch = seen
            self._seen_until = new._loop.time() + self.options.handover_grace
        self._emit("ws_switch", name=self.name, old=old.serial, new=new.serial)
        self._reap(old, drain=True)

    def _reap(self, link: WsLink, *, drain: bool = False) -> None:
        """Close `link` in the background: at once, or (`drain`: a replaced socket, no longer
        used for new requests) once the answers still owed on it have come."""
        if not drain:
            link.abort(link.done.result() if link.done.done() else "replaced")
        task = asyncio.create_task(self._retire(link, drain), name=f"ws-close-{link.serial}")
        self._reaping.add(task)

        def forget(t: asyncio.Task[None]) -> None:
            self._reaping.discard(t)
            self._links.discard(link)

        task.add_done_callback(forget)

    async def _retire(self, link: WsLink, drain: bool) -> None:
        if drain:
            await link.drain(self.options.request_timeout)
        await link.finish()

    async def _connect(self, *, buffering: bool) -> WsLink:
        """Open, start reading, run `on_open`; a typed BinanceError on any failure."""
        opts = self.options
        await self._limiter.acquire()
        if self._gate is not None and opts.connect_weight:
            async with self._gate.admit(Cost(weight=opts.connect_weight)) as slot:
                slot.ok = True  # a connection costs its weight whatever follows
        url = self._url()
        session = self._session
        assert session is not None
        try:
            async with asyncio.timeout(opts.open_timeout):
                ws = await session.ws_connect(
                    url,
                    autoping=False,
                    autoclose=True,
                    timeout=aiohttp.ClientWSTimeout(ws_close=opts.close_timeout),
                    max_msg_size=opts.max_msg_size,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            err = classify(exc) or ConnectFailedError(
                f"WebSocket connect failed: {type(exc).__name__}"
            )
            if err.retry_after is not None:
                self._limiter.pause(err.retry_after)
            if self._on_error is not None:
                await self._on_error(err)
            raise err from exc
        link = WsLink(self, ws, next(self._serials), url)
        link.buffering = buffering
        self._links.add(link)
        link.start()
        if self._on_open is not None:
            try:
                async with asyncio.timeout(opts.open_timeout):
                    await self._on_open(link)
            except TimeoutError:
                self._reap(link)
                raise RequestTimeoutError(f"WebSocket {self.name}: opening took too long") from None
            except BaseException:
                self._reap(link)
                raise
        if not link.alive:
            self._reap(link)
            raise ConnectionDroppedError(f"WebSocket {self.name} closed while opening")
        return link
