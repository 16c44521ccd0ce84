"""-2026 ORDER_ARCHIVED is an order that existed and is final (issue 12, item 2), against the simulator.

errors.md: "-2026 ORDER_ARCHIVED: Order was canceled or expired with no executed qty over 90 days
ago and has been archived." The connector must never read it as "never placed" (that would
re-send it: a duplicate). Reconciliation journals it FINAL with status ARCHIVED and raises
OrderArchivedError; a cancel's follow-up query settles it the same way; the user data fallback
stops tracking it instead of retrying it every round.

The simulator answers -2026 for the lookups here through a fault rule on GET /api/v3/order
(`{"action": "error", "status": 400, "code": -2026}`), as an exchange that archived them would,
and, in the last test, by itself: it evicts terminal orders past its retention and answers -2026
for them (engine/retention.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from binguard.connector.client import SpotConnector
from binguard.connector.journal import Stage
from binguard.connector.ledger import ARCHIVED
from binguard.errors import OrderArchivedError
from binguard.sim import Simulator
from binguard.sim.config import RetentionConfig

from .conftest import FAST, QUIET, MakeConnector, admin, credentials, load_faults, running, until

QUERY = {"path": "/api/v3/order", "method": "GET"}
ARCHIVED_ANSWER = {**QUERY, "action": "error", "status": 400, "code": -2026}


async def count(sim: Simulator, method: str, path: str) -> int:
    log = await admin(sim, "requests")
    return sum(1 for e in log if e["method"] == method and e["path"] == path)


async def orders_with(sim: Simulator, coid: str) -> list[dict[str, Any]]:
    return [o for o in await admin(sim, "orders") if o["clientOrderId"] == coid]


def assert_archived(bn: SpotConnector, coid: str) -> None:
    entry = bn.journal.get(coid)
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, ARCHIVED)
    assert coid not in {e.client_order_id for e in bn.journal.pending()}


async def test_a_lost_placement_found_archived_is_never_sent_again(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    # The placement executes and its answer is lost; every lookup then answers -2026.
    load_faults(
        sim,
        {"path": "/api/v3/order", "method": "POST", "action": "reset_after", "times": 1},
        ARCHIVED_ANSWER,
    )
    with pytest.raises(OrderArchivedError):
        await bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000.00",
            time_in_force="GTC", client_order_id="bg-arch-1",
        )  # fmt: skip
    assert await count(sim, "POST", "/api/v3/order") == 1  # never re-sent
    assert await count(sim, "GET", "/api/v3/order") == 1  # found at once, not polled
    assert len(await orders_with(sim, "bg-arch-1")) == 1
    assert_archived(bn, "bg-arch-1")
    assert bn.stats.reconciled_found == 1 and bn.stats.resends == 0


async def test_recover_goes_on_past_an_archived_entry(
    sim: Simulator, connect: MakeConnector
) -> None:
    # Left unknown: reconcile_deadline 0 gives up at the first failed lookup.
    bn = await connect(options={"reconcile_deadline": 0.0})
    load_faults(
        sim,
        {"path": "/api/v3/order", "method": "POST", "action": "reset_after", "times": 2},
        {**QUERY, "action": "reset"},
    )
    lost = []
    for coid in ("bg-arch-2", "bg-arch-3"):
        with pytest.raises(Exception):  # noqa: B017,PT011 - typed; what matters is the journal
            await bn.place_order(
                "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000.00",
                time_in_force="GTC", client_order_id=coid,
            )  # fmt: skip
        lost.append(coid)
    assert [e.client_order_id for e in bn.journal.pending()] == lost
    # The first lookup of recover() answers -2026, the second finds the order.
    load_faults(sim, {**ARCHIVED_ANSWER, "times": 1})
    results = await bn.recover()
    assert results[0] is None and results[1] is not None
    assert results[1].client_order_id == "bg-arch-3"
    assert_archived(bn, "bg-arch-2")
    assert bn.journal.pending() == []
    assert await count(sim, "POST", "/api/v3/order") == 2


async def test_a_cancel_whose_order_is_archived_is_settled(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    order = await bn.place_order(
        "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000.00", time_in_force="GTC"
    )
    # The cancel's answer is lost; the follow-up query answers -2026.
    load_faults(
        sim,
        {"path": "/api/v3/order", "method": "DELETE", "action": "reset", "times": 1},
        ARCHIVED_ANSWER,
    )
    with pytest.raises(OrderArchivedError):
        await bn.cancel_order("BTCUSDT", client_order_id=order.client_order_id)
    assert await count(sim, "DELETE", "/api/v3/order") == 1  # not cancelled again
    assert_archived(bn, order.client_order_id)
    assert bn.tracker.get(client_order_id=order.client_order_id) is None


async def test_the_user_data_fallback_drops_archived_orders(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    bn = await wconnect(fallback_poll=0.1, fallback_max_orders=5)
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    placed = [
        await bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price=p, time_in_force="GTC"
        )
        for p in ("20000.00", "20001.00")
    ]
    assert len(bn.tracker.open_orders()) == 2
    # The stream stays down (every WebSocket API connection reset as it opens), and every
    # lookup answers -2026: both orders are final, none is polled twice.
    load_faults(wsim, {"action": "ws_reset", "path": "/ws-api/v3"}, ARCHIVED_ANSWER)
    before = await count(wsim, "GET", "/api/v3/order")
    ud.sup.drop("test: network lost")
    await until(lambda: not bn.tracker.open_orders(), what="archived orders dropped")
    for order in placed:
        assert_archived(bn, order.client_order_id)
    # Nothing is left to poll, so this count is final: one lookup per order.
    assert await count(wsim, "GET", "/api/v3/order") - before == 2
    assert ud.failure is None


async def test_an_order_the_simulator_evicted_is_archived_not_resent() -> None:
    """The simulator's own -2026 (engine/retention.py), no fault on the lookup: with a zero
    retention every terminal order is evicted as soon as it ends. An IOC order below the market
    executes (EXPIRED at once) and its answer is lost; the lookup answers -2026 ORDER_ARCHIVED."""
    config = QUIET.with_(retention=RetentionConfig(horizon_s=0.0, max_orders=0))
    async with (
        running(config) as sim,
        SpotConnector(base_url=sim.url, options=FAST, **credentials(sim)) as bn,
    ):
        # An order is evicted once it ended strictly before now: the lookup is served 5 ms
        # late (simulated latency), so it never lands in the millisecond the order ended.
        load_faults(
            sim,
            {"path": "/api/v3/order", "method": "POST", "action": "reset_after", "times": 1},
            {**QUERY, "action": "latency", "latency_ms": 5},
        )
        with pytest.raises(OrderArchivedError) as caught:
            await bn.place_order(
                "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000.00",
                time_in_force="IOC", client_order_id="bg-evicted",
            )  # fmt: skip
        assert caught.value.code == -2026
        assert await count(sim, "POST", "/api/v3/order") == 1
        assert await count(sim, "GET", "/api/v3/order") == 1
        assert_archived(bn, "bg-evicted")
