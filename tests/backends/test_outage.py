"""A fleet of OS processes keeps trading while its Redis is down, and returns without a burst.

Redis is really killed (SIGKILL: every count is lost) and a new, empty redis-server is started on
the same port after a 3 s outage. Four worker processes (`_worker.py`, two tasks each) hammer one
shared budget on the real clock the whole time. Ground truth: every grant each process reports,
per limit and window, and the counters Redis holds after the return.

The limits: weight per 1 s (saturated every window, so the share is what caps the fleet), orders per
10 s (a window that spans the outage, also saturated) and orders per day, where usage is tiny:
issue #12 saw a process refuse everything for 9 hours there ("room in 32,278 s").
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ._server import RedisServer
from .test_fleet import fleet, per_window

SPEC = [
    ["REQUEST_WEIGHT", 1, "SECOND", 40],
    ["ORDERS", 10, "SECOND", 150],
    ["ORDERS", 1, "DAY", 100_000],
]
LIMITS = {"REQUEST_WEIGHT:1S": 40, "ORDERS:10S": 150, "ORDERS:1D": 100_000}
COSTS = [[1, 1, 1], [2, 1, 1]]  # every request is an order: the day window decides
SHARE = 0.25  # four processes
OUTAGE_S = 3.0
# A killed Redis resets connections and refuses new ones at once: the long timeout only keeps a
# loaded machine's slow reply from being taken for a second outage.
OPTIONS = {"timeout": 2.0, "probe_interval": 0.5, "fallback_share": SHARE}


def wait_for(cond: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)  # polling a condition, bounded


def day_count(server: RedisServer, prefix: str) -> int:
    day = int(time.time() * 1000) // 86_400_000 * 86_400_000
    client = server.client()
    try:
        return int(client.hget(f"{{{prefix}}}:account:fleet:ORDERS:1D:{day}", "used") or 0)
    finally:
        client.close()


def test_a_fleet_keeps_trading_through_a_redis_outage_within_every_limit(
    own_redis: RedisServer,
) -> None:
    prefix = f"o{uuid.uuid4().hex[:8]}"
    with fleet(
        own_redis, 4, prefix=prefix, seconds=8.0, tasks=2, spec=SPEC, costs=COSTS, options=OPTIONS
    ) as (go, reports):
        go()
        wait_for(lambda: day_count(own_redis, prefix) >= 40, "the fleet never got going")
        killed_ms = int(time.time() * 1000)
        own_redis.kill()
        time.sleep(OUTAGE_S)  # the outage itself: its length is the scenario, not a sync point
        own_redis.start()
        back_ms = int(time.time() * 1000)
    sums = per_window(reports)
    for (key, window), granted in sums.items():
        assert granted <= LIMITS[key], (key, window, granted)  # no window over, outage or not
    for report in reports:
        assert report["outages"] == 1
        during = [t for t, _ in report["grants"] if killed_ms < t < back_ms]
        # each process kept trading on its share: at least a third of the 1 s windows' share
        assert len(during) >= OUTAGE_S * 40 * SHARE / 1.5 / 3, len(during)
        assert report["degraded_grants"] > 0
        # within its share: in every 1 s window wholly inside the outage, at most 0.25 * 40
        weight: dict[int, int] = {}
        for _, held in report["grants"]:
            for key, window, amount in held:
                if key == "REQUEST_WEIGHT:1S" and killed_ms <= window <= back_ms - 1_000:
                    weight[window] = weight.get(window, 0) + amount
        assert weight, "no 1 s window wholly inside the outage"
        assert max(weight.values()) <= 40 * SHARE, weight
    # Reconciled: the day's count in the restarted (empty) Redis holds every order made since
    # the kill (merged on return, then counted there). It may count a little more than the fleet
    # made (the pad for a stale count is merged too: safe), never an unbounded amount. The pad is
    # what the others were granted between two of a process's replies, so it grows when the
    # machine is loaded (CI saw 148 against 134 made): 25 % is its bound here.
    since_kill = sum(1 for r in reports for t, _ in r["grants"] if t > killed_ms)
    total = sum(len(r["grants"]) for r in reports)
    assert since_kill <= day_count(own_redis, prefix) <= total * 1.25
