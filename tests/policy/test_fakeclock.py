"""FakeClock: time moves only when told; sleepers wake when their end is passed."""

from __future__ import annotations

import asyncio

import pytest

from binguard.policy import FakeClock, SystemClock


async def test_sleepers_wake_in_order_of_their_end() -> None:
    clock = FakeClock()
    woke: list[str] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(name)

    tasks = [asyncio.create_task(nap(n, s)) for n, s in (("b", 2.0), ("a", 1.0), ("c", 3.0))]
    await clock.sleepers_at_least(3)
    clock.advance(1.5)
    await asyncio.wait_for(tasks[1], 1)
    assert woke == ["a"]
    assert clock.advance_to_next() == pytest.approx(0.5)
    await asyncio.wait_for(tasks[0], 1)
    clock.advance(10)
    await asyncio.wait_for(tasks[2], 1)
    assert woke == ["a", "b", "c"]
    assert clock.sleeping == 0


async def test_cancelled_sleeper_is_forgotten() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5))
    await clock.sleepers_at_least(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleeping == 0
    assert clock.advance_to_next() == 0.0


async def test_zero_sleep_yields_without_time_passing() -> None:
    clock = FakeClock()
    before = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() == before


def test_wall_step_leaves_monotonic_alone() -> None:
    clock = FakeClock(wall=100.0, monotonic=5.0)
    clock.step_wall(-50)
    assert (clock.time(), clock.monotonic()) == (50.0, 5.0)
    clock.advance(1)
    assert (clock.time(), clock.monotonic()) == (51.0, 6.0)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)


def test_system_clock_reads_real_clocks() -> None:
    clock = SystemClock()
    assert clock.time() > 1.7e9
    a = clock.monotonic()
    assert clock.monotonic() >= a
