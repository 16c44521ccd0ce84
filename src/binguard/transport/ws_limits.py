"""Binance's WebSocket limits on the client side: connection attempts per IP, messages per socket.

web-socket-streams.md §WebSocket Limits and web-socket-api.md §Connection limits:
- 300 connection attempts per 5 minutes per IP (both faces). `ConnectLimiter` keeps the attempt
  times of one process (share one instance between every socket of a connector) in a sliding
  window, so a reconnect storm waits instead of earning a 429 and, repeated, a ban; a handshake
  refused with Retry-After pauses every attempt until then.
- 5 incoming messages per second per stream connection, pings, pongs and control messages
  included. `MessageWindow` counts what one socket sent in the last second; control messages
  wait for room, pongs are counted but never delayed (the server waits at most a minute for them
  and a late pong costs the connection).
Both take the clock and sleep from the caller so tests can drive them.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

Sleep = Callable[[float], Awaitable[None]]
Now = Callable[[], float]


class ConnectLimiter:
    """At most `limit` connection attempts in any `window_s` seconds (sliding), shared."""

    def __init__(
        self,
        limit: int = 300,
        window_s: float = 300.0,
        *,
        now: Now = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("need limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._now = now
        self._sleep = sleep
        self._attempts: deque[float] = deque()
        self._paused_until = float("-inf")
        self.waits = 0  # attempts that had to wait (a storm, or a server's Retry-After)

    def wait_time(self) -> float:
        """Seconds until an attempt may start (0: now)."""
        now = self._now()
        window = self._attempts
        while window and window[0] <= now - self.window_s:
            window.popleft()
        wait = max(0.0, self._paused_until - now)
        if len(window) >= self.limit:
            wait = max(wait, window[0] + self.window_s - now)
        return wait

    async def acquire(self) -> None:
        """Wait for room, then count one attempt."""
        waited = False
        while (wait := self.wait_time()) > 0:
            waited = True
            await self._sleep(wait)
        self.waits += waited
        self._attempts.append(self._now())

    def pause(self, seconds: float) -> None:
        """The server said when to come back (Retry-After on a refused handshake)."""
        self._paused_until = max(self._paused_until, self._now() + seconds)


class MessageWindow:
    """Messages one socket sent in the last second, kept under `limit`."""

    __slots__ = ("_now", "_sent", "_sleep", "limit", "waits")

    def __init__(self, limit: int, *, now: Now = time.monotonic, sleep: Sleep = asyncio.sleep):
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self._now = now
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self.waits = 0

    def _trim(self, now: float) -> None:
        # 1.05 s rather than 1 s: the server's window and ours do not start at the same instant.
        while self._sent and self._sent[0] <= now - 1.05:
            self._sent.popleft()

    async def acquire(self) -> None:
        """Wait until one more message fits in the window, then count it."""
        while True:
            now = self._now()
            self._trim(now)
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return
            self.waits += 1
            await self._sleep(self._sent[0] + 1.05 - now)

    def note(self) -> None:
        """Count a message sent without waiting (a pong)."""
        self._sent.append(self._now())
