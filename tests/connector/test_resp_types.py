"""Every `newOrderRespType` for a placement, over REST and the WebSocket API, against the simulator:
an ACK answer (rest-api.md §New order, "Response - ACK": ids and time only, no status) gives an
order whose status is None — not yet known, never a value Binance does not send — and never an
exception; the tracker fills the status in from the user data stream or a query. RESULT and FULL
answers carry it. Each case ends with the journal and the tracker agreeing with the simulator's
ground truth (/_sim/orders).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from binguard.connector.client import SpotConnector
from binguard.connector.journal import Stage
from binguard.sim import Simulator

from .conftest import MakeConnector, admin, load_faults, until
from .ws_support import best_ask

KINDS: dict[str, dict[str, Any]] = {
    # resting below the market
    "LIMIT": {"type": "LIMIT", "price": "29000", "time_in_force": "GTC", "quantity": "0.01"},
    # resting until the price falls to 20000 (enums.md: STOP_LOSS_LIMIT)
    "STOP_LOSS_LIMIT": {
        "type": "STOP_LOSS_LIMIT",
        "side": "SELL",
        "price": "19900",
        "time_in_force": "GTC",
        "quantity": "0.001",
        "stopPrice": "20000",
    },
    "MARKET": {"type": "MARKET", "quantity": "0.001"},
}


async def _place(bn: SpotConnector, kind: str, resp_type: str) -> Any:
    args = dict(KINDS[kind])
    side = args.pop("side", "BUY")
    order_type = args.pop("type")
    return await bn.place_order("BTCUSDT", side, order_type, newOrderRespType=resp_type, **args)


async def _truth(sim: Simulator, coid: str) -> dict[str, Any]:
    (truth,) = [o for o in await admin(sim, "orders") if o["clientOrderId"] == coid]
    return dict(truth)


async def _check(sim: Simulator, bn: SpotConnector, order: Any, resp_type: str) -> None:
    truth = await _truth(sim, order.client_order_id)
    assert order.order_id == truth["orderId"]
    entry = bn.journal.get(order.client_order_id)
    assert entry is not None and entry.order_id == truth["orderId"]
    assert entry.stage in (Stage.ACKED, Stage.FINAL)
    if resp_type == "ACK":
        assert order.status is None and not order.is_open
        assert order.side == truth["side"] and order.type == truth["type"]
    else:
        assert order.status == truth["status"]
    # a query fills the status in, whatever the answer carried
    known = await bn.order_status("BTCUSDT", client_order_id=order.client_order_id)
    assert known.status == truth["status"]
    tracked = bn.tracker.get(client_order_id=order.client_order_id)
    assert tracked is not None and tracked.status == truth["status"]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("resp_type", ["ACK", "RESULT", "FULL"])
async def test_rest_every_resp_type(
    sim: Simulator, connect: MakeConnector, kind: str, resp_type: str
) -> None:
    bn = await connect()
    order = await _place(bn, kind, resp_type)
    await _check(sim, bn, order, resp_type)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("resp_type", ["ACK", "RESULT", "FULL"])
async def test_websocket_every_resp_type(
    wsim: Simulator, wconnect: MakeConnector, kind: str, resp_type: str
) -> None:
    bn = await wconnect(orders_via="ws")
    order = await _place(bn, kind, resp_type)
    assert bn.ws_orders is not None and bn.ws_orders.requests >= 1
    await _check(wsim, bn, order, resp_type)


async def test_ack_status_comes_from_user_data(wsim: Simulator, wconnect: MakeConnector) -> None:
    """An ACK-answered taker order: the user data stream tells the tracker it FILLED."""
    bn = await wconnect()
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    order = await bn.place_order(
        "BTCUSDT",
        "BUY",
        "LIMIT",
        quantity="0.002",
        price=best_ask(wsim),
        time_in_force="IOC",
        newOrderRespType="ACK",
    )
    assert order.status is None

    def told() -> bool:
        known = bn.tracker.get(client_order_id=order.client_order_id)
        return known is not None and known.status is not None

    await until(told, what="the stream told the order's status")
    truth = await _truth(wsim, order.client_order_id)
    known = bn.tracker.get(client_order_id=order.client_order_id)
    assert known is not None
    assert (known.status, known.executed_qty) == (truth["status"], Decimal(truth["executedQty"]))
    entry = bn.journal.get(order.client_order_id)
    assert entry is not None and entry.order_id == truth["orderId"]


@pytest.mark.parametrize(
    ("fault", "found"),
    [({"action": "reset_after"}, True), ({"action": "reset"}, False)],
    ids=["reset after execution", "reset before execution"],
)
async def test_ack_through_a_lost_answer(
    sim: Simulator, connect: MakeConnector, fault: dict[str, Any], found: bool
) -> None:
    """ACK with the answer lost after the engine: found by a query, whose answer carries the
    status. Lost before: re-sent after the recvWindow proof, answered ACK again (status None).
    Exactly one order on the exchange either way."""
    bn = await connect()
    load_faults(sim, {"path": "/api/v3/order", "method": "POST", "times": 1, **fault})
    order = await _place(bn, "LIMIT", "ACK")
    assert sim.state.faults.log
    truth = await _truth(sim, order.client_order_id)
    assert (order.order_id, order.status) == (truth["orderId"], truth["status"] if found else None)
    assert (bn.stats.reconciliations, bn.stats.resends) == (1, 0 if found else 1)
