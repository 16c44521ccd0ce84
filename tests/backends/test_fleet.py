"""The fleet properties, with several OS processes (and many tasks) sharing one Redis budget.

Ground truth is twofold: what every process says it was granted, and the counters Redis itself
holds (keys kept for 60 intervals so they can be read after the run).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from binguard.backends import BlockKind, Granted, Limit, LimitKind
from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions
from binguard.errors import Interval

from ._server import RedisServer
from .conftest import StoreFactory

WORKER = pathlib.Path(__file__).with_name("_worker.py")
W1S = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 20)
O1S = Limit(LimitKind.ORDERS, Interval(1, "SECOND"), 6)
LIMITS = {W1S.key: W1S, O1S.key: O1S}
SPEC = [["REQUEST_WEIGHT", 1, "SECOND", 20], ["ORDERS", 1, "SECOND", 6]]
COSTS = [[1, 0], [3, 1], [2, 0], [1, 1]]  # (weight, orders) per request, in turn


@contextmanager
def fleet(
    server: RedisServer,
    n: int,
    *,
    prefix: str,
    seconds: float,
    tasks: int = 3,
    spec: list[list[Any]] | None = None,
    costs: list[list[int]] | None = None,
    options: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """Start `n` worker processes, wait until all are ready, yield a `go()`; collect their reports.

    `spec` (limits), `costs` and store `options` default to this module's contended setup.
    """
    ready, go = f"{prefix}:ready", f"{prefix}:go"
    cfg = {
        "url": server.url,
        "limits": spec or SPEC,
        "costs": costs or COSTS,
        "tasks": tasks,
        "seconds": seconds,
        "ready_key": ready,
        "go_key": go,
        # long timeout: this test is about counting, not about fallback on a loaded machine
        "options": {"prefix": prefix, "ttl_factor": 60, "timeout": 3.0, **(options or {})},
    }
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(cfg)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(n)
    ]
    client = server.client()
    reports: list[dict[str, Any]] = []
    try:
        for _ in range(n):  # bounded wait for every worker's readiness
            assert client.blpop([ready], timeout=30) is not None, "a worker never became ready"

        def start() -> None:
            client.rpush(go, *range(n))

        yield start, reports
        for p in procs:
            out, _ = p.communicate(timeout=60)
            assert p.returncode == 0
            reports.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        client.close()


def per_window(reports: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    sums: dict[tuple[str, int], int] = defaultdict(int)
    for report in reports:
        for _, held in report["grants"]:
            for key, window, amount in held:
                sums[key, window] += amount
    return sums


def redis_used(client: redis.Redis, prefix: str, ip_or_acct: str, key: str, window: int) -> int:
    return int(client.hget(f"{{{prefix}}}:{ip_or_acct}:{key}:{window}", "used") or 0)


def test_processes_never_exceed_a_limit_within_a_window(redis_server: RedisServer) -> None:
    prefix = f"f{uuid.uuid4().hex[:8]}"
    with fleet(redis_server, 4, prefix=prefix, seconds=2.5) as (go, reports):
        go()
    sums = per_window(reports)
    assert all(r["outages"] == 0 for r in reports)
    assert all(r["grants"] for r in reports)  # everybody got a share
    client = redis_server.client()
    try:
        full = 0
        for (key, window), granted in sums.items():
            limit = LIMITS[key]
            assert granted <= limit.limit, (key, window, granted)
            scope = "ip:10.9.9.9" if key == W1S.key else "account:fleet"
            assert redis_used(client, prefix, scope, key, window) == granted  # no phantom, no loss
            full += granted >= limit.limit - 2  # the budget was really contended
        assert full >= 2
    finally:
        client.close()


async def ban(url: str, prefix: str, until_ms: int) -> None:
    options = RedisStoreOptions(prefix=prefix)
    async with RedisBudgetStore.from_url(url, ip="10.9.9.9", account="x", options=options) as store:
        await store.block(BlockKind.BAN, until_ms)


def test_a_ban_set_by_one_process_stops_every_process(redis_server: RedisServer) -> None:
    prefix = f"b{uuid.uuid4().hex[:8]}"
    client = redis_server.client()
    with fleet(redis_server, 3, prefix=prefix, seconds=2.5, tasks=2) as (go, reports):
        go()
        window = W1S.window(int(time.time() * 1000))
        deadline = time.monotonic() + 10
        while redis_used(client, prefix, "ip:10.9.9.9", W1S.key, window) == 0:  # the fleet is busy
            assert time.monotonic() < deadline
            window = W1S.window(int(time.time() * 1000))
        ban_end = int(time.time() * 1000) + 1_200
        asyncio.run(ban(redis_server.url, prefix, ban_end))  # as a 418 seen by this process would
        banned_at = int(time.time() * 1000)  # the ban is in Redis from here on
    client.close()
    for report in reports:
        during = [t for t, _ in report["grants"] if banned_at <= t < ban_end]
        assert during == []  # no call started during the ban was granted
        bans = [r for r in report["refusals"] if r[1] == "ban"]
        assert bans
        assert {r[2] for r in bans} == {ban_end}
        assert any(t >= ban_end for t, _ in report["grants"])  # and work resumed after it


async def test_many_tasks_never_exceed_a_limit(
    make_store: StoreFactory, rclient: redis.Redis
) -> None:
    """60 concurrent tasks over 8 store instances (connections) at one instant of time."""
    stores = [make_store(ttl_factor=60) for _ in range(8)]
    now = 20_834 * 86_400_000
    results = await asyncio.gather(
        *(stores[i % 8].try_reserve(now, [(W1S, 1 + i % 3), (O1S, i % 2)]) for i in range(60))
    )
    granted = [r for r in results if isinstance(r, Granted)]
    weight = sum(h.amount for r in granted for h in r.held if h.limit == W1S)
    orders = sum(h.amount for r in granted for h in r.held if h.limit == O1S)
    assert weight <= 20
    assert orders <= 6
    assert weight >= 18  # refusals only once the window was (nearly) full
    assert int(rclient.hget(stores[0].window_key(W1S, now), "used")) == weight  # type: ignore[arg-type]
    assert int(rclient.hget(stores[0].window_key(O1S, now), "used")) == orders  # type: ignore[arg-type]
