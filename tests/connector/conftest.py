"""Simulators on ephemeral loopback ports and SpotConnectors talking to them.

The simulator plays Binance by its documented rules and keeps the ground truth (`/_sim/orders`,
`/_sim/requests`, `/_sim/ws`, ...); every acceptance test ends by comparing the connector's view
with it. `sim` and `connect` serve the REST tests. `wsim`, `wconnect` and `market` serve the
WebSocket tests: fast WebSocket timings (pings every 0.3 s, a pong timeout of 1 s, diff depth
merged every 20 ms) and a market the test moves (one crowd step every few ms). The WebSocket
ground-truth checks are in `ws_support`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions
from binguard.policy.backoff import Backoff
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import WsConfig, demo_ed25519_private
from binguard.sim.faults import FaultPlan
from binguard.transport.ws import WsOptions

QUIET = SimConfig(flow=FlowConfig(interval_ms=0))
WS_SIM = SimConfig(
    flow=FlowConfig(interval_ms=0),
    ws=WsConfig(ping_interval_s=0.3, pong_timeout_s=1.0, depth_ms=50, depth_fast_ms=20),
)
# Short windows keep reconciliation fast: an order still missing 1 s + 0.3 s after the attempt's
# timestamp provably never reached the matching engine.
FAST = ConnectorOptions(
    timeout=2.0,
    recv_window_ms=1000,
    reconcile_margin_ms=300,
    reconcile_poll=0.05,
    request_deadline=10.0,
)
WS_FAST = WsOptions(
    backoff=Backoff(base=0.02, cap=0.3),
    silence_timeout=0.8,
    healthy_after=0.05,
    handover_timeout=2.0,
    handover_grace=1.0,
    open_timeout=3.0,
    close_timeout=0.3,
    request_timeout=3.0,
)
OPTIONS = FAST.with_(ws=WS_FAST, book_limit=1000, fallback_poll=0.2)

MakeConnector = Callable[..., Awaitable[SpotConnector]]


@asynccontextmanager
async def running(config: SimConfig) -> AsyncIterator[Simulator]:
    """A simulator for one test; it must not have caught itself breaking Binance's rules."""
    async with Simulator(config) as s:
        yield s
        assert s.bugs == []


def credentials(sim: Simulator, key_index: int = 0) -> dict[str, Any]:
    """The demo account's key `key_index` as SpotConnector arguments (HMAC or Ed25519)."""
    key = sim.config.demo.keys[key_index]
    if key.kind == "HMAC":
        return {"api_key": key.api_key, "secret": key.secret}
    # the demo account's Ed25519 key, derived from the seed
    pem = demo_ed25519_private(sim.config.seed).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {"api_key": key.api_key, "private_key": pem}


@asynccontextmanager
async def _connectors(sim: Simulator, defaults: ConnectorOptions) -> AsyncIterator[MakeConnector]:
    """`await make(key_index=0, options={...}, **args)`: an open connector to `sim` whose options
    are `defaults` with these changes; every connector made is closed on the way out."""
    made: list[SpotConnector] = []

    async def make(
        key_index: int = 0, options: Mapping[str, Any] | None = None, **args: Any
    ) -> SpotConnector:
        bn = SpotConnector(
            base_url=sim.url,
            options=defaults.with_(**(options or {})),
            **credentials(sim, key_index),
            **args,
        )
        await bn.open()
        made.append(bn)
        return bn

    yield make
    for bn in made:
        await bn.close()


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with running(QUIET) as s:
        yield s


@pytest.fixture
async def connect(sim: Simulator) -> AsyncIterator[MakeConnector]:
    """`await connect(options={...}, **SpotConnector_args)`: REST tests' connectors (FAST)."""
    async with _connectors(sim, FAST) as make:
        yield make


@pytest.fixture
async def wsim() -> AsyncIterator[Simulator]:
    async with running(WS_SIM) as s:
        yield s


@pytest.fixture
async def wconnect(wsim: Simulator) -> AsyncIterator[MakeConnector]:
    """`await wconnect(key_index=0, **option_changes)`: connectors to `wsim`'s REST and
    WebSocket faces (OPTIONS)."""
    defaults = OPTIONS.with_(stream_url=wsim.ws_url, ws_api_url=f"{wsim.ws_url}/ws-api/v3")
    async with _connectors(wsim, defaults) as make:

        async def make_ws(key_index: int = 0, **changes: Any) -> SpotConnector:
            return await make(key_index, options=changes)

        yield make_ws


async def crowd(sim: Simulator, stop: asyncio.Event, every: float = 0.005) -> None:
    while not stop.is_set():
        sim.state.crowd.step()
        await asyncio.sleep(every)


class Market:
    """The crowd trading in the background; `calm()` stops it so books can be compared."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(crowd(self.sim, self._stop))

    async def calm(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None


@pytest.fixture
async def market(wsim: Simulator) -> AsyncIterator[Market]:
    m = Market(wsim)
    m.start()
    yield m
    await m.calm()


def load_faults(sim: Simulator, *rules: dict[str, Any]) -> None:
    sim.state.faults.load(FaultPlan.from_mapping({"seed": 1, "rules": list(rules)}))


async def until(check: Callable[[], bool], wait_s: float = 8.0, what: str = "") -> None:
    """Poll a condition (bounded), yielding to the loop between checks."""
    deadline = time.monotonic() + wait_s
    while not check():
        assert time.monotonic() < deadline, f"not reached in {wait_s} s: {what}"
        await asyncio.sleep(0.01)


async def admin(sim: Simulator, path: str) -> Any:
    """`GET /_sim/{path}` of the simulator's admin API (as any test harness would), decoded."""
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/{path}") as r:
        return await r.json()


async def ground_truth(sim: Simulator) -> list[dict[str, Any]]:
    """Every order the simulator holds."""
    orders: list[dict[str, Any]] = await admin(sim, "orders")
    return orders


async def request_count(sim: Simulator) -> int:
    return len(await admin(sim, "requests"))
