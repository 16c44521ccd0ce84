"""Execution-aware faults for order lists and edits, over loopback (faults.py): the client sees
a reset, a stall or a 5XX; the ground truth under /_sim/ says what the engine did.

- a list placed then the connection reset (or -1007) / not placed (-1006 before the engine);
- a cancel-replace whose cancel half ran and whose new order was never placed (`stage: cancel`);
- an amend that ran before the reset; the same on the WebSocket API (`ws_error` executed).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator

from .helpers import Api, WsApi, new_order, oco_sell, order_status

DROPPED = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)


async def _plan(api: Api, *rules: dict[str, Any]) -> None:
    await api.admin("faults", "POST", json.dumps({"rules": list(rules)}))


async def test_list_placed_then_reset(me: Api) -> None:
    await _plan(me, {"action": "reset_after", "path": "/api/v3/orderList/oco", "times": 1})
    with pytest.raises(DROPPED):
        await me.post("/api/v3/orderList/oco", oco_sell(listClientOrderId="lost"), signed=True)
    (truth,) = await me.admin("order_lists")
    assert (truth["account"], truth["listClientOrderId"], truth["listOrderStatus"]) == (
        "demo",
        "lost",
        "EXECUTING",
    )
    # the client's reconcile: the list by its own id
    found = await me.get("/api/v3/orderList", {"origClientOrderId": "lost"}, signed=True)
    assert found.body["orderListId"] == truth["orderListId"]


@pytest.mark.parametrize(("executed", "code"), [(True, -1007), (False, -1006)])
async def test_list_5xx_executed_or_not(me: Api, executed: bool, code: int) -> None:
    rule = {"action": "error", "status": 503 if code == -1006 else 408, "code": code}
    await _plan(me, {**rule, "path": "/api/v3/orderList/oco", "executed": executed, "times": 1})
    reply = await me.post("/api/v3/orderList/oco", oco_sell(), signed=True)
    assert reply.code == code
    placed = await me.admin("order_lists")
    assert len(placed) == (1 if executed else 0)
    assert len(await me.admin("orders?account=demo")) == (2 if executed else 0)


async def test_cancel_replace_only_its_cancel_half(me: Api) -> None:
    old = (await me.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))).body
    await _plan(
        me,
        {
            "action": "error",
            "status": 503,
            "code": -1006,
            "executed": True,
            "stage": "cancel",
            "path": "/api/v3/order/cancelReplace",
        },
    )
    params = {
        **new_order("BUY", "LIMIT", "0.02", price="29100"),
        "cancelReplaceMode": "STOP_ON_FAILURE",
        "cancelOrderId": old["orderId"],
        "newClientOrderId": "never-placed",
    }
    reply = await me.post("/api/v3/order/cancelReplace", params, signed=True)
    assert (reply.status, reply.code) == (503, -1006)
    assert (await order_status(me, old["orderId"]))["status"] == "CANCELED"
    gone = await me.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "never-placed"}, signed=True
    )
    assert gone.code == -2013
    truth = await me.admin("orders?account=demo")
    assert [(o["orderId"], o["status"]) for o in truth] == [(old["orderId"], "CANCELED")]


async def test_cancel_replace_reset_after_both_halves(me: Api) -> None:
    old = (await me.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))).body
    await _plan(me, {"action": "reset_after", "path": "/api/v3/order/cancelReplace"})
    params = {
        **new_order("BUY", "LIMIT", "0.02", price="29100"),
        "cancelReplaceMode": "STOP_ON_FAILURE",
        "cancelOrderId": old["orderId"],
        "newClientOrderId": "placed",
    }
    with pytest.raises(DROPPED):
        await me.post("/api/v3/order/cancelReplace", params, signed=True)
    truth = {o["clientOrderId"]: o["status"] for o in await me.admin("orders?account=demo")}
    assert truth == {old["clientOrderId"]: "CANCELED", "placed": "NEW"}


async def test_amend_then_reset(me: Api) -> None:
    old = (await me.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))).body
    await _plan(me, {"action": "reset_after", "path": "/api/v3/order/amend/keepPriority"})
    with pytest.raises(DROPPED):
        await me.put(
            "/api/v3/order/amend/keepPriority",
            {"symbol": "BTCUSDT", "orderId": old["orderId"], "newQty": "0.005"},
            signed=True,
        )
    (row,) = await me.admin("amendments")
    assert (row["account"], row["orderId"], row["newQty"]) == ("demo", old["orderId"], "0.00500000")
    assert (await order_status(me, old["orderId"]))["origQty"] == "0.00500000"


async def test_websocket_cancel_replace_cancel_half_then_error(
    empty: Simulator, session: aiohttp.ClientSession
) -> None:
    key = empty.config.demo.keys[0]
    api = Api(session, empty.url, key.api_key, key.secret)
    old = (await api.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))).body
    await _plan(
        api,
        {
            "action": "ws_error",
            "method": "order.cancelReplace",
            "path": "/ws-api/v3",
            "executed": True,
            "stage": "cancel",
            "status": 500,
            "code": -1006,
        },
    )
    ws = await session.ws_connect(empty.ws_url + "/ws-api/v3")
    client = WsApi(ws, key.api_key, key.secret)
    async with ws:
        params = {
            **new_order("BUY", "LIMIT", "0.02", price="29100"),
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "cancelOrderId": old["orderId"],
        }
        reply = await client.call("order.cancelReplace", params, signed=True)
        assert (reply["status"], reply["error"]["code"]) == (500, -1006)
    truth = await api.admin("orders?account=demo")
    assert [(o["orderId"], o["status"]) for o in truth] == [(old["orderId"], "CANCELED")]
    fired = await api.admin("faults")
    assert fired["log"][0]["action"] == "ws_error"
