"""Ground-truth checks of the WebSocket connector tests (streams, book, user data); no tests here.

Ground truth comes from the simulator: its engine's book (`sim_book`), `/_sim/ws` (connections and
subscriptions) and `/_sim/fills`. The fixtures (`wsim`, `wconnect`, `market`) are in conftest;
the names below that come from it are re-exported for the modules that import them from here.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from binguard.connector.book import OrderBook
from binguard.connector.client import SpotConnector
from binguard.sim import Simulator
from binguard.sim.numbers import fmt

from .conftest import MakeConnector, admin, load_faults, until, wconnect, wsim

__all__ = [
    "MakeConnector",
    "admin",
    "assert_book_matches",
    "assert_fills_known",
    "assert_streams_on_sim",
    "best_ask",
    "load_faults",
    "sim_book",
    "streams_on_sim",
    "until",
    "wconnect",
    "wsim",
]


Levels = list[tuple[Decimal, Decimal]]


def sim_book(sim: Simulator, symbol: str) -> tuple[int, Levels, Levels]:
    """The simulator's book right now: (update id, bids, asks) as Decimals, best first."""
    update_id, bids, asks = sim.state.engine.depth(symbol, 100_000)

    def conv(rows: list[tuple[int, int]]) -> Levels:
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
