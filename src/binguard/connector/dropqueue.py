"""A bounded event queue that drops its oldest item when full, for one stream reader.

What `asyncio.Queue` would do for `Subscription`, at a fraction of the cost per item: a stream
pushes thousands of events a second through `put`, which is a length check and an append unless
a reader is waiting (bench/bench_candles.py measures the whole path).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class DropOldest(Generic[T]):
    """`put` never blocks: when `maxsize` items wait, the oldest goes (counted in `dropped`)."""

    __slots__ = ("_getters", "_items", "dropped", "maxsize")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize: at least 1, not {maxsize}")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[T] = deque()
        self._getters: deque[asyncio.Future[None]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T) -> None:
        items = self._items
        if len(items) >= self.maxsize:
            items.popleft()
            self.dropped += 1
        items.append(item)
        if self._getters:
            self._wake()

    def _wake(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    def get_nowait(self) -> T:
        """The oldest item; `asyncio.QueueEmpty` when there is none."""
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def get(self) -> T:
        """The oldest item, waiting for one (cancellable; a wake-up it took is passed on)."""
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake()  # woken, then cancelled: the next reader takes the item
                raise
        return self._items.popleft()
