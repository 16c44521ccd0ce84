"""One handler per client order id at a time (order_guard.py): a bot's re-send of an order
waits for the first attempt, and a background settle for both."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class BusyError(Exception):
    """The client id stayed held by another handler until the deadline."""


class IdLocks:
    """A lock per client id, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # id -> (lock, holders+waiters)

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, coid: str, deadline: float | None) -> AsyncIterator[None]:
        """Hold `coid`'s lock; `BusyError` if it is not free by `deadline` (monotonic)."""
        held = self._locks.get(coid)
        lock = asyncio.Lock() if held is None else held[0]
        self._locks[coid] = (lock, 1 if held is None else held[1] + 1)
        try:
            if lock.locked():  # a free lock is taken at once: no timer in the common case
                await _acquire(lock, coid, deadline)
            else:
                await lock.acquire()
            try:
                yield
            finally:
                lock.release()
        finally:
            users = self._locks[coid][1]
            if users == 1:
                del self._locks[coid]
            else:
                self._locks[coid] = (lock, users - 1)


async def _acquire(lock: asyncio.Lock, coid: str, deadline: float | None) -> None:
    wait = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        async with asyncio.timeout(wait):
            await lock.acquire()
    except TimeoutError:
        raise BusyError(coid) from None
