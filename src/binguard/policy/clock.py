"""Time as an injected dependency: the `Clock` protocol, the system clock and a fake for tests.

Every policy object takes a `Clock` (and, where it waits, a `sleep`) through its constructor, so
tests drive time explicitly instead of patching `time` or waiting for real. `FakeClock` is public:
a bot's own tests can use it with binguard's policies.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time (may jump when NTP steps it) and monotonic time (never jumps), in seconds."""

    def time(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; only differences mean something."""
        ...


class SystemClock:
    """The process's real clocks."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; its `sleep` returns when `advance` passes its end.

    `advance(s)` moves both clocks; `step_wall(s)` moves only the wall clock, as an NTP step does.
    A test waits for sleepers with `await clock.sleepers_at_least(n)`, then advances time.
    """

    def __init__(self, wall: float = 1_767_225_600.0, monotonic: float = 1_000.0) -> None:
        self._wall = wall
        self._mono = monotonic
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._changed: asyncio.Event | None = None

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward and wake every sleeper whose end has come."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._wall += seconds
        self._mono += seconds
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    def advance_to_next(self) -> float:
        """Advance to the earliest sleeper's end (if any is asleep); return the step taken."""
        self._sleepers = [s for s in self._sleepers if not s[2].done()]
        heapq.heapify(self._sleepers)
        step = max(0.0, self._sleepers[0][0] - self._mono) if self._sleepers else 0.0
        self.advance(step)
        return step

    def step_wall(self, seconds: float) -> None:
        """Step the wall clock only (either way), leaving monotonic time alone."""
        self._wall += seconds

    @property
    def sleeping(self) -> int:
        return sum(1 for s in self._sleepers if not s[2].done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + seconds, next(self._order), fut))
        if self._changed is not None:
            self._changed.set()
        await fut  # cancelling the sleeper cancels `fut`; advance() then skips it

    async def sleepers_at_least(self, n: int) -> None:
        """Return once `n` tasks are asleep on this clock (an event, not a polling loop)."""
        while self.sleeping < n:
            self._changed = self._changed or asyncio.Event()
            self._changed.clear()
            await self._changed.wait()
