"""Fairness between store instances: a process that waited is not starved by a busy one.

The scenario every test builds: one window is full, both A (busy) and B (waiting) were refused in
it, and in the next window A gets there first, as a process whose clock wakes it earlier would.
"""

from __future__ import annotations

import asyncio
import time

from binguard.backends import BlockKind, Granted, Limit, LimitKind, Refused
from binguard.backends.redis import RedisBudgetStore
from binguard.errors import Interval
from binguard.policy.budget import RateBudget
from binguard.policy.weights import Cost

from .conftest import StoreFactory

W1S = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 10)
T0 = 20_834 * 86_400_000


async def grab(store: RedisBudgetStore, now_ms: int, n: int = 100) -> tuple[int, Refused | None]:
    """Reserve 1 unit up to `n` times at `now_ms`; the grants and the refusal that stopped it."""
    for i in range(n):
        outcome = await store.try_reserve(now_ms, [(W1S, 1)])
        if isinstance(outcome, Refused):
            return i, outcome
    return n, None


async def both_refused_in_first_window(a: RedisBudgetStore, b: RedisBudgetStore) -> None:
    got, _ = await grab(a, T0)
    assert got == 10
    assert isinstance(await b.try_reserve(T0 + 500, [(W1S, 1)]), Refused)


async def test_busy_process_is_capped_at_an_equal_share_while_a_waiter_has_a_claim(
    make_store: StoreFactory,
) -> None:
    a, b = make_store(), make_store()
    await both_refused_in_first_window(a, b)
    got, refused = await grab(a, T0 + 1_000)  # A wakes first in the next window
    assert got == 5  # ceil(10 / 2)
    assert refused == Refused(BlockKind.LIMIT, T0 + 1_025, W1S)  # come back soon, not next window
    got_b, _ = await grab(b, T0 + 1_100)  # B wakes 100 ms late and still finds its half
    assert got_b == 5


async def test_claims_end_once_granted_so_no_capacity_is_wasted(make_store: StoreFactory) -> None:
    a, b = make_store(), make_store()
    await both_refused_in_first_window(a, b)
    assert (await grab(a, T0 + 1_000))[0] == 5
    assert isinstance(await b.try_reserve(T0 + 1_100, [(W1S, 1)]), Granted)  # B wanted only 1
    assert (await grab(a, T0 + 1_130))[0] == 4  # the rest of the window goes to A


async def test_a_lone_process_is_never_capped(make_store: StoreFactory) -> None:
    a = make_store()
    assert (await grab(a, T0))[0] == 10
    assert (await grab(a, T0 + 1_000))[0] == 10  # its own claim does not cap it


async def test_without_fairness_the_late_waker_is_starved(make_store: StoreFactory) -> None:
    a, b = make_store(fairness=False), make_store(fairness=False)
    await both_refused_in_first_window(a, b)
    assert (await grab(a, T0 + 1_000))[0] == 10
    assert (await grab(b, T0 + 1_100))[0] == 0


async def test_fleet_of_budgets_on_a_real_clock_shares_the_windows(
    make_store: StoreFactory,
) -> None:
    """Two RateBudgets saturating 1 s windows; B's clock runs 150 ms late, so it always wakes
    after A has started: it still gets a fair part of every window, and no window is exceeded."""
    late_ms = 150
    a = RateBudget([W1S], store=make_store())
    b = RateBudget([W1S], store=make_store(), server_time=lambda: int(time.time() * 1000) - late_ms)
    grants: dict[str, dict[int, int]] = {"a": {}, "b": {}}
    end = (time.time() // 1 + 5) * 1000  # four or five whole windows

    async def run(name: str, budget: RateBudget) -> None:
        while time.time() * 1000 < end:
            ticket = await budget.acquire(Cost(1))
            window = ticket.held[0].window  # the window the fleet counted it in
            grants[name][window] = grants[name].get(window, 0) + 1
            await budget.settle(ticket, ok=True)

    await asyncio.gather(run("a", a), run("b", b))
    # whole windows after both were refused once: a claim needs a refusal to exist
    windows = sorted(set(grants["a"]) | set(grants["b"]))[2:-1]
    assert len(windows) >= 2
    for w in windows:
        total = grants["a"].get(w, 0) + grants["b"].get(w, 0)
        assert total <= 10
        assert grants["b"].get(w, 0) >= 3, (w, grants)  # not starved
