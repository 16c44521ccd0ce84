"""The budget and the ban breaker: a bot behind the gateway never earns a 429 or a ban by itself,
and nothing reaches the exchange while a ban is known (rest-api.md §LIMITS: "Repeatedly
violating rate limits and/or failing to back off after receiving 429s will result in an
automated IP ban (HTTP status 418)"; "Retry-After ... in the case of a 418, until the ban is
over")."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from tests.sim.helpers import Api, limit_buy, msg

from binguard.gateway import GATEWAY_HEADER, Gateway
from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, SimConfig, Simulator

from .conftest import gw_config, load_faults, upstream_paths

# 40 weight per second (the gateway's start-up costs 21: time and exchangeInfo): a burst of 100
# pings needs three windows.
SMALL = SimConfig(
    flow=FlowConfig(interval_ms=0),
    limits=LimitsConfig(
        rate_limits=(
            RateLimitSpec("REQUEST_WEIGHT", "SECOND", 1, 40),
            RateLimitSpec("ORDERS", "SECOND", 10, 50),
            RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 300000),
        ),
        requests_before_ban=1,
    ),
)


@pytest.fixture
async def small_sim() -> AsyncIterator[Simulator]:
    async with Simulator(SMALL) as s:
        yield s
        assert s.bugs == []


def _api(url: str, sim: Simulator, session: aiohttp.ClientSession) -> Api:
    key = sim.config.demo.keys[0]
    return Api(session, url, key.api_key, key.secret)


def _statuses(sim: Simulator) -> list[int]:
    return [r["status"] for r in sim.state.requests if not r.get("ws")]


async def test_a_burst_waits_for_capacity_instead_of_earning_429s(
    small_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    # margin 0.8: room for requests delayed past a window's end by the loaded event loop
    async with Gateway(gw_config(small_sim.url, max_wait_s=5.0, margin=0.8)) as gw:
        api = _api(gw.url, small_sim, session)
        replies = await asyncio.gather(*(api.get("/api/v3/ping") for _ in range(100)))
    assert [r.status for r in replies] == [200] * 100
    assert 429 not in _statuses(small_sim) and 418 not in _statuses(small_sim)
    assert small_sim.state.limits.ips["127.0.0.1"].bans == []


async def test_no_room_within_max_wait_is_a_local_429_in_binance_words(
    small_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with Gateway(gw_config(small_sim.url, max_wait_s=0.0)) as gw:
        api = _api(gw.url, small_sim, session)
        replies = await asyncio.gather(*(api.get("/api/v3/ping") for _ in range(80)))
    local = [r for r in replies if r.status == 429]
    assert local and all(r.headers[GATEWAY_HEADER] == "refused" for r in local)
    assert local[0].body == {"code": -1003, "msg": msg(-1003, 1, 40, "1 SECOND")}
    assert int(local[0].headers["Retry-After"]) >= 1
    assert int(local[0].headers["X-MBX-USED-WEIGHT-1S"]) >= 30
    assert 429 not in _statuses(small_sim)  # every 429 the bot saw was the gateway's


async def test_ban_breaker_sends_nothing_until_the_ban_ends(
    sim: Simulator, gw_api: Api, gateway: Gateway
) -> None:
    load_faults(sim, {"action": "http_418", "path": "/api/v3/depth", "times": 1, "ban_s": 1.5})
    first = await gw_api.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert first.status == 418 and GATEWAY_HEADER not in first.headers  # Binance's own 418
    seen = len(sim.state.requests)
    attempts = [
        gw_api.get("/api/v3/ping"),
        gw_api.get("/api/v3/depth", {"symbol": "BTCUSDT"}),
        gw_api.order(**limit_buy("0.001", "20000")),
        gw_api.get("/sapi/v1/system/status"),  # outside /api/v3: stopped by the ban too
    ]
    for reply in await asyncio.gather(*attempts):
        assert reply.status == 418 and reply.headers[GATEWAY_HEADER] == "banned"
        assert reply.code == -1003 and reply.msg.startswith("Way too much request weight used")
        until = int(reply.msg.split("until ")[1].split(".")[0])
        assert until >= sim.state.limits.ips["127.0.0.1"].banned_until_ms
        assert 1 <= int(reply.headers["Retry-After"]) <= 3
    assert len(sim.state.requests) == seen  # nothing reached the exchange
    status = await gw_api.get("/status")
    assert status.body["banned_until_ms"] is not None
    # after the ban (and the breaker's margin), traffic resumes by itself
    deadline = time.monotonic() + 6
    while (reply := await gw_api.get("/api/v3/ping")).status == 418:
        assert reply.headers[GATEWAY_HEADER] == "banned"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert reply.status == 200
    assert 418 not in _statuses(sim)[seen:]  # the first request after the ban was welcome


async def test_a_429_pauses_everyone_for_its_retry_after(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """The simulator's forced 429 says Retry-After: 1; during that second nothing is sent."""
    async with Gateway(gw_config(sim.url, max_wait_s=3.0)) as gw:
        api = _api(gw.url, sim, session)
        load_faults(sim, {"action": "http_429", "path": "/api/v3/ticker/price", "times": 1})
        first = await api.get("/api/v3/ticker/price", {"symbol": "BTCUSDT"})
        assert first.status == 429 and GATEWAY_HEADER not in first.headers
        seen = len(sim.state.requests)
        started = time.monotonic()
        # max_wait 3 s > the pause: the next request waits it out instead of being refused
        reply = await api.get("/api/v3/ping")
    assert reply.status == 200
    assert time.monotonic() - started >= 0.5
    assert len(sim.state.requests) == seen + 1


async def test_a_long_pause_is_answered_locally(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with Gateway(gw_config(sim.url, max_wait_s=0.2)) as gw:
        api = _api(gw.url, sim, session)
        load_faults(sim, {"action": "http_429", "path": "/api/v3/ticker/price", "times": 1})
        assert (await api.get("/api/v3/ticker/price", {"symbol": "BTCUSDT"})).status == 429
        seen = len(sim.state.requests)
        reply = await api.get("/api/v3/ping")
    assert reply.status == 429 and reply.headers[GATEWAY_HEADER] == "paused"
    assert reply.body == {"code": -1003, "msg": msg(-1003, 0)}
    assert len(sim.state.requests) == seen
    assert upstream_paths(sim)[-1] == "/api/v3/ticker/price"
