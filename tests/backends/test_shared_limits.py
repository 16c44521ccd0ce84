"""The fleet's rate limits kept in Redis, so that a member's start-up requests are admitted by the
shared windows before it has read exchangeInfo itself (issue #12 item 1, start-up half).

A real redis-server; the budget (`RateBudget`) on top is the real one. The connector's use of it
(load before the first request of `open()`, save after each exchangeInfo) is the lead's to add.
"""

from __future__ import annotations

import logging
import time

import pytest
import redis

from binguard.backends import Limit, LimitKind, MemoryStore, SharesLimits
from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions
from binguard.errors import Interval
from binguard.policy.budget import BudgetExhaustedError, RateBudget
from binguard.policy.weights import rest_cost

from ._server import RedisServer
from .conftest import StoreFactory

# GET /api/v3/exchangeInfo rateLimits, as rest-api.md documents them (the simulator's defaults)
SPOT = (
    Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 6000),
    Limit(LimitKind.ORDERS, Interval(10, "SECOND"), 100),
    Limit(LimitKind.ORDERS, Interval(1, "DAY"), 200_000),
    Limit(LimitKind.RAW_REQUESTS, Interval(5, "MINUTE"), 61_000),
)
T0 = 20_834 * 86_400_000


async def test_limits_saved_by_one_member_are_loaded_by_the_next(make_store: StoreFactory) -> None:
    first, later = make_store(), make_store()
    assert isinstance(first, SharesLimits)
    assert await later.load_limits() == ()  # nobody saved yet
    await first.save_limits(SPOT)
    assert await later.load_limits() == SPOT
    await later.save_limits(SPOT[:1])  # the last writer wins (exchangeInfo refreshed)
    assert await first.load_limits() == SPOT[:1]


async def test_a_new_member_is_held_by_the_fleets_window_at_start_up(
    make_store: StoreFactory,
) -> None:
    """The fleet has used this minute's weight; the new member's exchangeInfo waits for it."""
    running, new = make_store(), make_store()
    await running.save_limits(SPOT)
    await running.observe(T0 + 5, T0 + 6, [(SPOT[0], 5_990)])  # a header: 5,990 of 6,000 used
    exchange_info = rest_cost("GET", "/api/v3/exchangeInfo")  # weight 20

    # Today's start-up: no limits before exchangeInfo, so nothing holds the request back.
    blind = RateBudget([], store=new, server_time=lambda: T0 + 10)
    ticket = await blind.acquire(exchange_info, deadline=time.monotonic() + 0.1)
    assert ticket.held == ()  # admitted on no limit at all: a 429 from Binance

    # With the limits the fleet saved, the same request is refused before it is sent.
    budget = RateBudget(await new.load_limits(), store=new, server_time=lambda: T0 + 10)
    with pytest.raises(BudgetExhaustedError, match="REQUEST_WEIGHT:1M"):
        await budget.acquire(exchange_info, deadline=time.monotonic() + 0.1)
    ping = await budget.acquire(rest_cost("GET", "/api/v3/ping"), deadline=time.monotonic() + 1)
    assert [h.limit.key for h in ping.held] == ["REQUEST_WEIGHT:1M", "RAW_REQUESTS:5M"]


async def test_unreadable_limits_are_ignored_with_a_warning(
    make_store: StoreFactory, rclient: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store()
    for junk in (b"not json", b'{"a": 1}', b'[{"rateLimitType": "ORDERS", "limit": 0}]'):
        rclient.set(store.limits_key(), junk)
        with caplog.at_level(logging.WARNING, logger="binguard.backends.redis"):
            assert await store.load_limits() == ()
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 3


async def test_limits_are_best_effort_while_redis_is_away(own_redis: RedisServer) -> None:
    options = RedisStoreOptions(prefix="sl", timeout=0.2, max_skew_ms=None)
    async with RedisBudgetStore.from_url(
        own_redis.url, ip="10.0.0.9", account="a", options=options
    ) as store:
        await store.save_limits(SPOT)
        own_redis.kill()
        started = time.monotonic()
        assert await store.load_limits() == ()  # nothing known: the caller starts as today
        await store.save_limits(SPOT)  # no error either
        assert time.monotonic() - started < 2.0
        assert not store.degraded  # no fallback for this: it is not a budget step


async def test_the_memory_store_keeps_limits_for_its_own_process() -> None:
    store = MemoryStore()
    assert isinstance(store, SharesLimits)
    await store.save_limits(SPOT)
    assert await store.load_limits() == SPOT
