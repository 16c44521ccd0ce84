"""A simulator on an ephemeral loopback port and a SpotConnector talking to it.

The simulator plays Binance by its documented rules and keeps the ground truth (`/_sim/orders`);
every acceptance test ends by comparing the connector's view with it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.faults import FaultPlan

QUIET = SimConfig(flow=FlowConfig(interval_ms=0))
# Short windows keep reconciliation fast: an order still missing 1 s + 0.3 s after the attempt's
# timestamp provably never reached the matching engine.
FAST = ConnectorOptions(
    timeout=2.0,
    recv_window_ms=1000,
    reconcile_margin_ms=300,
    reconcile_poll=0.05,
    request_deadline=10.0,
)

MakeConnector = Callable[..., Awaitable[SpotConnector]]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(QUIET) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
async def connect(sim: Simulator) -> AsyncIterator[MakeConnector]:
    made: list[SpotConnector] = []

    async def make(**overrides: Any) -> SpotConnector:
        key = sim.config.demo.keys[0]
        options = FAST.with_(**overrides.pop("options", {}))
        bn = SpotConnector(
            api_key=key.api_key, secret=key.secret, base_url=sim.url, options=options, **overrides
        )
        await bn.open()
        made.append(bn)
        return bn

    yield make
    for bn in made:
        await bn.close()


def load_faults(sim: Simulator, *rules: dict[str, Any]) -> None:
    sim.state.faults.load(FaultPlan.from_mapping({"seed": 1, "rules": list(rules)}))


async def ground_truth(sim: Simulator) -> list[dict[str, Any]]:
    """Every order the simulator holds, through its admin API (as any test harness would)."""
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/orders") as r:
        orders: list[dict[str, Any]] = await r.json()
        return orders


async def request_count(sim: Simulator) -> int:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/requests") as r:
        return len(await r.json())
