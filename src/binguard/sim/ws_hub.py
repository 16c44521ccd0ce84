"""All WebSocket connections of one simulator: registry, limits, fan-out of engine events.

The hub listens to the engine (`SimState.subscribe`) once and routes each event: trades to
`<symbol>@trade`, depth diffs to `<symbol>@depth` / `@depth@100ms` (merged at their speeds) and
`<symbol>@bookTicker` (when the top of the book changed), user data to the WebSocket API sessions
subscribed to that account. It also counts connection attempts per IP (300 per 5 minutes, per
face), keeps the WebSocket part of the request log, and answers `GET /_sim/ws`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .engine import Event
from .numbers import fmt
from .state import SimState
from .ws_conn import GOING_AWAY, WsConn, dumps
from .ws_depth import DepthBatcher

DEPTH, DEPTH_FAST = "@depth", "@depth@100ms"


class StreamSink(Protocol):
    def deliver(self, stream: str, raw: str) -> None: ...


class UserSink(Protocol):
    def deliver_user(self, subscription_id: int, kind: str, data: dict[str, Any]) -> None: ...


class WsHub:
    """Registry and router of the WebSocket faces (one per simulator)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.config = state.config.ws
        self.conns: dict[int, WsConn] = {}
        self.closed: deque[dict[str, Any]] = deque(maxlen=1000)
        self.streams: dict[str, dict[StreamSink, None]] = {}
        self.users: dict[str, dict[UserSink, int]] = {}
        self._ids = itertools.count(1)
        self._attempts: dict[tuple[str, str], list[int]] = {}
        self._limits_seen: object = state.limits
        self._tops: dict[str, tuple[int, int, int, int]] = {}
        self.depth = DepthBatcher(self.config.depth_ms, self._publish)
        self.depth_fast = DepthBatcher(self.config.depth_fast_ms, self._publish)
        self._listening = False
        self._empty = asyncio.Event()
        # end of an engine step on a symbol (ws_market pushes the aggregate trades it completed)
        self.on_step: Callable[[str], None] | None = None

    def _listen(self, on: bool) -> None:
        """Listen to the engine only while a connection is open: without listeners the engine
        skips building events, which keeps REST-only runs (and the REST benchmark) fast."""
        if on and not self._listening:
            self.state.subscribe(self.on_event)
        elif not on and self._listening:
            self.state.unsubscribe(self.on_event)
            self._tops.clear()
            self.depth.pending.clear()
            self.depth_fast.pending.clear()
        self._listening = on

    # ----- connections ------------------------------------------------------------------------
    def next_id(self) -> int:
        return next(self._ids)

    def attempt(self, face: str, ip: str) -> int | None:
        """Count a connection attempt; the seconds to wait when over the limit, else None.

        A /_sim/reset (a new rate limiter) clears the counts like it clears the other limits.
        """
        if self._limits_seen is not self.state.limits:
            self._limits_seen = self.state.limits
            self._attempts.clear()
        window_ms = self.config.connection_window_s * 1000
        now = self.state.clock.now_ms()
        index = now // window_ms
        slot = self._attempts.setdefault((face, ip), [index, 0])
        if slot[0] != index:
            slot[0], slot[1] = index, 0
        slot[1] += 1
        if slot[1] > self.config.max_connections:
            return max(1, -(-((index + 1) * window_ms - now) // 1000))
        return None

    def add(self, conn: WsConn) -> None:
        self.conns[conn.id] = conn
        self._listen(True)

    def remove(self, conn: WsConn) -> None:
        if self.conns.pop(conn.id, None) is not None:
            self.closed.append(conn.summary())
        if not self.conns:
            self._listen(False)
            self._empty.set()

    def log(self, conn: WsConn | None, method: str, status: int, **extra: Any) -> dict[str, Any]:
        """Append to the request log (shared with REST; `ws` tells the faces apart)."""
        entry: dict[str, Any] = {
            "time": self.state.clock.now_ms(),
            "ip": conn.ip if conn else extra.pop("ip", "?"),
            "method": method,
            "path": conn.path if conn else extra.pop("path", ""),
            "status": status,
            "account": None,
            "fault": None,
            "ws": conn.kind if conn else extra.pop("kind", "ws"),
            "conn": conn.id if conn else None,
        }
        entry.update(extra)
        self.state.requests.append(entry)
        return entry

    async def shutdown(self, wait_s: float = 1.0) -> None:
        """The server is stopping: every connection gets a close frame (1001 going away), and
        the handlers get a moment to finish the closing handshake."""
        if not self.conns:
            return
        self._empty.clear()
        for conn in list(self.conns.values()):
            conn.close(GOING_AWAY, "server stopping", urgent=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._empty.wait(), wait_s)

    # ----- subscriptions ----------------------------------------------------------------------
    def subscribe_stream(self, sink: StreamSink, names: Iterable[str]) -> None:
        for name in names:
            self.streams.setdefault(name, {})[sink] = None

    def unsubscribe_stream(self, sink: StreamSink, names: Iterable[str]) -> None:
        for name in names:
            subs = self.streams.get(name)
            if subs is not None:
                subs.pop(sink, None)
                if not subs:
                    del self.streams[name]
                    self.depth.drop(name)
                    self.depth_fast.drop(name)

    def subscribe_user(self, sink: UserSink, account: str, subscription_id: int) -> None:
        self.users.setdefault(account, {})[sink] = subscription_id

    def unsubscribe_user(self, sink: UserSink, account: str) -> None:
        subs = self.users.get(account)
        if subs is not None:
            subs.pop(sink, None)
            if not subs:
                del self.users[account]

    # ----- routing ----------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Engine listener: synchronous, only enqueues."""
        kind = event.kind
        if kind == "trade":
            assert event.symbol is not None
            self._publish(event.symbol.lower() + "@trade", event.data)
        elif kind == "depth":
            assert event.symbol is not None
            base = event.symbol.lower()
            if self.on_step is not None:
                self.on_step(event.symbol)
            if base + DEPTH in self.streams:
                self.depth.add(base + DEPTH, event.data)
            if base + DEPTH_FAST in self.streams:
                self.depth_fast.add(base + DEPTH_FAST, event.data)
            if base + "@bookTicker" in self.streams:
                self._book_ticker(event.symbol, base + "@bookTicker")
        elif event.account is not None:
            subs = self.users.get(event.account)
            if subs:
                for sink, sub_id in list(subs.items()):
                    sink.deliver_user(sub_id, kind, event.data)

    def _publish(self, stream: str, data: dict[str, Any]) -> None:
        subs = self.streams.get(stream)
        if subs:
            raw = dumps(data)
            for sink in list(subs):
                sink.deliver(stream, raw)

    def _book_ticker(self, symbol: str, stream: str) -> None:
        book = self.state.engine.books[symbol]
        top = book.top()
        if self._tops.get(symbol) == top:
            return
        self._tops[symbol] = top
        self._publish(
            stream,
            {
                "u": book.update_id,
                "s": symbol,
                "b": fmt(top[0]),
                "B": fmt(top[1]),
                "a": fmt(top[2]),
                "A": fmt(top[3]),
            },
        )

    # ----- ground truth -----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        conns = [c.summary() for c in self.conns.values()]
        by_ip: dict[str, dict[str, int]] = {}
        for c in conns:
            counts = by_ip.setdefault(c["ip"], {"streams": 0, "api": 0})
            counts["streams" if c["kind"] == "stream" else "api"] += 1
        return {
            "connections": conns,
            "by_ip": by_ip,
            "closed": list(self.closed),
            "attempts": {
                f"{face} {ip}": count for (face, ip), (_index, count) in self._attempts.items()
            },
        }
