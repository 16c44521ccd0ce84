"""A fleet member for the multi-process tests: hammers one shared budget and reports its grants.

Run as `python _worker.py '<json config>'`. It signals readiness, waits for the parent's "go" (a
Redis list: a real barrier, no timed start), then reserves with `tasks` concurrent tasks for
`seconds`, pacing itself on each refusal's end as the budget would. It prints one JSON object:
every grant (call start ms, window per limit, amounts), every refusal kind and end, and how
often the store fell back to its local share.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import redis.asyncio as aioredis

from binguard.backends import Granted, Limit, LimitKind
from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions
from binguard.errors import Interval


def now_ms() -> int:
    return int(time.time() * 1000)


async def main(cfg: dict) -> dict:  # type: ignore[type-arg]
    limits = [Limit(LimitKind(k), Interval(n, u), lim) for k, n, u, lim in cfg["limits"]]
    options = RedisStoreOptions(**cfg["options"])
    store = RedisBudgetStore.from_url(cfg["url"], ip="10.9.9.9", account="fleet", options=options)
    degraded_grants = 0  # grants made on the local share (Redis unreachable)
    grants: list[list[object]] = []
    refusals: list[list[object]] = []
    barrier = aioredis.Redis.from_url(cfg["url"])
    try:
        await barrier.rpush(cfg["ready_key"], os.getpid())
        await barrier.blpop([cfg["go_key"]], timeout=30)
        end = now_ms() + int(cfg["seconds"] * 1000)

        async def hammer(n: int) -> None:
            nonlocal degraded_grants
            i = n
            while now_ms() < end:
                i += 1
                charges = [
                    (x, a)
                    for x, a in zip(limits, cfg["costs"][i % len(cfg["costs"])], strict=True)
                    if a
                ]
                start = now_ms()
                outcome = await store.try_reserve(start, charges)
                if isinstance(outcome, Granted):
                    if store.degraded:
                        degraded_grants += 1
                    grants.append(
                        [start, [[h.limit.key, h.window, h.amount] for h in outcome.held]]
                    )
                    await store.settle(outcome.held, [0] * len(outcome.held))
                else:
                    refusals.append([start, outcome.kind.value, outcome.until_ms])
                    # never past the run's end: a refusal may name a window that ends in hours
                    await asyncio.sleep(max(0, min(outcome.until_ms, end) - now_ms()) / 1000)

        await asyncio.gather(*(hammer(n) for n in range(cfg["tasks"])))
    finally:
        await barrier.aclose()
        await store.aclose()
    return {
        "grants": grants,
        "refusals": refusals,
        "outages": store.outages,
        "degraded_grants": degraded_grants,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
