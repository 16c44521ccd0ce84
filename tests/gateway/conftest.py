"""Fixtures: the simulator on loopback, a gateway in front of it, and a client for each.

`gw_api` talks to the gateway exactly as `sim_api` talks to the simulator: only the base URL
differs, which is all a bot changes.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import Api

from binguard.gateway import Gateway, GatewayConfig
from binguard.sim import FaultPlan, FlowConfig, SimConfig, Simulator

QUIET = SimConfig(flow=FlowConfig(interval_ms=0))


def gw_config(upstream: str, **changes: Any) -> GatewayConfig:
    """A gateway on an ephemeral loopback port, short waits for tests. Caches are off (the
    pass-through is what most tests test; a cache would answer some requests itself):
    test_caches.py turns them on."""
    base = GatewayConfig(
        upstream=upstream,
        listen="127.0.0.1:0",
        max_wait_s=1.0,
        upstream_timeout_s=2.0,
        read_deadline_s=2.0,
        backoff_base_s=0.01,
        backoff_cap_s=0.05,
        margin=0.95,  # the default: room for what a loaded machine adds at window edges
        drain_s=2.0,
        cache_ttl_s=0.0,
    )
    return base.with_(**changes)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(QUIET) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
async def gateway(sim: Simulator) -> AsyncIterator[Gateway]:
    async with Gateway(gw_config(sim.url)) as gw:
        yield gw


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def gw_api(gateway: Gateway, sim: Simulator, session: aiohttp.ClientSession) -> Api:
    key = sim.config.demo.keys[0]
    return Api(session, gateway.url, key.api_key, key.secret)


@pytest.fixture
def sim_api(sim: Simulator, session: aiohttp.ClientSession) -> Api:
    key = sim.config.demo.keys[0]
    return Api(session, sim.url, key.api_key, key.secret)


def load_faults(sim: Simulator, *rules: dict[str, Any]) -> None:
    sim.state.faults.load(FaultPlan.from_mapping({"rules": list(rules)}))


def upstream_paths(sim: Simulator) -> list[str]:
    """What the simulator received (its request log), REST only."""
    return [r["path"] for r in sim.state.requests if not r.get("ws")]


MakeGateway = Callable[..., Any]


async def gateway_process(upstream: str, *flags: str) -> tuple[asyncio.subprocess.Process, str]:
    """`binguard gateway --upstream UPSTREAM --listen 127.0.0.1:0 FLAGS` in a process of its
    own: the process and the URL its first stdout line says it listens on."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "binguard", "gateway", "--upstream", upstream,
        "--listen", "127.0.0.1:0", *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    return proc, line.split(" on ")[1].split(" -> ")[0]
