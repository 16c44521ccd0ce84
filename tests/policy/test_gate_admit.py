"""`gate.admit(cost, deadline=...)` (policy/gate.py): acquire on entry, settle exactly once on
every exit. Most tests use a small recording fake gate (a fake for this one layer: it only
records the calls); one runs the real RateBudget with a FakeClock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from binguard.backends import Limit, LimitKind
from binguard.errors import (
    BinanceError,
    ConnectionDroppedError,
    HttpReply,
    Interval,
    RateHeaders,
    classify,
)
from binguard.policy import BanInForceError, Cost, FakeClock, RateBudget
from binguard.policy.gate import Admission, Admits, admit

from .store_contract import NOON

HEADERS = RateHeaders({"1m": 7}, {}, None)


class RecordingGate(Admits):
    """A fake gate: records acquire/settle/on_error; `settle_started`/`release` let a test hold
    a settle open to cancel the caller meanwhile."""

    def __init__(self, *, hold_settle: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.hold = hold_settle
        self.settle_started = asyncio.Event()
        self.release = asyncio.Event()

    async def acquire(self, cost: Cost, *, deadline: float | None) -> Any:
        self.calls.append(("acquire", cost.weight, deadline))
        return "ticket"

    async def settle(self, ticket: Any, *, ok: bool, headers: RateHeaders | None = None) -> None:
        self.settle_started.set()
        if self.hold:
            await self.release.wait()
        self.calls.append(("settle", ticket, ok, headers))

    async def on_error(self, error: BinanceError, *, sent_ms: int | None = None) -> None:
        self.calls.append(("on_error", type(error).__name__, sent_ms))

    def check(self) -> None:
        pass


async def test_a_success_settles_ok_with_the_headers() -> None:
    gate = RecordingGate()
    async with gate.admit(Cost(4), deadline=9.0) as slot:
        slot.sent_ms, slot.headers, slot.ok = 100, HEADERS, True
    assert gate.calls == [("acquire", 4, 9.0), ("settle", "ticket", True, HEADERS)]


async def test_an_exit_without_ok_settles_not_ok() -> None:
    gate = RecordingGate()
    async with gate.admit(Cost(1)):
        pass
    assert gate.calls[-1] == ("settle", "ticket", False, None)


async def test_a_typed_error_settles_then_reaches_on_error_with_the_send_time() -> None:
    gate = RecordingGate()
    refused = classify(HttpReply(429, {"Retry-After": "3"}, {"code": -1003, "msg": "Too many"}))
    assert refused is not None

    async def refused_after_sending() -> None:
        async with gate.admit(Cost(1)) as slot:
            slot.sent_ms, slot.headers = 55, HEADERS
            raise refused

    with pytest.raises(BinanceError):
        await refused_after_sending()
    assert gate.calls[1:] == [
        ("settle", "ticket", False, HEADERS),
        ("on_error", type(refused).__name__, 55),
    ]


async def test_the_gates_own_refusal_is_not_reported_back() -> None:
    gate = RecordingGate()
    with pytest.raises(BanInForceError):
        async with gate.admit(Cost(1)):
            raise BanInForceError(2_000, 1_000)
    assert [c[0] for c in gate.calls] == ["acquire", "settle"]


async def test_any_other_exception_settles_not_ok_and_is_not_reported() -> None:
    gate = RecordingGate()

    async def buggy() -> None:
        async with gate.admit(Cost(1)) as slot:
            slot.headers = HEADERS
            raise KeyError("bug")

    with pytest.raises(KeyError):
        await buggy()
    assert gate.calls[1:] == [("settle", "ticket", False, None)]


async def test_a_cancelled_caller_still_settles() -> None:
    """The settle is shielded: cancelling the caller while it settles does not cut it short."""
    gate = RecordingGate(hold_settle=True)
    entered = asyncio.Event()

    async def caller() -> None:
        async with gate.admit(Cost(1)):
            entered.set()
            await asyncio.Event().wait()  # in flight until cancelled

    task = asyncio.create_task(caller())
    await entered.wait()
    task.cancel()
    await gate.settle_started.wait()
    task.cancel()  # a second cancellation lands while the settle runs
    gate.release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(10):  # the shielded settle finishes on its own
        if gate.calls[-1][0] == "settle":
            break
        await asyncio.sleep(0)
    assert gate.calls[-1] == ("settle", "ticket", False, None)


async def test_no_gate_admits_everything() -> None:
    async with admit(None, None, deadline=None) as slot:
        assert isinstance(slot, Admission) and slot.ticket is None


async def test_with_the_real_budget_a_success_refunds_and_a_drop_keeps_the_charge() -> None:
    clock = FakeClock(wall=NOON / 1000)
    budget = RateBudget(
        [Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 100)],
        clock=clock,
        sleep=clock.sleep,
    )
    async with budget.admit(Cost(10, refund_if_ok=10)) as slot:
        slot.ok = True
    assert [u.used for u in (await budget.snapshot()).usage] == [0]
    with pytest.raises(ConnectionDroppedError):
        async with budget.admit(Cost(10, refund_if_ok=10)):
            raise ConnectionDroppedError("reset after sending")
    assert [u.used for u in (await budget.snapshot()).usage] == [10]
