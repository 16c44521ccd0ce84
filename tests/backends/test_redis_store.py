"""The Redis store's atomic steps, checked against what Redis itself holds (a real redis-server).

Time is explicit: every call gets `now_ms`, so windows are chosen by the test, not by the clock.
"""

from __future__ import annotations

import logging
import time

import pytest
import redis

from binguard.backends import (
    BlockKind,
    Granted,
    Limit,
    LimitKind,
    MemoryStore,
    Refused,
    StoreConfigError,
)
from binguard.backends.redis import RedisBudgetStore
from binguard.backends.redis_url import store_from_url
from binguard.errors import Interval

from .conftest import StoreFactory

W1S = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 10)
W1M = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 100)
O10S = Limit(LimitKind.ORDERS, Interval(10, "SECOND"), 5)
O1D = Limit(LimitKind.ORDERS, Interval(1, "DAY"), 50)
T0 = 20_834 * 86_400_000  # a day (so minute, 10 s) boundary: windows start here


def used(r: redis.Redis, store: RedisBudgetStore, limit: Limit, window: int) -> int:
    return int(r.hget(store.window_key(limit, window), "used") or 0)


async def test_reserves_on_every_limit_or_on_none(
    make_store: StoreFactory, rclient: redis.Redis
) -> None:
    store = make_store()
    charges = [(W1M, 3), (O10S, 2), (O1D, 2)]
    held = []
    for _ in range(2):
        outcome = await store.try_reserve(T0 + 10, charges)
        assert isinstance(outcome, Granted)
        held.append(outcome)
    refused = await store.try_reserve(T0 + 20, charges)  # O10S: 4 + 2 > 5
    assert refused == Refused(BlockKind.LIMIT, T0 + 10_000, O10S)
    # nothing was written for the refused request, on any limit
    assert used(rclient, store, W1M, T0) == 6
    assert used(rclient, store, O10S, T0) == 4
    assert used(rclient, store, O1D, T0) == 4
    # the next 10 s window has room again; the minute and day go on counting
    assert isinstance(await store.try_reserve(T0 + 10_000, charges), Granted)
    assert used(rclient, store, O10S, T0 + 10_000) == 2
    assert used(rclient, store, W1M, T0) == 9
    assert used(rclient, store, O1D, T0) == 6


async def test_refusal_names_the_limit_that_resets_last(make_store: StoreFactory) -> None:
    store = make_store()
    await store.observe(T0, T0, [(W1M, 100), (O10S, 5)])  # both full
    refused = await store.try_reserve(T0 + 5, [(O10S, 1), (W1M, 1)])
    assert refused == Refused(BlockKind.LIMIT, T0 + 60_000, W1M)


async def test_ban_is_checked_first_then_pause(make_store: StoreFactory) -> None:
    store = make_store()
    await store.block(BlockKind.PAUSE, T0 + 2_000)
    await store.block(BlockKind.BAN, T0 + 1_000)
    assert await store.try_reserve(T0, [(W1S, 1)]) == Refused(BlockKind.BAN, T0 + 1_000)
    assert await store.try_reserve(T0 + 1_000, [(W1S, 1)]) == Refused(BlockKind.PAUSE, T0 + 2_000)
    assert await store.blocked(T0 + 1_500) == Refused(BlockKind.PAUSE, T0 + 2_000)
    assert isinstance(await store.try_reserve(T0 + 2_000, [(W1S, 1)]), Granted)
    assert await store.blocked(T0 + 2_000) is None


async def test_a_later_block_wins_and_an_earlier_one_does_not_shorten_it(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    await store.block(BlockKind.BAN, T0 + 5_000)
    await store.block(BlockKind.BAN, T0 + 1_000)
    assert await store.blocked(T0 + 2_000) == Refused(BlockKind.BAN, T0 + 5_000)
    await store.block(BlockKind.BAN, T0 + 9_000)
    assert await store.blocked(T0 + 6_000) == Refused(BlockKind.BAN, T0 + 9_000)


async def test_keys_expire_by_themselves(make_store: StoreFactory, rclient: redis.Redis) -> None:
    store = make_store()
    await store.try_reserve(T0, [(W1S, 1), (W1M, 1)])
    await store.block(BlockKind.BAN, int(time.time() * 1000) + 5_000)
    assert 1_000 < rclient.pttl(store.window_key(W1S, T0)) <= 2_000  # 2 x interval
    assert 60_000 < rclient.pttl(store.window_key(W1M, T0)) <= 120_000
    # a ban key lives until its end (Redis clock) plus a grace; its value is what decides
    assert 3_600_000 < rclient.pttl(store.block_key(BlockKind.BAN)) <= 3_605_000


async def test_keys_are_namespaced_by_prefix_ip_and_account(
    make_store: StoreFactory, prefix: str, rclient: redis.Redis
) -> None:
    a = make_store(ip="10.0.0.1", account="alice")
    b = make_store(ip="10.0.0.2", account="alice")  # other IP, same account
    c = make_store(ip="10.0.0.1", account="bob", prefix=prefix + "x")  # other fleet
    assert a.window_key(W1S, T0) == f"{{{prefix}}}:ip:10.0.0.1:REQUEST_WEIGHT:1S:{T0}"
    assert a.window_key(O10S, T0) == f"{{{prefix}}}:account:alice:ORDERS:10S:{T0}"
    await a.observe(T0, T0, [(W1S, 10), (O10S, 5)])
    assert isinstance(await b.try_reserve(T0, [(W1S, 1)]), Granted)  # weight is per IP
    assert isinstance(await b.try_reserve(T0, [(O10S, 1)]), Refused)  # orders per account
    assert isinstance(await c.try_reserve(T0, [(W1S, 1), (O10S, 1)]), Granted)
    await a.block(BlockKind.BAN, T0 + 1_000)
    assert isinstance(await b.try_reserve(T0, [(W1S, 1)]), Granted)  # a ban is per IP
    assert sorted(rclient.keys(f"{{{prefix}}}:*")) == sorted(
        [
            a.window_key(W1S, T0),
            a.window_key(O10S, T0),
            b.window_key(W1S, T0),
            a.block_key(BlockKind.BAN),
        ]
    )


async def test_a_store_without_an_account_fails_when_built(make_store: StoreFactory) -> None:
    with pytest.raises(StoreConfigError, match="account="):
        make_store(account=None)


async def test_settle_ends_flight_and_refunds(make_store: StoreFactory) -> None:
    store = make_store()
    outcome = await store.try_reserve(T0, [(W1M, 4), (O10S, 1)])
    assert isinstance(outcome, Granted)
    snap = await store.snapshot(T0 + 1, [W1M, O10S])
    assert [(u.used, u.in_flight) for u in snap.usage] == [(4, 4), (1, 1)]
    await store.settle(outcome.held, [3, 0])
    snap = await store.snapshot(T0 + 2, [W1M, O10S])
    assert [(u.used, u.in_flight) for u in snap.usage] == [(1, 0), (1, 0)]


async def test_settle_does_not_recreate_an_expired_window(
    make_store: StoreFactory, rclient: redis.Redis
) -> None:
    store = make_store()
    outcome = await store.try_reserve(T0, [(W1S, 2)])
    assert isinstance(outcome, Granted)
    rclient.delete(store.window_key(W1S, T0))  # what expiry does
    await store.settle(outcome.held, [2])
    assert not rclient.exists(store.window_key(W1S, T0))


# -- header reconciliation ------------------------------------------------------------------------
async def test_weight_header_is_a_max_inside_the_window(make_store: StoreFactory) -> None:
    store = make_store()
    await store.try_reserve(T0, [(W1M, 30)])
    await store.observe(T0, T0 + 100, [(W1M, 50)])  # others on the IP: up
    assert (await store.snapshot(T0 + 100, [W1M])).usage[0].used == 50
    await store.observe(T0, T0 + 200, [(W1M, 20)])  # a stale, lower count: never down
    assert (await store.snapshot(T0 + 200, [W1M])).usage[0].used == 50


async def test_orders_header_may_lower_the_count_plus_in_flight(make_store: StoreFactory) -> None:
    store = make_store()
    first = await store.try_reserve(T0, [(O10S, 2)])
    second = await store.try_reserve(T0, [(O10S, 2)])
    assert isinstance(first, Granted)
    assert isinstance(second, Granted)
    await store.settle(first.held, [0])
    await store.observe(T0, T0 + 50, [(O10S, 1)])  # one filled: server counts 1, 2 still in flight
    usage = (await store.snapshot(T0 + 50, [O10S])).usage[0]
    assert (usage.used, usage.in_flight) == (3, 2)
    await store.settle(second.held, [0])
    await store.observe(T0, T0 + 60, [(O10S, 0)])  # all filled
    assert (await store.snapshot(T0 + 60, [O10S])).usage[0].used == 0


async def test_headers_apply_only_when_request_and_response_share_the_window(
    make_store: StoreFactory, rclient: redis.Redis
) -> None:
    store = make_store()
    await store.observe(T0 + 59_900, T0 + 60_100, [(W1M, 99)])  # sent in the previous minute
    assert not rclient.exists(store.window_key(W1M, T0 + 60_000))
    assert not rclient.exists(store.window_key(W1M, T0))
    await store.observe(T0 + 60_000, T0 + 60_100, [(W1M, 7), (W1S, 9)])  # W1S: differs too
    assert used(rclient, store, W1M, T0 + 60_000) == 7
    assert used(rclient, store, W1S, T0 + 60_000) == 9  # 60_000 and 60_100 are one 1 s window


# -- clock cross-check ----------------------------------------------------------------------------
async def test_redis_time_cross_check_logs_once(
    make_store: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(max_skew_ms=5_000)
    with caplog.at_level(logging.WARNING, logger="binguard.backends.redis"):
        await store.try_reserve(1_000, [(W1S, 1)])  # decades before Redis TIME
        await store.try_reserve(2_000, [(W1S, 1)])
    assert store.last_skew_ms is not None
    assert store.last_skew_ms < -1_000_000_000
    assert [r.message for r in caplog.records].count(caplog.records[0].message) == 1
    assert len(caplog.records) == 1
    assert "Redis server's clock" in caplog.records[0].message


async def test_no_skew_warning_when_clocks_agree(
    make_store: StoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(max_skew_ms=5_000)
    with caplog.at_level(logging.WARNING, logger="binguard.backends.redis"):
        await store.try_reserve(int(time.time() * 1000), [(W1S, 1)])
    assert store.last_skew_ms is not None
    assert abs(store.last_skew_ms) < 5_000
    assert caplog.records == []


# -- selection by URL -----------------------------------------------------------------------------
async def test_store_from_url(redis_server: object, prefix: str) -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    url = redis_server.url  # type: ignore[attr-defined]
    store = store_from_url(url, ip="1.2.3.4", account="a", prefix=prefix, timeout=0.5)
    assert isinstance(store, RedisBudgetStore)
    try:
        assert store.window_key(W1S, 0) == f"{{{prefix}}}:ip:1.2.3.4:REQUEST_WEIGHT:1S:0"
        assert isinstance(await store.try_reserve(T0, [(W1S, 1)]), Granted)
    finally:
        await store.aclose()
    with pytest.raises(ValueError, match="unknown budget store scheme"):
        store_from_url("mongodb://x")
    with pytest.raises(ValueError, match="scheme") as typo:  # a typo: the password not echoed
        store_from_url("redis+sentinal://:hunter2@host:6379/0")
    assert "hunter2" not in str(typo.value)
