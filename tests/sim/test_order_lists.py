"""Order lists over loopback REST (rest-api.md §Order lists, user-data-stream.md listStatus):
OCO (and the deprecated order/oco), OTO, OTOCO, cancel, the queries, the OCO rules' errors.

The book starts empty with the last price at 30000.00 (conftest EMPTY).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.config import RetentionConfig, SymbolSpec

from .conftest import EMPTY
from .helpers import Api, WsApi, msg, new_order, oco_sell, order_status, trade_at


async def _list(api: Api, list_id: int) -> dict[str, Any]:
    reply = await api.get("/api/v3/orderList", {"orderListId": list_id}, signed=True)
    assert reply.status == 200, reply.body
    return dict(reply.body)


@pytest.mark.parametrize("resp_type", ["ACK", "RESULT", "FULL"])
async def test_oco_placed_in_every_response_type(me: Api, resp_type: str) -> None:
    reply = await me.post(
        "/api/v3/orderList/oco",
        oco_sell(listClientOrderId="my-oco", newOrderRespType=resp_type),
        signed=True,
    )
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["contingencyType"], body["listStatusType"], body["listOrderStatus"]) == (
        "OCO",
        "EXEC_STARTED",
        "EXECUTING",
    )
    assert body["listClientOrderId"] == "my-oco"
    stop, limit = body["orderReports"]
    assert [o["orderId"] for o in body["orders"]] == [stop["orderId"], limit["orderId"]]
    assert stop["orderListId"] == limit["orderListId"] == body["orderListId"]
    if resp_type == "ACK":
        assert "status" not in stop
        return
    assert (stop["type"], stop["status"], stop["workingTime"]) == ("STOP_LOSS_LIMIT", "NEW", -1)
    assert (limit["type"], limit["status"]) == ("LIMIT_MAKER", "NEW")
    assert ("fills" in limit) == (resp_type == "FULL")
    account = await me.get("/api/v3/account", signed=True)
    (btc,) = [b for b in account.body["balances"] if b["asset"] == "BTC"]
    assert btc["locked"] == "0.01000000"  # one lock for the pair


async def test_oco_limit_leg_fills_and_expires_the_stop(me: Api, them: Api) -> None:
    placed = (await me.post("/api/v3/orderList/oco", oco_sell(), signed=True)).body
    stop, limit = placed["orderReports"]
    bought = await them.order(**new_order("BUY", "LIMIT", "0.01", price="31000"))
    assert bought.body["status"] == "FILLED"
    assert (await order_status(me, limit["orderId"]))["status"] == "FILLED"
    expired = await order_status(me, stop["orderId"])
    assert (expired["status"], expired["expiryReason"]) == ("EXPIRED", "OCO_TRIGGER")
    done = await _list(me, placed["orderListId"])
    assert (done["listStatusType"], done["listOrderStatus"]) == ("ALL_DONE", "ALL_DONE")
    opened = await me.get("/api/v3/openOrderList", signed=True)
    assert opened.body == []


async def test_oco_stop_triggers_and_expires_the_limit(me: Api, them: Api) -> None:
    placed = (await me.post("/api/v3/orderList/oco", oco_sell(), signed=True)).body
    stop, limit = placed["orderReports"]
    await trade_at(them, "29000")
    triggered = await order_status(me, stop["orderId"])
    assert (triggered["status"], triggered["isWorking"]) == ("NEW", True)
    gone = await order_status(me, limit["orderId"])
    assert (gone["status"], gone["expiryReason"]) == ("EXPIRED", "OCO_TRIGGER")
    depth = await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert depth.body["asks"] == [["28900.00000000", "0.01000000"]]


async def test_cancel_order_list_and_queries(me: Api) -> None:
    placed = (
        await me.post("/api/v3/orderList/oco", oco_sell(listClientOrderId="c1"), signed=True)
    ).body
    listed = await me.get("/api/v3/openOrderList", signed=True)
    assert [x["orderListId"] for x in listed.body] == [placed["orderListId"]]
    by_client = await me.get("/api/v3/orderList", {"origClientOrderId": "c1"}, signed=True)
    assert by_client.body["orderListId"] == placed["orderListId"]
    canceled = await me.delete(
        "/api/v3/orderList",
        {"symbol": "BTCUSDT", "listClientOrderId": "c1", "newClientOrderId": "bye"},
        signed=True,
    )
    assert canceled.status == 200, canceled.body
    assert (canceled.body["listStatusType"], canceled.body["listOrderStatus"]) == (
        "ALL_DONE",
        "ALL_DONE",
    )
    assert [(r["status"], r["clientOrderId"]) for r in canceled.body["orderReports"]] == [
        ("CANCELED", "bye"),
        ("CANCELED", "bye"),
    ]
    again = await me.delete(
        "/api/v3/orderList",
        {"symbol": "BTCUSDT", "orderListId": placed["orderListId"]},
        signed=True,
    )
    assert (again.code, again.msg) == (-2011, "Unknown order sent.")
    unknown = await me.get("/api/v3/orderList", {"orderListId": 999}, signed=True)
    assert unknown.code == -2013
    every = await me.get("/api/v3/allOrderList", signed=True)
    assert [x["orderListId"] for x in every.body] == [placed["orderListId"]]
    account = await me.get("/api/v3/account", signed=True)
    (btc,) = [b for b in account.body["balances"] if b["asset"] == "BTC"]
    assert btc["locked"] == "0.00000000"
    # the same listClientOrderId is accepted again once the list is done
    reused = await me.post("/api/v3/orderList/oco", oco_sell(listClientOrderId="c1"), signed=True)
    assert reused.status == 200, reused.body


async def test_canceling_one_order_cancels_the_list(me: Api) -> None:
    placed = (await me.post("/api/v3/orderList/oco", oco_sell(), signed=True)).body
    stop, limit = placed["orderReports"]
    gone = await me.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": limit["orderId"]}, signed=True
    )
    assert gone.body["status"] == "CANCELED"
    assert (await order_status(me, stop["orderId"]))["status"] == "CANCELED"
    assert (await _list(me, placed["orderListId"]))["listOrderStatus"] == "ALL_DONE"


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (oco_sell(abovePrice="29500"), -2010, "The relationship of the prices for the orders is not correct."),
        (oco_sell(belowStopPrice="30500", belowPrice="30400"), -2010, "The relationship of the prices for the orders is not correct."),
        (oco_sell(aboveType="LIMIT"), -1158, "Order type not supported in OCO."),
        (
            oco_sell(aboveType="STOP_LOSS", aboveStopPrice="31000", abovePrice=None),
            -1158,
            "Order type not supported in OCO.",
        ),
        (
            oco_sell(
                aboveType="STOP_LOSS", aboveStopPrice="28000", abovePrice=None,
                belowType="TAKE_PROFIT", belowStopPrice="32000", belowPrice=None,
                belowTimeInForce=None,
            ),
            -1197,
            "A stop loss order in a sell OCO must be below.",
        ),
        (oco_sell(quantity="0.000001"), -1013, "Filter failure: LOT_SIZE"),
        (oco_sell(abovePrice="200000"), -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        (oco_sell(quantity="50"), -2010, "Account has insufficient balance for requested action."),
    ],
)  # fmt: skip
async def test_oco_refusals(me: Api, params: dict[str, Any], code: int, message: str) -> None:
    sent = {k: v for k, v in params.items() if v is not None}
    reply = await me.post("/api/v3/orderList/oco", sent, signed=True)
    assert (reply.status, reply.code, reply.msg) == (400, code, message)
    assert (await me.get("/api/v3/openOrders", signed=True)).body == []


async def test_max_num_order_lists(session: aiohttp.ClientSession) -> None:
    spec = SymbolSpec("BTCUSDT", "BTC", "USDT", initial_price="30000.00", max_num_order_lists=2)
    async with Simulator(EMPTY.with_(symbols=(spec,))) as sim:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        for i in range(2):
            oco = oco_sell(quantity="0.001", abovePrice=str(31000 + i))
            ok = await api.post("/api/v3/orderList/oco", oco, signed=True)
            assert ok.status == 200, ok.body
        over = await api.post("/api/v3/orderList/oco", oco_sell(quantity="0.001"), signed=True)
        assert (over.code, over.msg) == (-1013, "Filter failure: MAX_NUM_ORDER_LISTS")
        assert sim.bugs == []


async def test_deprecated_order_oco(me: Api, them: Api) -> None:
    reply = await me.post(
        "/api/v3/order/oco",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "quantity": "0.01",
            "price": "29000",
            "stopPrice": "31000",
            "stopLimitPrice": "31100",
            "stopLimitTimeInForce": "GTC",
        },
        signed=True,
    )
    assert reply.status == 200, reply.body
    stop, limit = reply.body["orderReports"]
    assert (stop["type"], limit["type"]) == ("STOP_LOSS_LIMIT", "LIMIT_MAKER")
    sold = await them.order(**new_order("SELL", "LIMIT", "0.004", price="29000"))
    assert sold.body["status"] == "FILLED"
    # a partial fill of the limit order is enough to expire the stop order
    got = await order_status(me, limit["orderId"])
    assert (got["status"], got["executedQty"]) == ("PARTIALLY_FILLED", "0.00400000")
    assert (await order_status(me, stop["orderId"]))["expiryReason"] == "OCO_TRIGGER"


def _oto(**kw: Any) -> dict[str, Any]:
    out = {
        "symbol": "BTCUSDT",
        "workingType": "LIMIT",
        "workingSide": "BUY",
        "workingPrice": "29500",
        "workingQuantity": "0.01",
        "workingTimeInForce": "GTC",
        "pendingType": "LIMIT_MAKER",
        "pendingSide": "SELL",
        "pendingPrice": "31000",
        "pendingQuantity": "0.01",
    }
    out.update(kw)
    return out


async def test_oto_pending_goes_live_when_the_working_order_fills(me: Api, them: Api) -> None:
    reply = await me.post("/api/v3/orderList/oto", _oto(), signed=True)
    assert reply.status == 200, reply.body
    assert reply.body["contingencyType"] == "OTO"
    working, pending = reply.body["orderReports"]
    assert (working["status"], pending["status"]) == ("NEW", "PENDING_NEW")
    sold = await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    assert sold.body["status"] == "FILLED"
    live = await order_status(me, pending["orderId"])
    assert (live["status"], live["isWorking"]) == ("NEW", True)
    assert (await _list(me, reply.body["orderListId"]))["listOrderStatus"] == "ALL_DONE"


async def test_oto_working_filled_at_once_shows_pending_new(me: Api, them: Api) -> None:
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    reply = await me.post("/api/v3/orderList/oto", _oto(), signed=True)
    working, pending = reply.body["orderReports"]
    # rest-api.md: "the placement response will show the working order as FILLED but the
    # pending order will still appear as PENDING_NEW"
    assert (working["status"], pending["status"]) == ("FILLED", "PENDING_NEW")
    assert (await order_status(me, pending["orderId"]))["status"] == "NEW"


async def test_oto_cancel_cancels_both(me: Api) -> None:
    reply = await me.post("/api/v3/orderList/oto", _oto(), signed=True)
    working, pending = reply.body["orderReports"]
    await me.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": working["orderId"]}, signed=True
    )
    assert (await order_status(me, pending["orderId"]))["status"] == "CANCELED"


async def test_otoco(me: Api, them: Api) -> None:
    reply = await me.post(
        "/api/v3/orderList/otoco",
        {
            "symbol": "BTCUSDT",
            "workingType": "LIMIT",
            "workingSide": "BUY",
            "workingPrice": "29500",
            "workingQuantity": "0.01",
            "workingTimeInForce": "GTC",
            "pendingSide": "SELL",
            "pendingQuantity": "0.01",
            "pendingAboveType": "LIMIT_MAKER",
            "pendingAbovePrice": "31000",
            "pendingBelowType": "STOP_LOSS",
            "pendingBelowStopPrice": "29000",
        },
        signed=True,
    )
    assert reply.status == 200, reply.body
    working, stop, limit = reply.body["orderReports"]
    assert [o["status"] for o in (working, stop, limit)] == ["NEW", "PENDING_NEW", "PENDING_NEW"]
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    assert (await order_status(me, limit["orderId"]))["status"] == "NEW"
    assert (await order_status(me, stop["orderId"]))["status"] == "NEW"
    account = await me.get("/api/v3/account", signed=True)
    (btc,) = [b for b in account.body["balances"] if b["asset"] == "BTC"]
    assert btc["locked"] == "0.01000000"
    assert (await _list(me, reply.body["orderListId"]))["listOrderStatus"] == "EXECUTING"
    await them.order(**new_order("BUY", "LIMIT", "0.01", price="31000"))
    assert (await order_status(me, stop["orderId"]))["expiryReason"] == "OCO_TRIGGER"
    assert (await _list(me, reply.body["orderListId"]))["listOrderStatus"] == "ALL_DONE"


async def test_list_status_events(empty: Simulator, session: aiohttp.ClientSession) -> None:
    key = empty.config.demo.keys[0]
    ws = await session.ws_connect(empty.ws_url + "/ws-api/v3")
    client = WsApi(ws, key.api_key, key.secret)
    async with ws:
        await client.call("userDataStream.subscribe.signature", {}, signed=True)
        api = Api(session, empty.url, key.api_key, key.secret)
        placed = await api.post("/api/v3/orderList/oco", oco_sell(), signed=True)
        await api.delete(
            "/api/v3/orderList",
            {"symbol": "BTCUSDT", "orderListId": placed.body["orderListId"]},
            signed=True,
        )
        statuses, executions = [], []
        while len(statuses) < 2:
            event = (await client.event())["event"]
            if event["e"] == "listStatus":
                statuses.append(event)
            elif event["e"] == "executionReport":
                executions.append((event["x"], event["g"]))
        list_id = placed.body["orderListId"]
        assert executions == [
            ("NEW", list_id),
            ("NEW", list_id),
            ("CANCELED", list_id),
            ("CANCELED", list_id),
        ]
        assert [(e["l"], e["L"], e["c"]) for e in statuses] == [
            ("EXEC_STARTED", "EXECUTING", "OCO"),
            ("ALL_DONE", "ALL_DONE", "OCO"),
        ]
        assert [o["i"] for o in statuses[0]["O"]] == [o["orderId"] for o in placed.body["orders"]]


async def test_websocket_api_order_list_methods(
    empty: Simulator, session: aiohttp.ClientSession
) -> None:
    """web-socket-api.md: orderList.place.oco / oto / otoco, orderList.place (deprecated),
    orderList.status, openOrderLists.status, allOrderLists, orderList.cancel, and the account
    queries served by the same handlers as REST."""
    key = empty.config.demo.keys[0]
    ws = await session.ws_connect(empty.ws_url + "/ws-api/v3")
    client = WsApi(ws, key.api_key, key.secret)
    async with ws:
        placed = await client.call("orderList.place.oco", oco_sell(), signed=True)
        assert placed["status"] == 200, placed
        list_id = placed["result"]["orderListId"]
        assert any(r["rateLimitType"] == "ORDERS" for r in placed["rateLimits"])
        status = await client.call("orderList.status", {"orderListId": list_id}, signed=True)
        assert status["result"]["listOrderStatus"] == "EXECUTING"
        opened = await client.call("openOrderLists.status", {}, signed=True)
        assert [x["orderListId"] for x in opened["result"]] == [list_id]
        oto = await client.call("orderList.place.oto", _oto(workingPrice="29000"), signed=True)
        assert oto["result"]["contingencyType"] == "OTO", oto
        no_qty = {k: v for k, v in _oto(workingPrice="28900").items() if k != "pendingQuantity"}
        opo = await client.call("orderList.place.opo", no_qty, signed=True)
        assert opo["status"] == 200, opo
        old = await client.call(
            "orderList.place",
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "quantity": "0.01",
                "price": "32000",
                "stopPrice": "28000",
            },
            signed=True,
        )
        assert old["status"] == 200, old
        canceled = await client.call(
            "orderList.cancel", {"symbol": "BTCUSDT", "orderListId": list_id}, signed=True
        )
        assert canceled["result"]["listOrderStatus"] == "ALL_DONE"
        every = await client.call("allOrderLists", {}, signed=True)
        assert len(every["result"]) == 4
        rates = await client.call("account.commission", {"symbol": "BTCUSDT"}, signed=True)
        assert rates["result"]["symbol"] == "BTCUSDT"
        tested = await client.call(
            "order.test",
            {
                **new_order("SELL", "STOP_LOSS", "0.01", stopPrice="29000"),
                "computeCommissionRates": True,
            },
            signed=True,
        )
        assert "standardCommissionForOrder" in tested["result"], tested
        cancel_all = await client.call("openOrders.cancelAll", {"symbol": "BTCUSDT"}, signed=True)
        assert cancel_all["status"] == 200, cancel_all
        left = await client.call("openOrders.status", {"symbol": "BTCUSDT"}, signed=True)
        assert left["result"] == []


async def test_a_done_list_leaves_with_its_orders(session: aiohttp.ClientSession) -> None:
    """Retention (engine/retention.py) evicts terminal orders; a done list goes with the last of
    its orders, so an old list id answers -2013 like an unknown one and memory stays bounded."""
    config = EMPTY.with_(retention=RetentionConfig(horizon_s=0, max_orders=1))
    async with Simulator(config) as sim:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        ids = []
        for i in range(3):
            placed = await api.post(
                "/api/v3/orderList/oco", oco_sell(listClientOrderId=f"l{i}"), signed=True
            )
            ids.append(placed.body["orderListId"])
            await api.delete(
                "/api/v3/orderList", {"symbol": "BTCUSDT", "orderListId": ids[-1]}, signed=True
            )
        first = await api.get("/api/v3/orderList", {"orderListId": ids[0]}, signed=True)
        assert first.code == -2013
        last = await api.get("/api/v3/orderList", {"orderListId": ids[-1]}, signed=True)
        assert last.status == 200
        assert ids[0] not in sim.state.engine.order_lists
        assert sim.bugs == []


async def test_cancel_open_orders_answers_lists_as_lists(me: Api) -> None:
    """DELETE /api/v3/openOrders: single orders as cancel reports, an order list as one list
    object with its orders' reports (rest-api.md §Cancel All Open Orders on a Symbol)."""
    single = (await me.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))).body
    placed = (await me.post("/api/v3/orderList/oco", oco_sell(), signed=True)).body
    reply = await me.delete("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert reply.status == 200, reply.body
    first, second = reply.body
    assert (first["orderId"], first["status"]) == (single["orderId"], "CANCELED")
    assert (second["orderListId"], second["listOrderStatus"]) == (placed["orderListId"], "ALL_DONE")
    assert [r["status"] for r in second["orderReports"]] == ["CANCELED", "CANCELED"]


async def test_oto_pending_limit_maker_that_would_take_is_rejected(me: Api, them: Api) -> None:
    """A pending LIMIT_MAKER that would trade when its working order fills expires REJECTED
    (user-data-stream.md §Order Expiry Reason) instead of taking."""
    reply = await me.post(
        "/api/v3/orderList/oto", _oto(workingPrice="29500", pendingPrice="29100"), signed=True
    )
    # a bid below the working price (the fill below does not reach it) above the pending price
    await them.order(**new_order("BUY", "LIMIT", "0.01", price="29200"))
    assert reply.status == 200, reply.body
    _working, pending = reply.body["orderReports"]
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    got = await order_status(me, pending["orderId"])
    assert (got["status"], got["expiryReason"], got["executedQty"]) == (
        "EXPIRED",
        "REJECTED",
        "0.00000000",
    )


async def test_opo_pending_order_takes_what_the_working_order_received(me: Api, them: Api) -> None:
    """rest-api.md §New Order List - OPO and Binance's OPO FAQ: no pending quantity; the
    pending order gets the working order's received quantity, commission deducted."""
    params = {k: v for k, v in _oto().items() if k != "pendingQuantity"}
    reply = await me.post("/api/v3/orderList/opo", params, signed=True)
    assert reply.status == 200, reply.body
    assert reply.body["contingencyType"] == "OTO"
    _working, pending = reply.body["orderReports"]
    assert pending["status"] == "PENDING_NEW" and "origQty" not in pending
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    live = await order_status(me, pending["orderId"])
    # 0.01 BTC bought, 0.1 % commission in BTC: 0.00999 to sell
    assert (live["status"], live["origQty"]) == ("NEW", "0.00999000")
    sent_qty = await me.post("/api/v3/orderList/opo", _oto(), signed=True)
    assert (sent_qty.code, sent_qty.msg) == (-1106, msg(-1106, 1, "pendingQuantity"))


async def test_opoco(me: Api, them: Api) -> None:
    reply = await me.post(
        "/api/v3/orderList/opoco",
        {
            "symbol": "BTCUSDT",
            "workingType": "LIMIT",
            "workingSide": "BUY",
            "workingPrice": "29500",
            "workingQuantity": "0.01",
            "workingTimeInForce": "GTC",
            "pendingSide": "SELL",
            "pendingAboveType": "LIMIT_MAKER",
            "pendingAbovePrice": "31000",
            "pendingBelowType": "STOP_LOSS",
            "pendingBelowStopPrice": "29000",
        },
        signed=True,
    )
    assert reply.status == 200, reply.body
    _working, stop, limit = reply.body["orderReports"]
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    for placed in (stop, limit):
        got = await order_status(me, placed["orderId"])
        assert (got["status"], got["origQty"]) == ("NEW", "0.00999000")
    account = await me.get("/api/v3/account", signed=True)
    (btc,) = [b for b in account.body["balances"] if b["asset"] == "BTC"]
    assert btc["locked"] == "0.00999000"


async def test_oco_with_a_pegged_limit_maker(me: Api, them: Api) -> None:
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="31000"))
    params = {k: v for k, v in oco_sell().items() if k != "abovePrice"}
    reply = await me.post(
        "/api/v3/orderList/oco", {**params, "abovePegPriceType": "PRIMARY_PEG"}, signed=True
    )
    assert reply.status == 200, reply.body
    _stop, limit = reply.body["orderReports"]
    assert (limit["price"], limit["peggedPrice"], limit["status"]) == (
        "0.00000000",
        "31000.00000000",
        "NEW",
    )
