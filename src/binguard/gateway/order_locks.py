"""One handler per client order id at a time (order_guard.py): a bot's re-send of an order
waits for the first attempt, and a background settle for both.

A free id is taken at once, without suspending (`try_hold`): the WebSocket API path journals
and sends an order in its socket's own order (ws_orders.py), so its requests keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class BusyError(Exception):
    """The client id stayed held by another handler until the deadline."""


class IdLocks:
    """Held ids, each with the handlers waiting for it (served first come, first served)."""

    def __init__(self) -> None:
        self._held: dict[str, list[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._held)

    def try_hold(self, coid: str) -> bool:
        """Take `coid` if it is free (then `release` it); never waits."""
        if coid in self._held:
            return False
        self._held[coid] = []
        return True

    def release(self, coid: str) -> None:
        """Hand `coid` to its next waiter, or free it."""
        waiters = self._held[coid]
        while waiters:
            nxt = waiters.pop(0)
            if not nxt.done():
                nxt.set_result(None)
                return
        del self._held[coid]

    @contextlib.asynccontextmanager
    async def hold(self, coid: str, deadline: float | None) -> AsyncIterator[None]:
        """Hold `coid`; `BusyError` if it is not free by `deadline` (monotonic)."""
        if not self.try_hold(coid):
            await self._wait(coid, deadline)
        try:
            yield
        finally:
            self.release(coid)

    async def _wait(self, coid: str, deadline: float | None) -> None:
        turn = asyncio.get_running_loop().create_future()
        self._held[coid].append(turn)
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            async with asyncio.timeout(wait):
                await turn
        except BaseException as e:
            if turn.done() and not turn.cancelled():  # handed over as it ended: hand it on
                self.release(coid)
            else:
                turn.cancel()
            if isinstance(e, TimeoutError):
                raise BusyError(coid) from None
            raise
