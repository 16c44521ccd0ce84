"""DropOldest, the stream reader's bounded queue (connector/dropqueue.py): order, dropping the
oldest when full, waiting readers woken in turn, a cancelled reader passing its wake-up on."""

from __future__ import annotations

import asyncio

import pytest

from binguard.connector.dropqueue import DropOldest

from .conftest import until


def test_oldest_first_and_the_oldest_dropped_when_full() -> None:
    q: DropOldest[int] = DropOldest(3)
    for i in range(5):
        q.put(i)
    assert (len(q), q.dropped) == (3, 2)
    assert [q.get_nowait() for _ in range(3)] == [2, 3, 4]
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DropOldest(0)


async def test_waiting_readers_are_woken_one_item_each() -> None:
    q: DropOldest[str] = DropOldest(10)
    readers = [asyncio.create_task(q.get()) for _ in range(2)]
    await until(lambda: len(q._getters) == 2, what="both readers wait")
    q.put("a")
    q.put("b")
    assert sorted(await asyncio.gather(*readers)) == ["a", "b"]


async def test_a_cancelled_reader_passes_its_wake_up_on() -> None:
    q: DropOldest[str] = DropOldest(10)
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await until(lambda: len(q._getters) == 2, what="both readers wait")
    q.put("x")  # wakes `first`...
    first.cancel()  # ...which is cancelled before it runs: `second` must get the item
    assert await asyncio.wait_for(second, 2) == "x"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(q) == 0
