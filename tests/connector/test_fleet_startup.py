"""A fleet member that starts while its fleet has used the window is admitted by the shared budget
(issue 12, item 1, start-up half): a real redis-server, the simulator, two SpotConnectors.

Member A has used most of the current REQUEST_WEIGHT window. Member B then opens: its start-up
requests (`/api/v3/time` samples and `exchangeInfo`, weight 20, rest-api.md) must wait for the
next window like any other request of the fleet. Before, B knew no limit until it had read
exchangeInfo, so the exchangeInfo request itself went out over the limit and earned a 429
(counted in the simulator's request log), which is how Binance's bans start. B now loads the
limits A saved in Redis (`SharesLimits`) before its first request.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from tests.backends._server import RedisServer

from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions
from binguard.connector.client import SpotConnector
from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, SimConfig, Simulator

from .conftest import FAST, admin, credentials, running, until

WINDOW_MS = 10_000
WEIGHT = 200  # REQUEST_WEIGHT per 10 s: small, so a test fills it in a few requests
FLEET_SIM = SimConfig(
    flow=FlowConfig(interval_ms=0),
    limits=LimitsConfig(
        rate_limits=(
            RateLimitSpec("REQUEST_WEIGHT", "SECOND", 10, WEIGHT),
            RateLimitSpec("ORDERS", "SECOND", 10, 100),
            RateLimitSpec("ORDERS", "DAY", 1, 200_000),
            RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 61_000),
        )
    ),
)
IP = "127.0.0.1"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer.running() as server:
        yield server


@pytest.fixture
async def fleet_sim() -> AsyncIterator[Simulator]:
    async with running(FLEET_SIM) as s:
        yield s


def used(sim: Simulator) -> int:
    """The simulator's REQUEST_WEIGHT count for this IP in the current 10 s window."""
    headers = sim.state.limits.weight_headers(IP, sim.state.clock.now_ms())
    return int(headers.get("X-MBX-USED-WEIGHT-10S", "0"))


def ms_to_reset(sim: Simulator) -> int:
    now = sim.state.clock.now_ms()
    return (now // WINDOW_MS + 1) * WINDOW_MS - now


def member(sim: Simulator, server: RedisServer, prefix: str) -> SpotConnector:
    store = RedisBudgetStore.from_url(
        server.url,
        ip=IP,
        account="demo",
        options=RedisStoreOptions(prefix=prefix, max_skew_ms=None),
    )
    return SpotConnector(base_url=sim.url, options=FAST, store=store, **credentials(sim))


async def test_a_member_starting_in_a_used_window_waits_instead_of_earning_a_429(
    fleet_sim: Simulator, redis_server: RedisServer
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    first = member(fleet_sim, redis_server, prefix)
    second = member(fleet_sim, redis_server, prefix)
    try:
        await first.open()
        # Fill a fresh window to 180 of 200 with exchangeInfo requests (weight 20 each).
        await until(lambda: ms_to_reset(fleet_sim) > 7_000, 12.0, "a fresh window")
        while used(fleet_sim) < WEIGHT - 20:
            await first.exchange_info()
        assert ms_to_reset(fleet_sim) > 2_000, "the window ended while it was being filled"
        # The second member's start-up (3 time samples + exchangeInfo) does not fit in it.
        await second.open()
        assert second.budget is not None and second.budget.limits  # limits from exchangeInfo
        log = await admin(fleet_sim, "requests")
        assert [e for e in log if e["status"] == 429] == []
        assert sum(e["path"] == "/api/v3/exchangeInfo" for e in log) >= 2
    finally:
        await second.close()
        await first.close()
        for bn in (first, second):
            store = bn._store
            assert isinstance(store, RedisBudgetStore)
            await store.aclose()
