"""What admits every request (REST, WebSocket API, connection attempts), and the one way to use it.

    async with gate.admit(cost, deadline=deadline) as slot:
        slot.sent_ms = clock.now_ms()
        answer = await send()
        slot.headers = answer.rate           # settled with the answer's rate headers
        if answer.failed:
            raise typed_error                # settled ok=False, and the error told to on_error
        slot.ok = True                       # settled ok=True: a success's refund comes back

`admit` acquires on entry and settles exactly once on every exit: a normal exit settles with
`slot.ok`; a typed error (`BinanceError`) settles `ok=False` and is then reported to
`on_error` (its 429 pause, 418 ban, -1015, counts); any other exit — a cancellation above all —
settles `ok=False` shielded, so the weight of a request that may have left is never given back
and a cancelled caller cannot leave a ticket unsettled. The gate's own refusals (`BanInForceError`,
`BudgetExhaustedError`, raised by `check()` between admission and the write) are no news to it
and are not reported back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import TracebackType
from typing import Any, Protocol, cast

from binguard.errors import BinanceError, RateHeaders

from .endpoints import Cost
from .refusals import BanInForceError, BudgetExhaustedError


class RateGate(Protocol):
    """The budget as a sender sees it (binguard.policy.budget.RateBudget): ask before sending,
    report after. `settle` runs for every ticket, even when the caller is cancelled."""

    async def acquire(self, cost: Cost, *, deadline: float | None) -> Any: ...

    async def settle(
        self, ticket: Any, *, ok: bool, headers: RateHeaders | None = None
    ) -> None: ...

    async def on_error(self, error: BinanceError, *, sent_ms: int | None = None) -> None: ...

    def check(self) -> None:
        """Raise (a typed BinanceError) if nothing may leave now: called right before the bytes
        of an admitted request are written, when a wait lay between (a new connection)."""

    def admit(self, cost: Cost, *, deadline: float | None = None) -> Admission:
        """`async with gate.admit(cost, deadline=...) as slot:`; see the module docstring."""


class Admission:
    """One admitted request: the ticket, and what its exit settles with; see the module docstring.

    `ok`: set True once the request succeeded; `headers`: the answer's rate headers (REST
    `X-MBX-*`, or a WebSocket API `rateLimits` read as them); `sent_ms`: server time of sending,
    for `on_error`. A gate of None admits everything and settles nothing (`admit(None, ...)`)."""

    __slots__ = ("_cost", "_deadline", "_gate", "headers", "ok", "sent_ms", "ticket")

    def __init__(self, gate: RateGate | None, cost: Cost | None, deadline: float | None) -> None:
        self._gate = gate
        self._cost = cost
        self._deadline = deadline
        self.ticket: Any = None
        self.ok = False
        self.headers: RateHeaders | None = None
        self.sent_ms: int | None = None

    async def __aenter__(self) -> Admission:
        gate = self._gate
        if gate is not None:
            assert self._cost is not None
            self.ticket = await gate.acquire(self._cost, deadline=self._deadline)
        return self

    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Awaitable[None]:
        # A plain method handing back the settle's own coroutine: one frame less per request
        # on the hot path (`async with` awaits whatever __aexit__ returns).
        gate = self._gate
        if gate is None:
            return _nothing()
        if exc is None:
            return gate.settle(self.ticket, ok=self.ok, headers=self.headers)
        return self._failed(gate, exc)

    async def _failed(self, gate: RateGate, exc: BaseException) -> None:
        if isinstance(exc, BinanceError):
            await gate.settle(self.ticket, ok=False, headers=self.headers)
            if not isinstance(exc, BanInForceError | BudgetExhaustedError):
                await gate.on_error(exc, sent_ms=self.sent_ms)
        else:
            # Cancelled (or a bug) mid-flight: the request may have left, so its weight counts.
            await asyncio.shield(gate.settle(self.ticket, ok=False))


async def _nothing() -> None:
    return None


def admit(gate: RateGate | None, cost: Cost | None, *, deadline: float | None) -> Admission:
    """`gate.admit(cost, deadline=...)`, or an admission that does nothing when `gate` is None."""
    if gate is None:
        return Admission(None, None, deadline)
    return gate.admit(cost if cost is not None else Cost(0), deadline=deadline)


class Admits:
    """Gives a gate with `acquire`/`settle`/`on_error` its `admit()` (RateBudget inherits it)."""

    __slots__ = ()

    def admit(self, cost: Cost, *, deadline: float | None = None) -> Admission:
        """`async with gate.admit(cost, deadline=...) as slot:`; see the module docstring."""
        return Admission(cast(RateGate, self), cost, deadline)
