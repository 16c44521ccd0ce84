"""Reaping background tasks on a close path without swallowing the closer's own cancellation.

    await reap(self._reader, self._watchdog)      # None entries are skipped

The idiom it replaces, `task.cancel(); with suppress(CancelledError): await task`, cannot tell the
task's CancelledError (expected: we cancelled it) from one aimed at the closer (someone cancelled
`close()` itself): it swallows both, so a cancelled `close()` returns normally and its caller goes
on as if nothing happened. `asyncio.gather(..., return_exceptions=True)` turns the tasks' outcomes
into values, so only a cancellation of the closer is raised.

Shared by every layer (simulator, transport, connector): it knows nothing of Binance.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("binguard.aio")


async def reap(*tasks: asyncio.Future[Any] | None, cancel: bool = True) -> None:
    """Cancel `tasks` (unless `cancel` is False: tasks that end by themselves, such as a socket's
    close handshake) and wait until every one has ended.

    - A cancellation of the calling task while it waits is raised, never swallowed; so is one
      requested during the wait and not yet delivered (`Task.cancelling()` grew). A caller that
      was already being cancelled when it started (cleanup in an `except CancelledError` or
      `__aexit__`) is not interrupted for that older request: its cleanup runs to the end.
    - A task that failed with another exception does not stop the reaping of the others, nor the
      rest of the close path: the failure is logged with its traceback (a crash in a background
      task is a bug to see, and a close must still release sockets and sessions).
    - `None` entries, the calling task itself and tasks already done are fine.
    """
    me = asyncio.current_task()
    live = [t for t in tasks if t is not None and t is not me]
    if not live:
        return
    before = me.cancelling() if me is not None else 0
    if cancel:
        for task in live:
            task.cancel()
    outcomes = await asyncio.gather(*live, return_exceptions=True)
    for task, outcome in zip(live, outcomes, strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
            log.error("task %s ended with an error", name, exc_info=outcome)
    if me is not None and me.cancelling() > before:
        raise asyncio.CancelledError
