"""Redis down or slow: the local share takes over, is logged once, and hands back without a burst.

The deterministic tests drive both clocks by hand (`now_ms` and an injected monotonic clock) and
kill / restart a redis-server of their own; the last one runs two stores on the real clock while
Redis is killed and restarted under them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import defaultdict

import pytest

from binguard.backends import BlockKind, Granted, Limit, LimitKind, Refused
from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions
from binguard.errors import Interval

from ._server import RedisServer

W1S = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 10)
O1S = Limit(LimitKind.ORDERS, Interval(1, "SECOND"), 4)
T0 = 20_834 * 86_400_000
LOGGER = "binguard.backends.redis"


class Mono:
    """A monotonic clock moved by the test."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make(
    server: RedisServer, prefix: str, mono: Mono | None = None, **opts: object
) -> RedisBudgetStore:
    options = RedisStoreOptions(
        **{
            "prefix": prefix,
            "max_skew_ms": None,
            "timeout": 0.2,
            "fallback_share": 0.5,
            "probe_interval": 1.0,
            **opts,
        }  # type: ignore[arg-type]
    )
    client_store = RedisBudgetStore.from_url(
        server.url, ip="10.1.1.1", account="a", options=options
    )
    if mono is not None:
        client_store._mono = mono
    return client_store


async def take(store: RedisBudgetStore, now_ms: int, n: int = 50, cost: int = 1) -> int:
    for i in range(n):
        if isinstance(await store.try_reserve(now_ms, [(W1S, cost)]), Refused):
            return i
    return n


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


async def test_fallback_trades_on_its_share_of_the_window_and_returns_without_a_burst(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    prefix = f"x{uuid.uuid4().hex[:8]}"
    mono = Mono()
    # fairness off: its claims would also cap A in the next window and blur what is tested
    a = make(own_redis, prefix, mono, fairness=False)
    b = make(own_redis, prefix, fairness=False)
    async with a, b:
        assert await take(a, T0, 4) == 4  # Redis: 4 of 10
        own_redis.kill()
        # Redis lost mid-window: A keeps trading in that window, on its share of what was left
        # when Redis last answered: 0.5 * (10 - 4) = 3 (issue #12: it used to refuse until the
        # window ended, for ORDERS:1D up to a day).
        assert await take(a, T0 + 100) == 3
        assert a.degraded
        assert a.outages == 1
        assert await take(a, T0 + 150) == 0  # its share is used up; still one outage
        own_redis.start()  # empty: every count is gone
        assert await take(a, T0 + 200) == 0  # no probe before probe_interval
        assert a.degraded
        mono.t += 1.0
        assert await take(a, T0 + 300) == 0  # back, merged, but still capped by its share
        assert not a.degraded
        # Redis was brought back up to what the fleet used: the 4 A saw plus the 3 it made alone
        client = own_redis.client()
        try:
            assert int(client.hget(a.window_key(W1S, T0), "used")) == 7
        finally:
            client.close()
        assert await take(b, T0 + 310) == 3  # the other process gets what is left, no more
        mono.t += 1.3  # the return cap ends one probe interval (+ timeout) later
        assert await take(a, T0 + 1_000) == 10  # a new window, Redis only: the whole limit
    assert len(messages(caplog, logging.WARNING)) == 1
    assert "Redis unreachable" in messages(caplog, logging.WARNING)[0]
    assert len(messages(caplog, logging.INFO)) == 1


async def test_a_stale_count_is_padded(own_redis: RedisServer) -> None:
    """A's last count is older than B's last grants: the pad (B's grants between two of A's
    replies) keeps A within its share of what is really left."""
    prefix = f"p{uuid.uuid4().hex[:8]}"
    big = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 100)
    a = make(own_redis, prefix, Mono(), fairness=False)
    b = make(own_redis, prefix, Mono(), fairness=False)
    async with a, b:
        for _ in range(3):  # A's replies: 1, 12, 23 -> B was granted 10 between two of them
            assert isinstance(await a.try_reserve(T0, [(big, 1)]), Granted)
            for _ in range(10):
                assert isinstance(await b.try_reserve(T0, [(big, 1)]), Granted)
        own_redis.kill()  # Redis holds 33; A last saw 23, pads it by 10
        granted = 0
        while isinstance(await a.try_reserve(T0 + 5, [(big, 1)]), Granted):
            granted += 1
        # 0.5 * 100 - ceil(0.5 * (23 + 10)) = 33. Unpadded it would be 50 - 12 = 38, and with
        # B's 50 - ceil(0.5 * (33 + 1)) = 33 the window would end at 33 + 38 + 33 = 104 > 100.
        assert granted == 33
        assert a.degraded


async def test_a_burst_after_the_first_reply_of_a_window_is_covered_by_the_window_before(
    own_redis: RedisServer,
) -> None:
    """A fleet that fills each window in a burst at its start: A's only reply in this window came
    before the burst, so A takes at least the last window's count as used."""
    prefix = f"b{uuid.uuid4().hex[:8]}"
    a = make(own_redis, prefix, Mono(), fairness=False)
    b = make(own_redis, prefix, Mono(), fairness=False)
    async with a, b:
        assert await take(a, T0, 50) == 10  # the window before: filled
        assert await take(a, T0 + 1_000, 1) == 1  # A's first (and last) reply here: 1 of 10
        assert await take(b, T0 + 1_001) == 9  # the burst A did not see
        own_redis.kill()
        # without the floor: 5 - ceil(0.5 * 1) = 4 more, 14 in a window of 10
        assert await take(a, T0 + 1_005) == 0
        assert await take(a, T0 + 2_000) == 5  # the next window: the whole share


async def test_a_count_from_the_window_before_is_carried_into_the_fall_window(
    own_redis: RedisServer,
) -> None:
    """A fleet that filled the last window A saw may have filled this one before A asked."""
    prefix = f"c{uuid.uuid4().hex[:8]}"
    a = make(own_redis, prefix, Mono(), fairness=False)
    async with a:
        assert await take(a, T0, 50) == 10  # the window before: full
        own_redis.kill()
        assert await take(a, T0 + 1_000) == 0  # carried: 0.5 * (10 - 10)
        assert await take(a, T0 + 2_000) == 5  # a window begun in the outage: the whole share


async def test_bans_and_pauses_survive_an_outage_and_are_pushed_back(
    own_redis: RedisServer,
) -> None:
    prefix = f"y{uuid.uuid4().hex[:8]}"
    mono = Mono()
    a, b = make(own_redis, prefix, mono), make(own_redis, prefix)
    async with a, b:
        await a.try_reserve(T0, [(W1S, 1)])
        own_redis.kill()
        await a.block(BlockKind.BAN, T0 + 5_000)  # a 418 seen while Redis is down
        assert a.degraded
        assert await a.try_reserve(T0 + 10, [(W1S, 1)]) == Refused(BlockKind.BAN, T0 + 5_000)
        own_redis.start()
        mono.t += 1.0
        assert await a.try_reserve(T0 + 20, [(W1S, 1)]) == Refused(BlockKind.BAN, T0 + 5_000)
        assert not a.degraded
        assert await b.blocked(T0 + 30) == Refused(BlockKind.BAN, T0 + 5_000)  # shared again


async def test_observe_in_fallback_applies_the_ip_count_scaled_to_the_share(
    own_redis: RedisServer,
) -> None:
    prefix = f"z{uuid.uuid4().hex[:8]}"
    a = make(own_redis, prefix, Mono())
    async with a:
        await a.try_reserve(T0, [(W1S, 1)])
        own_redis.kill()
        # In the next window, the IP's true count from a response header: 8 of 10.
        await a.observe(T0 + 1_000, T0 + 1_005, [(W1S, 8)])
        assert a.degraded
        assert await take(a, T0 + 1_010) == 1  # 5 (share) - ceil(8 * 0.5)


async def test_slow_redis_times_out_fast_and_is_left_and_rejoined(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    prefix = f"s{uuid.uuid4().hex[:8]}"
    mono = Mono()
    a = make(own_redis, prefix, mono, timeout=0.1)
    async with a:
        assert isinstance(await a.try_reserve(T0, [(W1S, 1), (O1S, 1)]), Granted)
        own_redis.pause()  # accepts connections, answers nothing
        try:
            started = time.monotonic()
            outcome = await a.try_reserve(T0 + 10, [(W1S, 1), (O1S, 1)])
            assert time.monotonic() - started < 1.0  # one short timeout, no retries
            # the local share admits at once, in the window Redis was lost in
            assert isinstance(outcome, Granted)
            assert a.degraded
            mono.t += 1.0
            started = time.monotonic()
            assert isinstance(await a.try_reserve(T0 + 1_020, [(W1S, 1)]), Granted)
            assert time.monotonic() - started < 1.0  # the failed probe costs one timeout
            assert a.degraded
        finally:
            own_redis.resume()
        mono.t += 1.0
        assert isinstance(await a.try_reserve(T0 + 1_030, [(W1S, 1)]), Granted)
        assert not a.degraded
    assert len(messages(caplog, logging.WARNING)) == 1
    assert len(messages(caplog, logging.INFO)) == 1


async def test_redis_killed_and_restarted_under_a_running_fleet(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Two stores (share 1/2 each) saturate 1 s windows on the real clock while Redis dies and
    comes back: no window is ever over the limit, each logs one outage and returns."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    prefix = f"k{uuid.uuid4().hex[:8]}"
    limit = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 200)
    stores = [
        make(own_redis, prefix, timeout=0.2, probe_interval=0.2, ttl_factor=60) for _ in range(2)
    ]
    grants: dict[int, int] = defaultdict(int)
    phase = {"stop": False}

    async def hammer(store: RedisBudgetStore) -> None:
        while not phase["stop"]:
            now = int(time.time() * 1000)
            outcome = await store.try_reserve(now, [(limit, 1)])
            if isinstance(outcome, Granted):
                grants[outcome.held[0].window] += 1
                await store.settle(outcome.held, [0])
            else:
                await asyncio.sleep(max(0, outcome.until_ms - int(time.time() * 1000)) / 1000)

    async def until(cond: object, what: str) -> None:
        deadline = time.monotonic() + 10
        while not cond():  # type: ignore[operator]
            assert time.monotonic() < deadline, what
            await asyncio.sleep(0.01)  # polling a condition, bounded

    async with stores[0], stores[1]:
        tasks = [asyncio.create_task(hammer(s)) for s in stores for _ in range(2)]
        try:
            await until(lambda: len(grants) >= 2, "the fleet never got going")

            def mid_window() -> bool:  # kill while the window is filling: the seed matters
                return 50 <= grants[limit.window(int(time.time() * 1000))] <= 150

            await until(mid_window, "never caught a window mid-fill")
            killed = limit.window(int(time.time() * 1000))
            own_redis.kill()
            await until(lambda: all(s.degraded for s in stores), "no fallback")
            down_windows = len(grants)
            await until(lambda: len(grants) >= down_windows + 1, "nothing admitted locally")
            own_redis.start()
            await until(lambda: not any(s.degraded for s in stores), "never returned")
            back = int(time.time() * 1000)
            await until(lambda: int(time.time() * 1000) > back + 2_100, "time stands still")
        finally:
            phase["stop"] = True
            await asyncio.gather(*tasks)
    assert all(s.outages == 1 for s in stores)
    assert len(grants) >= 5
    for window, n in grants.items():
        # Including the window Redis died in: each store kept trading in it on its share of what
        # was left, padded for what the other was granted after its last reply.
        assert n <= 200, (window, killed, dict(grants))
    assert len(messages(caplog, logging.WARNING)) == 2  # once per store
    assert len(messages(caplog, logging.INFO)) == 2
    client = own_redis.client()
    try:  # windows wholly after the return are counted in Redis exactly
        for window in [w for w in grants if w >= limit.window(back) + 1_000][:-1]:
            assert (
                int(client.hget(stores[0].window_key(limit, window), "used") or 0) == grants[window]
            )
            assert grants[window] >= 150  # and used again at (nearly) the full limit
    finally:
        client.close()


async def test_a_ban_known_before_the_outage_holds_in_the_local_share(
    own_redis: RedisServer,
) -> None:
    prefix = f"v{uuid.uuid4().hex[:8]}"
    a, b = make(own_redis, prefix, Mono()), make(own_redis, prefix, Mono())
    async with a, b:
        await a.block(BlockKind.BAN, T0 + 60_000)  # a learns of the ban from Binance
        assert await b.try_reserve(T0, [(W1S, 1)]) == Refused(BlockKind.BAN, T0 + 60_000)
        own_redis.kill()
        # b read the ban from Redis; losing Redis must not let it probe the ban
        assert await b.try_reserve(T0 + 10, [(W1S, 1)]) == Refused(BlockKind.BAN, T0 + 60_000)
        assert b.degraded
