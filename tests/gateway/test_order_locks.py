"""gateway/order_locks.py as a unit: one holder per client id, handed over in arrival order,
a waiter that runs out of time leaves the id to the next (no fake: asyncio itself)."""

from __future__ import annotations

import asyncio
import time

import pytest

from binguard.gateway.order_locks import BusyError, IdLocks


async def test_a_free_id_is_taken_at_once_and_released() -> None:
    locks = IdLocks()
    assert locks.try_hold("a") and not locks.try_hold("a")
    locks.release("a")
    assert len(locks) == 0
    async with locks.hold("a", None):
        assert len(locks) == 1
    assert len(locks) == 0


async def test_waiters_get_the_id_in_order() -> None:
    locks, order = IdLocks(), []
    gate = asyncio.Event()

    async def user(name: str) -> None:
        async with locks.hold("a", None):
            order.append(name)
            await gate.wait()

    first = asyncio.create_task(user("first"))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(user(n)) for n in ("second", "third")]
    await asyncio.sleep(0)
    assert order == ["first"]
    gate.set()
    await asyncio.gather(first, *rest)
    assert order == ["first", "second", "third"]
    assert len(locks) == 0


async def test_a_waiter_out_of_time_is_busy_and_the_next_still_gets_the_id() -> None:
    locks = IdLocks()
    assert locks.try_hold("a")
    with pytest.raises(BusyError):
        async with locks.hold("a", time.monotonic() + 0.01):
            pass
    later = asyncio.create_task(_hold_once(locks))
    await asyncio.sleep(0)
    locks.release("a")
    assert await asyncio.wait_for(later, 1) == "held"
    assert len(locks) == 0


async def test_a_cancelled_waiter_handed_the_id_hands_it_on() -> None:
    locks = IdLocks()
    assert locks.try_hold("a")
    waiter = asyncio.create_task(_hold_once(locks))
    await asyncio.sleep(0)
    locks.release("a")  # handed to `waiter` ...
    waiter.cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(locks) == 0  # not leaked


async def _hold_once(locks: IdLocks) -> str:
    async with locks.hold("a", None):
        return "held"
