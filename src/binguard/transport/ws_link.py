"""One physical WebSocket (`WsLink`) and its lifecycle, an explicit state machine.

    OPENING ──────────────┐
                          ├─► LIVE ─► DRAINING ─► ENDED
    BUFFERING (rotation) ─┘      └──────────────► ENDED   (and from any state ─► ENDED)

- OPENING: connected, `on_open` running (subscribe, log on); its data is delivered.
- BUFFERING: a rotation's new socket, opened next to the live one: its data is buffered until
  the supervisor switches to it (transport/ws_rotation.py).
- LIVE: the supervisor's current socket.
- DRAINING: replaced by a newer socket; no data delivered any more, kept open only until the
  answers still owed on it arrive.
- ENDED: closed or lost (`done` holds the reason). A link remembers the phase it ended in, so
  an ended buffering link keeps buffering and an ended draining one delivers nothing.

Any other move (LIVE → BUFFERING, DRAINING → LIVE, leaving ENDED) is a bug and raises
`LinkStateError` (like httpx's `ClientState` and nautilus_trader's `mode.rs` guards). `planned`
is not a state but an announcement: the server said this socket will end (1000/1001 close,
`serverShutdown`), whatever state it is in.

The supervisor (transport/ws.py) is the link's host: it gives the options, the stats, request
ids and the handler of text frames (`LinkHost`), so this module never imports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import aiohttp

from binguard._aio import reap
from binguard.errors import ConnectionDroppedError, RequestTimeoutError, classify
from binguard.policy.backoff import Backoff

from .ws_limits import MessageWindow

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


def nothing(*_args: Any, **_kw: Any) -> None:
    return None


async def first_of(within: float | None, *futures: asyncio.Future[Any]) -> None:
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


class LinkState(StrEnum):
    OPENING = "opening"
    BUFFERING = "buffering"
    LIVE = "live"
    DRAINING = "draining"
    ENDED = "ended"


# The moves each state allows (ENDED is reached from any state by `end()`).
TRANSITIONS: dict[LinkState, frozenset[LinkState]] = {
    LinkState.OPENING: frozenset({LinkState.LIVE, LinkState.ENDED}),
    LinkState.BUFFERING: frozenset({LinkState.LIVE, LinkState.ENDED}),
    LinkState.LIVE: frozenset({LinkState.DRAINING, LinkState.ENDED}),
    LinkState.DRAINING: frozenset({LinkState.ENDED}),
    LinkState.ENDED: frozenset(),
}


class LinkStateError(RuntimeError):
    """A link was moved along a transition its state does not allow: a bug."""


class LinkHost(Protocol):
    """What a link needs from its supervisor."""

    options: WsOptions
    stats: WsStats

    def next_request_id(self) -> int: ...

    def on_text(self, link: WsLink, raw: str) -> None: ...


class WsLink:
    """One physical socket: its reader and watchdog tasks, pending requests, handover buffer."""

    def __init__(
        self,
        sup: LinkHost,
        ws: aiohttp.ClientWebSocketResponse,
        serial: int,
        url: str,
        *,
        buffering: bool = False,
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
        self.state = LinkState.BUFFERING if buffering else LinkState.OPENING
        self._phase = self.state  # the last state before ENDED
        self.buffer: deque[tuple[Hashable, Frame]] = deque()
        self.buffer_keys: set[Hashable] = set()
        self.first_data = asyncio.Event()
        self.heard = asyncio.Event()  # the server sent a frame (an answer, a ping, a pong...)
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

    @property
    def buffering(self) -> bool:
        """Data is buffered, not delivered (a rotation's new socket, before the switch)."""
        return self._phase is LinkState.BUFFERING

    @property
    def delivering(self) -> bool:
        """Data is delivered (opening or live; not buffering, not replaced)."""
        return self._phase is LinkState.OPENING or self._phase is LinkState.LIVE

    def move(self, to: LinkState) -> None:
        """Move to `to` along an allowed transition; LinkStateError otherwise."""
        if to not in TRANSITIONS[self.state]:
            raise LinkStateError(f"WebSocket #{self.serial}: {self.state} → {to}")
        self.state = to
        if to is not LinkState.ENDED:
            self._phase = to

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
        request_id = self.sup.next_request_id()
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
                    sup.on_text(self, msg.data)
                elif kind is ping:
                    await self._pong(msg.data)
                elif kind is aiohttp.WSMsgType.BINARY:
                    sup.on_text(self, msg.data.decode(errors="replace"))
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
        self.move(LinkState.ENDED)
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
                await first_of(within, heard, self.done)
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
            await first_of(left, *owed, self.done)

    async def finish(self) -> None:
        """Close the socket (bounded by `close_timeout`) and reap the tasks."""
        self.abort(self.done.result() if self.done.done() else "closed by client")
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, TimeoutError):
            async with asyncio.timeout(self.sup.options.close_timeout + 0.5):
                await self.ws.close()
        # Both are cancelled: a watchdog left to wake on its own timer kept close() (and a test's
        # teardown) waiting.
        await reap(self._reader, self._watchdog)
