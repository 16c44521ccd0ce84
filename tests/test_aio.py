"""`reap`: background tasks are cancelled and awaited on close paths, and a cancellation aimed
at the closer itself is raised, not swallowed (which the old `suppress(CancelledError)` idiom
did, shown here for contrast)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from binguard._aio import reap


class Stubborn:
    """A task whose cleanup, once cancelled, takes until `release` (or a second cancel)."""

    def __init__(self) -> None:
        self.cancelled_once = asyncio.Event()
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled_once.set()
            await self.release.wait()
            raise


async def old_idiom(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_cancelled_closer_is_cancelled_not_returned() -> None:
    child = Stubborn()
    closer = asyncio.create_task(reap(child.task))
    await child.cancelled_once.wait()  # the closer is waiting for the child's cleanup
    closer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closer
    assert closer.cancelled()
    assert child.task.cancelled()  # the child got the second cancel and ended too


async def test_the_old_idiom_swallowed_the_closers_cancellation() -> None:
    """The same scenario with `suppress(CancelledError)`: the closer returns as if not cancelled,
    which is the bug `reap` fixes (if this ever fails, the contrast above proves nothing)."""
    child = Stubborn()
    closer = asyncio.create_task(old_idiom(child.task))
    await child.cancelled_once.wait()
    closer.cancel()
    await closer
    assert not closer.cancelled()


async def test_cleanup_already_under_cancellation_runs_to_the_end() -> None:
    """A closer called while its task is being cancelled (an `except CancelledError` or
    `__aexit__` cleanup) is not cut short for that older cancellation."""
    steps: list[str] = []
    started = asyncio.Event()

    async def owner() -> None:
        worker = asyncio.create_task(asyncio.sleep(3600))
        try:
            started.set()
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await reap(worker)
            steps.append("reaped")
            await asyncio.sleep(0)  # more cleanup after it
            steps.append("cleaned")
            assert worker.cancelled()
            raise

    task = asyncio.create_task(owner())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert steps == ["reaped", "cleaned"]


async def test_a_failed_task_is_logged_and_the_others_are_still_reaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fail() -> None:
        raise ValueError("bug in a background task")

    failing = asyncio.create_task(fail(), name="failing-task")
    sleeping = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="binguard.aio"):
        await reap(failing, None, sleeping)
    assert failing.done() and sleeping.cancelled()
    records = [r for r in caplog.records if r.name == "binguard.aio"]
    assert len(records) == 1 and "failing-task" in records[0].getMessage()
    assert records[0].exc_info is not None and records[0].exc_info[0] is ValueError


async def test_without_cancel_it_waits_for_the_task_to_end_by_itself() -> None:
    release = asyncio.Event()

    async def closing_handshake() -> str:
        await release.wait()
        return "closed"

    task = asyncio.create_task(closing_handshake())
    reaper = asyncio.create_task(reap(task, cancel=False))
    await asyncio.sleep(0)
    assert not reaper.done()
    release.set()
    await reaper
    assert task.result() == "closed"


async def test_nothing_to_reap_and_never_the_caller_itself() -> None:
    await reap()
    await reap(None, None)

    async def reaps_itself() -> str:
        await reap(asyncio.current_task())
        return "alive"

    assert await asyncio.create_task(reaps_itself()) == "alive"
