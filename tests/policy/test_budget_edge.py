"""The guard band at window edges: Binance counts a request in the window it arrives in, so a grant
in a window's last `edge_ms` is held until the edge and charged to the next window (found by
bench/bench_connector.py: without it, bursts starting just before an edge earned 429s and bans)."""

from __future__ import annotations

import asyncio

from binguard.backends import Limit, LimitKind
from binguard.errors import Interval
from binguard.policy.budget import RateBudget
from binguard.policy.clock import FakeClock
from binguard.policy.weights import Cost

SECOND_START = 1_767_225_600_000  # a whole second (and minute) in server ms


def _budget(clock: FakeClock, edge_ms: int = 20) -> RateBudget:
    limit = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 10)
    return RateBudget([limit], clock=clock, sleep=clock.sleep, edge_ms=edge_ms)


async def test_grant_near_the_edge_waits_and_lands_in_the_next_window() -> None:
    clock = FakeClock(wall=(SECOND_START + 995) / 1000)  # 5 ms before the window ends
    budget = _budget(clock)
    pending = asyncio.ensure_future(budget.acquire(Cost(weight=1)))
    await clock.sleepers_at_least(1)
    assert not pending.done()  # held at the edge, not granted into the ending window
    clock.advance(0.006)
    ticket = await pending
    assert ticket.granted_ms // 1000 == SECOND_START // 1000 + 1  # charged to the next window


async def test_grant_away_from_the_edge_is_immediate() -> None:
    clock = FakeClock(wall=(SECOND_START + 975) / 1000)  # 25 ms before the end: outside the band
    ticket = await _budget(clock).acquire(Cost(weight=1))
    assert ticket.granted_ms == SECOND_START + 975


async def test_edge_can_be_turned_off() -> None:
    clock = FakeClock(wall=(SECOND_START + 995) / 1000)
    ticket = await _budget(clock, edge_ms=0).acquire(Cost(weight=1))
    assert ticket.granted_ms == SECOND_START + 995
