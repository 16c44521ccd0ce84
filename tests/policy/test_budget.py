"""RateBudget: waiting, fairness, deadlines, bans, pauses and corrections, on a FakeClock."""

from __future__ import annotations

import asyncio
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from binguard.backends import Limit, LimitKind, MemoryStore
from binguard.errors import (
    HttpReply,
    Interval,
    IpBannedError,
    RateHeaders,
    RateLimitedError,
    classify,
)
from binguard.policy import (
    BanInForceError,
    BudgetExhaustedError,
    Cost,
    FakeClock,
    RateBudget,
    Ticket,
    rest_cost,
    ws_rate_headers,
)
from binguard.policy.budget import BAN_MARGIN_MS

from .store_contract import NOON

READ = Cost(1)
PLACE = rest_cost("POST", "/api/v3/order")


def limit(kind: LimitKind, num: int, unit: str, n: int) -> Limit:
    return Limit(kind, Interval(num, unit), n)


def budget_with(*limits: Limit, margin: float = 1.0) -> tuple[RateBudget, FakeClock]:
    clock = FakeClock(wall=NOON / 1000)
    return RateBudget(limits, clock=clock, sleep=clock.sleep, margin=margin), clock


def now_deadline(clock: FakeClock) -> float:
    return clock.monotonic()  # no waiting at all


async def used(budget: RateBudget) -> list[int]:
    return [u.used for u in (await budget.snapshot()).usage]


def body_error(status: int, code: int, msg: str, **headers: str) -> RateLimitedError:
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    err = classify(HttpReply(status, hdrs, {"code": code, "msg": msg}))
    assert isinstance(err, RateLimitedError)
    return err


# -- limits ------------------------------------------------------------------------------------
def test_from_exchange_info_with_margin() -> None:
    info = {
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 300000,
            },
        ]
    }
    budget = RateBudget.from_exchange_info(info, margin=0.95, clock=FakeClock())
    assert [(x.key, x.limit) for x in budget.limits] == [
        ("REQUEST_WEIGHT:1M", 5700),
        ("ORDERS:10S", 47),
        ("ORDERS:1D", 152000),
        ("RAW_REQUESTS:5M", 285000),
    ]


def test_margin_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="margin"):
        budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 10), margin=1.5)


async def test_each_cost_goes_to_its_limits() -> None:
    budget, _ = budget_with(
        limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100),
        limit(LimitKind.ORDERS, 10, "SECOND", 5),
        limit(LimitKind.RAW_REQUESTS, 5, "MINUTE", 100),
    )
    await budget.acquire(rest_cost("GET", "/api/v3/depth", {"limit": 500}))
    await budget.acquire(PLACE)
    assert await used(budget) == [26, 1, 2]


async def test_a_request_that_can_never_fit_fails_at_once() -> None:
    budget, _ = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100))
    with pytest.raises(BudgetExhaustedError, match="never fit") as info:
        await budget.acquire(rest_cost("GET", "/api/v3/depth", {"limit": 5000}))
    assert info.value.retry_after is None
    assert info.value.limit == 100


# -- waiting -----------------------------------------------------------------------------------
async def test_fails_fast_when_the_reset_is_after_the_deadline() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 10))
    clock.advance(15)  # 12:00:15; the window resets at 12:01:00
    await budget.acquire(Cost(10))
    with pytest.raises(BudgetExhaustedError) as info:
        await budget.acquire(READ, deadline=clock.monotonic() + 44)
    err = info.value
    assert err.retry_after == pytest.approx(45)
    assert (err.limit, err.interval) == (10, Interval(1, "MINUTE"))
    assert isinstance(err, RateLimitedError) and not err.may_have_executed
    assert clock.sleeping == 0  # refused without sleeping


async def test_waits_until_the_window_resets() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 10, "SECOND", 2))
    clock.advance(3)
    await budget.acquire(Cost(2))
    task = asyncio.create_task(budget.acquire(READ, deadline=clock.monotonic() + 7))
    await clock.sleepers_at_least(1)
    assert clock.advance_to_next() == pytest.approx(7)  # asleep until 12:00:10 exactly
    ticket = await asyncio.wait_for(task, 1)
    assert ticket.granted_ms == NOON + 10_000


async def grant_order(
    budget: RateBudget, clock: FakeClock, names: list[str], costs: list[Cost]
) -> list[str]:
    order: list[str] = []

    async def one(name: str, cost: Cost) -> None:
        await budget.acquire(cost)
        order.append(name)

    tasks = [asyncio.create_task(one(n, c)) for n, c in zip(names, costs, strict=True)]
    while pending := [t for t in tasks if not t.done()]:
        sleeping = asyncio.create_task(clock.sleepers_at_least(1))
        done, _ = await asyncio.wait(
            [sleeping, *pending], return_when=asyncio.FIRST_COMPLETED, timeout=5
        )
        assert done, "neither a sleeper nor a grant: the budget is stuck"
        if sleeping.done():
            clock.advance_to_next()
        else:
            sleeping.cancel()
            await asyncio.gather(sleeping, return_exceptions=True)
    await asyncio.gather(*tasks)
    return order


async def test_waiters_are_served_first_come_first_served() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 1))
    await budget.acquire(READ)
    order = await grant_order(budget, clock, list("abcde"), [READ] * 5)
    assert order == list("abcde")
    assert clock.time() == NOON / 1000 + 5 * 60  # one per window, no window wasted


async def test_a_small_request_does_not_overtake_a_large_one() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 3))
    await budget.acquire(Cost(2))  # 1 left: enough for "small", not for "large"
    order = await grant_order(budget, clock, ["large", "small"], [Cost(3), Cost(1)])
    assert order == ["large", "small"]


async def test_waiter_behind_the_line_fails_fast_if_its_deadline_is_too_early() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 1))
    await budget.acquire(READ)
    head = asyncio.create_task(budget.acquire(READ))
    await clock.sleepers_at_least(1)
    with pytest.raises(BudgetExhaustedError, match="ahead in line"):
        await asyncio.wait_for(budget.acquire(READ, deadline=clock.monotonic() + 30), 1)
    clock.advance_to_next()
    await asyncio.wait_for(head, 1)


async def test_queued_deadlines_are_failed_as_soon_as_they_cannot_be_met() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 1))
    t0 = clock.monotonic()
    await budget.acquire(READ)
    a = asyncio.create_task(budget.acquire(READ))  # granted at 60 s
    await clock.sleepers_at_least(1)
    b = asyncio.create_task(budget.acquire(READ, deadline=t0 + 90))  # would need 120 s
    c = asyncio.create_task(budget.acquire(READ, deadline=t0 + 200))  # 120 s: fine
    d = asyncio.create_task(budget.acquire(READ, deadline=t0 + 100))  # would need 180 s
    await asyncio.sleep(0)
    clock.advance_to_next()  # 60 s: a is granted; b learns at once that 120 > 90
    await asyncio.wait_for(a, 1)
    with pytest.raises(BudgetExhaustedError):
        await asyncio.wait_for(b, 1)
    with pytest.raises(BudgetExhaustedError):  # c is head now (until 120 s): d fails at 60 s
        await asyncio.wait_for(d, 1)
    assert clock.monotonic() == t0 + 60
    await clock.sleepers_at_least(1)
    clock.advance_to_next()
    await asyncio.wait_for(c, 1)


async def test_cancelled_waiters_leave_the_line() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 1))
    await budget.acquire(READ)
    a = asyncio.create_task(budget.acquire(READ))
    await clock.sleepers_at_least(1)
    b = asyncio.create_task(budget.acquire(READ))
    c = asyncio.create_task(budget.acquire(READ))
    await asyncio.sleep(0)
    b.cancel()
    a.cancel()  # the head, asleep: its sleep is cancelled and c takes its place
    for t in (a, b):
        with pytest.raises(asyncio.CancelledError):
            await t
    await clock.sleepers_at_least(1)
    clock.advance_to_next()
    assert isinstance(await asyncio.wait_for(c, 1), Ticket)
    assert clock.sleeping == 0


# -- settling and corrections --------------------------------------------------------------------
async def test_a_successful_order_gives_its_weight_back_and_wakes_the_line() -> None:
    """CHANGELOG 2026-03-27: successful order placement costs 0 weight; failed ones pay."""
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 1))
    ticket = await budget.acquire(PLACE)
    waiting = asyncio.create_task(budget.acquire(READ))
    await clock.sleepers_at_least(1)
    await budget.settle(ticket, ok=True)
    await asyncio.wait_for(waiting, 1)  # no time passed
    assert clock.time() == NOON / 1000


async def test_a_failed_order_keeps_its_weight_and_double_settle_is_harmless() -> None:
    budget, _ = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 5))
    ticket = await budget.acquire(PLACE)
    await budget.settle(ticket, ok=False)
    await budget.settle(ticket, ok=True)
    assert await used(budget) == [1]


async def test_headers_raise_the_weight_to_what_binance_counts() -> None:
    """rest-api.md: X-MBX-USED-WEIGHT-1M is the IP's weight, other programs included."""
    budget, clock = budget_with(
        limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100),
        limit(LimitKind.ORDERS, 10, "SECOND", 10),
    )
    ticket = await budget.acquire(PLACE)
    clock.advance(0.2)
    await budget.settle(ticket, ok=True, headers=RateHeaders({"1M": 95}, {"10S": 4, "1D": 9}, None))
    assert await used(budget) == [95, 4]
    with pytest.raises(BudgetExhaustedError):
        await budget.acquire(Cost(6), deadline=now_deadline(clock))
    await budget.acquire(Cost(5))


async def test_headers_from_a_previous_window_are_ignored() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100))
    clock.advance(59.9)
    ticket = await budget.acquire(READ)
    clock.advance(0.2)  # the response arrives in the next minute
    await budget.settle(ticket, ok=True, headers=RateHeaders({"1M": 99}, {}, None))
    assert await used(budget) == [0]


# -- 429 and 418 ---------------------------------------------------------------------------------
async def test_429_pauses_the_pool_for_retry_after() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100))
    err = body_error(
        429,
        -1003,
        "Too much request weight used; current limit is 100 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        Retry_After="7",
        X_MBX_USED_WEIGHT_1M="101",
    )
    await budget.on_error(err)
    assert await used(budget) == [101]
    clock.advance(60)  # a new minute, but the pause holds everyone back
    await budget.on_error(body_error(429, -1003, "Too many requests queued.", Retry_After="7"))
    with pytest.raises(BudgetExhaustedError, match="paused") as info:
        await budget.acquire(READ, deadline=clock.monotonic() + 6)
    assert info.value.retry_after == pytest.approx(7)
    task = asyncio.create_task(budget.acquire(READ))
    await clock.sleepers_at_least(1)
    assert clock.advance_to_next() == pytest.approx(7)
    await asyncio.wait_for(task, 1)


async def test_429_without_retry_after_pauses_to_the_end_of_the_named_window() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100))
    clock.advance(20)
    await budget.on_error(body_error(429, -1003, "Too many requests queued."))
    assert (await budget.snapshot()).paused_until_ms == NOON + 60_000


async def test_minus_1015_fills_the_orders_window_but_reads_go_on() -> None:
    """rest-api.md §Unfilled Order Count: stop sending orders until the interval expires."""
    budget, clock = budget_with(
        limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100),
        limit(LimitKind.ORDERS, 10, "SECOND", 50),
        limit(LimitKind.ORDERS, 1, "DAY", 1000),
    )
    clock.advance(4)
    await budget.on_error(
        body_error(429, -1015, "Too many new orders; current limit is 50 orders per 10 SECOND.")
    )
    with pytest.raises(BudgetExhaustedError) as info:
        await budget.acquire(PLACE, deadline=now_deadline(clock))
    assert info.value.retry_after == pytest.approx(6)
    await budget.acquire(READ, deadline=now_deadline(clock))
    clock.advance(6)
    await budget.acquire(PLACE, deadline=now_deadline(clock))


BAN_MSG = (
    "Way too much request weight used; IP banned until {}. "
    "Please use WebSocket Streams for live updates to avoid bans."
)


async def test_418_opens_the_breaker_for_everyone_at_once() -> None:
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 1))
    await budget.acquire(READ)
    waiting = [asyncio.create_task(budget.acquire(READ)) for _ in range(3)]
    await clock.sleepers_at_least(1)
    ban_end = NOON + 180_000
    await budget.on_error(body_error(418, -1003, BAN_MSG.format(ban_end), Retry_After="180"))
    # The breaker stays open a margin past the stated end: our estimate of Binance's clock is off
    # by up to half an RTT, and a request landing a ms early would earn a new ban.
    expected_end = datetime.fromtimestamp((ban_end + BAN_MARGIN_MS) / 1000, tz=UTC)
    for task in waiting:  # every waiter hears about the ban without any time passing
        with pytest.raises(BanInForceError) as info:
            await asyncio.wait_for(task, 1)
        assert info.value.banned_until == expected_end
    assert clock.time() == NOON / 1000
    with pytest.raises(IpBannedError) as direct:
        # even without a deadline: never probe a ban
        await asyncio.wait_for(budget.acquire(READ, deadline=None), 1)
    assert direct.value.retry_after == pytest.approx(180 + BAN_MARGIN_MS / 1000)
    clock.advance(180)
    with pytest.raises(BanInForceError):  # stated end reached, margin not yet
        await asyncio.wait_for(budget.acquire(READ), 1)
    clock.advance(BAN_MARGIN_MS / 1000)
    await budget.acquire(READ)


async def test_check_refuses_during_a_known_ban_only() -> None:
    """check() is the transport's synchronous last look before writing an admitted request."""
    budget, clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 10))
    budget.check()  # no ban known: passes
    await budget.ban(NOON + 5_000)
    with pytest.raises(BanInForceError) as info:
        budget.check()
    assert info.value.retry_after == pytest.approx(5)
    clock.advance(5)
    budget.check()


async def test_418_with_only_retry_after() -> None:
    budget, _clock = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 10))
    await budget.on_error(body_error(418, -1003, "Too many requests queued.", Retry_After="300"))
    assert (await budget.snapshot()).banned_until_ms == NOON + 300_000 + BAN_MARGIN_MS


async def test_ban_from_another_process_is_seen_on_the_next_acquire() -> None:
    store = MemoryStore()  # stands for the shared (Redis) store
    clock = FakeClock(wall=NOON / 1000)
    mine = RateBudget([limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 10)], store=store, clock=clock)
    other = RateBudget([limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 10)], store=store, clock=clock)
    await other.ban(NOON + 120_000)
    with pytest.raises(BanInForceError):
        await asyncio.wait_for(mine.acquire(READ), 1)


def test_local_refusals_are_typed_and_pickle() -> None:
    ban = BanInForceError(NOON + 120_000, NOON)
    assert isinstance(ban, IpBannedError) and not ban.may_have_executed
    assert ban.banned_until == datetime(2026, 1, 1, 12, 2, tzinfo=UTC)
    again = pickle.loads(pickle.dumps(ban))
    assert again.banned_until == ban.banned_until and again.retry_after == 120
    exhausted = BudgetExhaustedError("x", wait=3.0)
    assert pickle.loads(pickle.dumps(exhausted)).retry_after == 3.0


def test_ws_api_rate_limits_read_as_headers() -> None:
    """web-socket-api.md: responses carry rateLimits [{rateLimitType, interval, intervalNum,
    limit, count}] instead of X-MBX-* headers."""
    rate = ws_rate_headers(
        [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
                "count": 70,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": 50,
                "count": 3,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "DAY",
                "intervalNum": 1,
                "limit": 160000,
                "count": 9,
            },
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 300000,
                "count": 4,
            },
            {"rateLimitType": "ORDERS", "interval": "FORTNIGHT", "count": 1},
        ]
    )
    assert rate == RateHeaders({"1M": 70}, {"10S": 3, "1D": 9}, None)


async def test_minus_1015_without_known_orders_limits_pauses_everything() -> None:
    budget, _ = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100))
    await budget.on_error(body_error(429, -1015, "Too many new orders.", Retry_After="3"))
    assert (await budget.snapshot()).paused_until_ms == NOON + 3_000


async def test_local_refusals_change_nothing() -> None:
    budget, _ = budget_with(limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100))
    await budget.on_error(BudgetExhaustedError("x", wait=30.0))
    await budget.on_error(BanInForceError(NOON + 1, NOON))
    snap = await budget.snapshot()
    assert (snap.paused_until_ms, snap.banned_until_ms) == (None, None)


class CountingStore(MemoryStore):
    """A MemoryStore subclass that counts its async steps (a fake for this one check: the
    budget must keep calling a subclass through the BudgetStore protocol)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[str] = []

    async def try_reserve(self, now_ms: int, charges: Any) -> Any:
        self.steps.append("try_reserve")
        return await super().try_reserve(now_ms, charges)

    async def settle(self, held: Any, refunds: Any) -> None:
        self.steps.append("settle")
        await super().settle(held, refunds)

    async def observe(self, sent_ms: int, now_ms: int, counts: Any) -> None:
        self.steps.append("observe")
        await super().observe(sent_ms, now_ms, counts)


@pytest.mark.parametrize("store_kind", ["memory", "subclass"])
async def test_a_memory_store_and_a_subclass_count_alike(store_kind: str) -> None:
    """The budget calls a plain MemoryStore through its synchronous steps, and anything else
    (here a subclass that watches the calls) through the async protocol; the counts agree."""
    store = MemoryStore() if store_kind == "memory" else CountingStore()
    clock = FakeClock(wall=NOON / 1000)
    w1m = limit(LimitKind.REQUEST_WEIGHT, 1, "MINUTE", 100)
    o10s = limit(LimitKind.ORDERS, 10, "SECOND", 5)
    budget = RateBudget([w1m, o10s], store=store, clock=clock, sleep=clock.sleep)
    ticket = await budget.acquire(PLACE)
    assert await used(budget) == [PLACE.weight, 1]
    await budget.settle(ticket, ok=True, headers=RateHeaders({"1M": 40}, {"10S": 3}, None))
    assert await used(budget) == [40, 3]
    snap = await budget.snapshot()
    assert [u.in_flight for u in snap.usage] == [0, 0]
    if isinstance(store, CountingStore):
        assert store.steps == ["try_reserve", "settle", "observe"]
