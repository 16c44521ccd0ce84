"""Fixtures: a simulator on an ephemeral loopback port and signed clients talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import AccountSpec, KeySpec, WsConfig, demo_account

from .helpers import Api

# The crowd is seeded but does not run on a timer: tests advance it explicitly.
QUIET = SimConfig(flow=FlowConfig(interval_ms=0))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(QUIET) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def api(sim: Simulator, session: aiohttp.ClientSession) -> Api:
    key = sim.config.demo.keys[0]
    return Api(session, sim.url, key.api_key, key.secret)


@pytest.fixture
async def ip_session() -> AsyncIterator[Callable[[str], aiohttp.ClientSession]]:
    """Sessions whose connections leave from a given loopback address (127.0.0.x = an IP)."""
    sessions: list[aiohttp.ClientSession] = []

    def make(ip: str) -> aiohttp.ClientSession:
        s = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(ip, 0)))
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        await s.close()


# WebSocket tests: diff depth pushed at every engine step (the speeds have their own test).
WS_QUIET = QUIET.with_(ws=WsConfig(depth_ms=0, depth_fast_ms=0))


@pytest.fixture
async def wsim() -> AsyncIterator[Simulator]:
    async with Simulator(WS_QUIET) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
def wapi(wsim: Simulator, session: aiohttp.ClientSession) -> Api:
    key = wsim.config.demo.keys[0]
    return Api(session, wsim.url, key.api_key, key.secret)


# Order-type tests: an empty book (no crowd), last price 30000.00, and a second account.
OTHER = AccountSpec(
    "other",
    100000002,
    (KeySpec("otherkey", "HMAC", "othersecret"),),
    {"USDT": "100000", "BTC": "5"},
)
EMPTY = SimConfig(flow=FlowConfig(enabled=False), accounts=(demo_account(0), OTHER))


@pytest.fixture
async def empty() -> AsyncIterator[Simulator]:
    async with Simulator(EMPTY) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
def me(empty: Simulator, session: aiohttp.ClientSession) -> Api:
    key = empty.config.demo.keys[0]
    return Api(session, empty.url, key.api_key, key.secret)


@pytest.fixture
def them(empty: Simulator, session: aiohttp.ClientSession) -> Api:
    return Api(session, empty.url, "otherkey", "othersecret")
