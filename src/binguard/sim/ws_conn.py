"""One server-side WebSocket: an ordered outbox, Binance's ping/pong rule, lifetime, wire faults.

Every frame the server sends goes through the outbox and a single writer task. Engine listeners
are synchronous, so they only enqueue; order is kept; and faults act on the wire in order:
silence holds the writer (no data, no pings, no pongs), a close marker closes after whatever was
queued before it (a `serverShutdown` event really precedes its close), a reset sends a TCP RST at
once (SO_LINGER 0 + abort: no close frame, the client sees 1006).

Binance's rules (web-socket-streams.md, web-socket-api.md): the server pings every 20 s and
disconnects when no pong copying a ping's payload arrives within a minute (unsolicited pongs do
not count); a connection lives 24 hours. aiohttp's own heartbeat waits only half the interval for
the pong, so this module runs its own loop (autoping is off; the handlers answer client pings).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from . import transport
from .bugs import BugLog
from .config import WsConfig

log = logging.getLogger("binguard.sim.ws")

# close codes (RFC 6455)
NORMAL = 1000
GOING_AWAY = 1001
POLICY = 1008
INTERNAL_ERROR = 1011
STALL_S = 0.1  # the ping loop waking this much late means the event loop itself stalled

_TEXT, _PING, _PONG, _CLOSE, _SLEEP = range(5)
_ENDED = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})
Item = tuple[int, Any]


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


class WsConn:
    """A server-side WebSocket connection of either face (streams or WebSocket API)."""

    kind = "ws"

    def __init__(
        self,
        conn_id: int,
        request: web.Request,
        ws: web.WebSocketResponse,
        path: str,
        config: WsConfig,
        now_ms: int,
    ) -> None:
        self.id = conn_id
        self.request = request
        self.ws = ws
        self.ip = request.remote or "?"
        self.path = path
        self.config = config
        self.connected_ms = now_ms
        self.messages_in = 0
        self.messages_out = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self.closing = False
        self._close_queued = False
        self._loop = asyncio.get_running_loop()
        self._started = self._loop.time()
        self._out: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._silent_until = 0.0
        self._pings: deque[tuple[bytes, float]] = deque()
        self._ping_seq = 0
        self._incoming: deque[float] = deque()
        self._timers: list[asyncio.TimerHandle] = []
        self._writer: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    # ----- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.id}")
        self._heartbeat = asyncio.create_task(self._ping_loop(), name=f"ws-ping-{self.id}")
        self.later(self.config.lifetime_s, lambda: self.close(NORMAL, "connection lifetime"))

    def later(self, delay_s: float, fn: Callable[[], None]) -> None:
        """Run `fn` after `delay_s` seconds unless the connection has ended by then."""
        self._timers.append(self._loop.call_later(max(0.0, delay_s), fn))

    def stop(self) -> None:
        """End of the handler (synchronous part, safe while the handler is being cancelled):
        timers and the ping loop stop, the close code is settled."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if self.close_code is None:
            self.close_code = self.ws.close_code
            self.close_reason = self.close_reason or "closed by client"

    async def finish(self) -> None:
        """Let a server-side close finish (bounded), then stop the writer."""
        writer = self._writer
        if writer is not None and not writer.done():
            if self._close_queued:
                await asyncio.wait({writer}, timeout=self.config.close_timeout_s)
            writer.cancel()
        tasks = [t for t in (self._heartbeat, writer) if t is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    # ----- sending ----------------------------------------------------------------------------
    def _push(self, item: Item, front: bool = False) -> None:
        if front:
            self._out.appendleft(item)
        else:
            self._out.append(item)
        self._wake.set()

    def send_text(self, text: str) -> None:
        """Queue a text frame (called from synchronous engine listeners too)."""
        if self.closing:
            return
        if len(self._out) >= self.config.max_pending:
            self.reset("slow consumer")
            return
        self._push((_TEXT, text))

    def send_json(self, body: Any) -> None:
        self.send_text(dumps(body))

    def pong(self, payload: bytes) -> None:
        if not self.closing:
            self._push((_PONG, payload))

    def pause(self, seconds: float) -> None:
        """Queue a pause: what follows is sent `seconds` later (a grace before a close)."""
        self._push((_SLEEP, seconds))

    def close(self, code: int, reason: str, urgent: bool = False) -> None:
        """Close with a close frame after what is queued (`urgent`: drop the queue first)."""
        if self.closing:
            return
        self.closing = self._close_queued = True
        self.close_code, self.close_reason = code, reason
        if urgent:
            self._out.clear()
        self._push((_CLOSE, (code, reason)))

    def reset(self, reason: str) -> None:
        """TCP RST now, without a close frame (the client sees close code 1006)."""
        if not self.closing:
            self.close_code, self.close_reason = 1006, reason
        self.closing = True
        self._close_queued = False
        self._out.clear()
        transport.reset(self.request)

    def silence(self, seconds: float) -> None:
        """Send nothing (data, pings, pongs) for `seconds`; outstanding pings are forgotten."""
        self._silent_until = max(self._silent_until, self._loop.time() + seconds)
        self._pings.clear()

    def silenced(self) -> bool:
        return self._loop.time() < self._silent_until

    async def _write_loop(self) -> None:
        ws = self.ws
        try:
            while True:
                while not self._out:
                    self._wake.clear()
                    await self._wake.wait()
                wait = self._silent_until - self._loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                kind, data = self._out.popleft()
                if kind == _TEXT:
                    await ws.send_str(data)
                    self.messages_out += 1
                elif kind == _PING:
                    await ws.ping(data)
                    self._pings.append((data, self._loop.time()))
                elif kind == _PONG:
                    await ws.pong(data)
                elif kind == _SLEEP:
                    await asyncio.sleep(data)
                else:
                    code, reason = data
                    await ws.close(code=code, message=reason.encode())
                    return
        except ConnectionError:
            return  # the peer went away (or we reset it): nothing more to send

    # ----- receiving --------------------------------------------------------------------------
    def over_rate(self) -> bool:
        """Count one incoming message; True when more than the per-second limit arrived."""
        self.messages_in += 1
        now = self._loop.time()
        window = self._incoming
        window.append(now)
        while window and window[0] <= now - 1.0:
            window.popleft()
        return len(window) > self.config.max_incoming_per_s

    def on_pong(self, payload: bytes) -> None:
        """A pong answers the ping with the same payload and every ping before it."""
        for i, (sent, _at) in enumerate(self._pings):
            if sent == payload:
                for _ in range(i + 1):
                    self._pings.popleft()
                return

    async def _ping_loop(self) -> None:
        interval = self.config.ping_interval_s
        timeout = self.config.pong_timeout_s
        next_ping = self._loop.time() + interval
        woke_for: float | None = None
        while not self.closing:
            now = self._loop.time()
            if woke_for is not None and now - woke_for > STALL_S:
                # This loop itself ran late (a stalled event loop, e.g. a loaded test machine
                # where client and server share it): a pong that arrived meanwhile has not been
                # read yet. The time the server was not running is not the client's delay.
                shift = now - woke_for + STALL_S  # and a moment to read what is waiting
                self._pings = deque((payload, at + shift) for payload, at in self._pings)
            deadline = self._pings[0][1] + timeout if self._pings else None
            if deadline is not None and now >= deadline and not self.silenced():
                self.close(POLICY, "pong timeout", urgent=True)
                return
            if now >= next_ping:
                if not self.silenced():
                    self._ping_seq += 1
                    self._push((_PING, str(self._ping_seq).encode()))
                next_ping = now + interval
            wake = next_ping if deadline is None else min(next_ping, deadline)
            woke_for = max(wake, self._loop.time() + 0.001)
            await asyncio.sleep(woke_for - self._loop.time())

    # ----- ground truth -----------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "ip": self.ip,
            "path": self.path,
            "connected_at": self.connected_ms,
            "age_s": round(self._loop.time() - self._started, 3),
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "silenced": self.silenced(),
            "close_code": self.close_code,
            "close_reason": self.close_reason or None,
        }


async def receive_loop(
    conn: WsConn,
    on_text: Callable[[str], Awaitable[None] | None],
    bugs: BugLog,
    rate_limited: bool = False,
) -> None:
    """Read frames until the connection ends: pings are answered, pongs noted, text handled.

    `on_text` may be a coroutine function: it is awaited, so requests run in arrival order.
    Binary frames are read as text (Binance answers them like any malformed request). With
    `rate_limited` (streams), every frame counts toward the incoming limit and going over it
    disconnects (web-socket-streams.md §WebSocket Limits: pings, pongs and JSON messages count).

    An unexpected exception in `on_text` is a simulator bug: one log line, kept in `bugs`, and
    the connection closes with 1011 (the HTTP guard cannot answer on an upgraded socket).
    """
    ws = conn.ws
    while True:
        msg = await ws.receive()
        if msg.type in _ENDED:
            return
        if conn.closing:
            continue
        if conn.over_rate() and rate_limited:
            conn.close(POLICY, "too many messages")
            continue
        if msg.type == WSMsgType.PING:
            conn.pong(msg.data)
        elif msg.type == WSMsgType.PONG:
            conn.on_pong(msg.data)
        elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            text = msg.data
            if isinstance(text, bytes):
                text = text.decode(errors="replace")
            try:
                pending = on_text(text)
                if pending is not None:
                    await pending
            except Exception as e:  # noqa: BLE001 - recorded, one log line; CancelledError passes
                bugs.record(f"WS {conn.path}", e)
                conn.close(INTERNAL_ERROR, "internal error")
