"""Shared fixtures of the WebSocket connector tests (streams, book, user data); no tests here.

A simulator with fast WebSocket timings (pings every 0.3 s, a pong timeout of 1 s, diff depth
merged every 20 ms), a market the test moves (`moving`: one crowd step every few ms), and
connectors pointed at its REST and WebSocket faces. Ground truth comes from the simulator: its
engine's book (`sim_book`), `/_sim/ws` (connections and subscriptions) and `/_sim/fills`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization

from binguard.connector.book import OrderBook
from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions
from binguard.policy.backoff import Backoff
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import WsConfig, demo_ed25519_private
from binguard.sim.faults import FaultPlan
from binguard.sim.numbers import fmt
from binguard.transport.ws import WsOptions

WS_SIM = SimConfig(
    flow=FlowConfig(interval_ms=0),
    ws=WsConfig(ping_interval_s=0.3, pong_timeout_s=1.0, depth_ms=50, depth_fast_ms=20),
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
OPTIONS = ConnectorOptions(
    timeout=2.0,
    recv_window_ms=1000,
    reconcile_margin_ms=300,
    reconcile_poll=0.05,
    request_deadline=10.0,
    ws=WS_FAST,
    book_limit=1000,
    fallback_poll=0.2,
)

MakeConnector = Callable[..., Awaitable[SpotConnector]]


@pytest.fixture
async def wsim() -> AsyncIterator[Simulator]:
    async with Simulator(WS_SIM) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
async def wconnect(wsim: Simulator) -> AsyncIterator[MakeConnector]:
    made: list[SpotConnector] = []

    async def make(key_index: int = 0, **changes: Any) -> SpotConnector:
        key = wsim.config.demo.keys[key_index]
        options = OPTIONS.with_(
            stream_url=wsim.ws_url, ws_api_url=f"{wsim.ws_url}/ws-api/v3", **changes
        )
        creds: dict[str, Any] = {"api_key": key.api_key}
        if key.kind == "HMAC":
            creds["secret"] = key.secret
        else:  # the demo account's Ed25519 key, derived from the seed
            creds["private_key"] = demo_ed25519_private(wsim.config.seed).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        bn = SpotConnector(base_url=wsim.url, options=options, **creds)
        await bn.open()
        made.append(bn)
        return bn

    yield make
    for bn in made:
        await bn.close()


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
    deadline = time.monotonic() + wait_s
    while not check():
        assert time.monotonic() < deadline, f"not reached in {wait_s} s: {what}"
        await asyncio.sleep(0.01)


async def admin(sim: Simulator, path: str) -> Any:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/{path}") as r:
        return await r.json()


def sim_book(sim: Simulator, symbol: str) -> tuple[int, list[tuple[Decimal, Decimal]], ...]:
    """The simulator's book right now: (update id, bids, asks) as Decimals, best first."""
    update_id, bids, asks = sim.state.engine.depth(symbol, 100_000)

    def conv(rows: list[tuple[int, int]]) -> list[tuple[Decimal, Decimal]]:
        return [(Decimal(fmt(p)), Decimal(fmt(q))) for p, q in rows]

    return update_id, conv(bids), conv(asks)


async def assert_book_matches(sim: Simulator, book: OrderBook, wait_s: float = 8.0) -> None:
    """Once the market is calm: the local book reaches the simulator's last update and equals it
    level by level (within the depth the snapshot covered)."""
    target = sim.state.engine.books[book.symbol].update_id
    await until(
        lambda: book.ready and book.last_update_id >= target, wait_s, f"book at {target}: {book!r}"
    )
    update_id, bids, asks = sim_book(sim, book.symbol)
    assert book.last_update_id == update_id
    local_bids, local_asks = book.bids(), book.asks()
    assert local_bids == bids[: len(local_bids)] and local_asks == asks[: len(local_asks)]
    assert len(local_bids) == min(len(bids), book.limit) or len(local_bids) >= book.limit
    assert len(local_asks) == min(len(asks), book.limit) or len(local_asks) >= book.limit


async def streams_on_sim(sim: Simulator) -> list[list[str]]:
    """The streams of every open stream connection, per /_sim/ws (sorted)."""
    state = await admin(sim, "ws")
    return sorted(sorted(c["streams"]) for c in state["connections"] if c["kind"] == "stream")


async def assert_streams_on_sim(
    sim: Simulator, expected: list[list[str]], wait_s: float = 3.0
) -> None:
    """/_sim/ws reaches exactly these stream sets (a replaced socket may take a moment to close)."""
    deadline = time.monotonic() + wait_s
    while (got := await streams_on_sim(sim)) != expected:
        assert time.monotonic() < deadline, got
        await asyncio.sleep(0.02)


def best_ask(sim: Simulator, symbol: str = "BTCUSDT") -> str:
    price = sim.state.engine.books[symbol].asks.best()
    assert price is not None
    return fmt(price)


async def assert_fills_known(sim: Simulator, bn: SpotConnector, wait_s: float = 8.0) -> None:
    """Every fill of the account in the simulator's ground truth is known to the connector."""
    deadline = time.monotonic() + wait_s
    while True:
        truth = {int(f["id"]) for f in await admin(sim, "fills")}
        missed = truth - bn.tracker.trade_ids()
        if not missed:
            return
        assert time.monotonic() < deadline, f"missed fills: {sorted(missed)}"
        await asyncio.sleep(0.02)
