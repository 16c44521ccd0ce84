"""Order edits over loopback REST and the WebSocket API (rest-api.md §Cancel an Existing Order
and Send a New Order, §Order Amend Keep Priority, §Query Order Amendments): every documented
cancel-replace outcome with its status, code and `data` object; amend keeps queue priority.

The book starts empty with the last price at 30000.00 (conftest EMPTY).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.config import DEFAULT_RATE_LIMITS, LimitsConfig, RateLimitSpec, SymbolSpec
from binguard.sim.peers import point_ccxt

from .conftest import EMPTY
from .helpers import Api, WsApi, new_order, order_status

ccxt = pytest.importorskip("ccxt.async_support")


async def _resting(api: Api, price: str = "29000", qty: str = "0.01", **kw: Any) -> dict[str, Any]:
    reply = await api.order(**new_order("BUY", "LIMIT", qty, price=price), **kw)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def _replace(order_id: int, mode: str = "STOP_ON_FAILURE", **kw: Any) -> dict[str, Any]:
    out = {
        **new_order("BUY", "LIMIT", "0.02", price="29100"),
        "cancelReplaceMode": mode,
        "cancelOrderId": order_id,
        "cancelNewClientOrderId": "cancel-1",
    }
    out.update(kw)
    return out


async def test_cancel_replace_success(me: Api) -> None:
    old = await _resting(me)
    reply = await me.post(
        "/api/v3/order/cancelReplace",
        _replace(old["orderId"], newClientOrderId="new-1"),
        signed=True,
    )
    assert reply.status == 200, reply.body
    body = reply.body
    assert (body["cancelResult"], body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert (body["cancelResponse"]["status"], body["cancelResponse"]["clientOrderId"]) == (
        "CANCELED",
        "cancel-1",
    )
    new = body["newOrderResponse"]
    assert (new["clientOrderId"], new["status"], new["fills"]) == ("new-1", "NEW", [])
    assert "X-MBX-ORDER-COUNT-10S" in reply.headers


async def test_stop_on_failure_cancel_fails(me: Api) -> None:
    reply = await me.post("/api/v3/order/cancelReplace", _replace(999), signed=True)
    assert reply.status == 400
    assert reply.body == {
        "code": -2022,
        "msg": "Order cancel-replace failed.",
        "data": {
            "cancelResult": "FAILURE",
            "newOrderResult": "NOT_ATTEMPTED",
            "cancelResponse": {"code": -2011, "msg": "Unknown order sent."},
            "newOrderResponse": None,
        },
    }
    assert (await me.get("/api/v3/openOrders", signed=True)).body == []


async def test_cancel_succeeds_new_order_fails(me: Api, them: Api) -> None:
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    old = await _resting(me)
    params = _replace(old["orderId"], type="LIMIT_MAKER", price="29600")
    del params["timeInForce"]
    reply = await me.post("/api/v3/order/cancelReplace", params, signed=True)
    assert (reply.status, reply.code, reply.msg) == (
        409,
        -2021,
        "Order cancel-replace partially failed.",
    )
    data = reply.body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["status"] == "CANCELED"
    assert data["newOrderResponse"] == {
        "code": -2010,
        "msg": "Order would immediately match and take.",
    }


async def test_allow_failure_outcomes(me: Api, them: Api) -> None:
    placed = await me.post(
        "/api/v3/order/cancelReplace",
        _replace(999, "ALLOW_FAILURE", newOrderRespType="ACK"),
        signed=True,
    )
    assert (placed.status, placed.code) == (409, -2021)
    data = placed.body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("FAILURE", "SUCCESS")
    assert data["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    assert set(data["newOrderResponse"]) == {
        "symbol", "orderId", "orderListId", "clientOrderId", "transactTime",
    }  # fmt: skip
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))
    params = _replace(999, "ALLOW_FAILURE", type="LIMIT_MAKER", price="29600")
    del params["timeInForce"]
    both = await me.post("/api/v3/order/cancelReplace", params, signed=True)
    assert (both.status, both.code, both.msg) == (400, -2022, "Order cancel-replace failed.")
    assert (both.body["data"]["cancelResult"], both.body["data"]["newOrderResult"]) == (
        "FAILURE",
        "FAILURE",
    )


async def test_filters_fail_before_the_cancel(me: Api) -> None:
    old = await _resting(me)
    reply = await me.post(
        "/api/v3/order/cancelReplace", _replace(old["orderId"], price="29100.001"), signed=True
    )
    assert (reply.code, reply.msg) == (-1013, "Filter failure: PRICE_FILTER")
    assert (await order_status(me, old["orderId"]))["status"] == "NEW"


@pytest.fixture
async def limited() -> AsyncIterator[Simulator]:
    orders = RateLimitSpec("ORDERS", "MINUTE", 1, 1)
    limits = LimitsConfig(rate_limits=(DEFAULT_RATE_LIMITS[0], orders))
    async with Simulator(EMPTY.with_(limits=limits)) as s:
        yield s
        assert s.bugs == []


@pytest.mark.parametrize(("mode", "status"), [("STOP_ON_FAILURE", 429), ("ALLOW_FAILURE", 409)])
async def test_order_rate_limit_exceeded_modes(
    limited: Simulator, session: aiohttp.ClientSession, mode: str, status: int
) -> None:
    key = limited.config.demo.keys[0]
    api = Api(session, limited.url, key.api_key, key.secret)
    old = await _resting(api)  # the one order of this minute
    nothing = await api.post(
        "/api/v3/order/cancelReplace", _replace(old["orderId"], mode), signed=True
    )
    assert (nothing.status, nothing.code) == (429, -1015)
    assert nothing.msg == "Too many new orders; current limit is 1 orders per 1 MINUTE."
    assert (await order_status(api, old["orderId"]))["status"] == "NEW"
    only = await api.post(
        "/api/v3/order/cancelReplace",
        _replace(old["orderId"], mode, orderRateLimitExceededMode="CANCEL_ONLY"),
        signed=True,
    )
    assert (only.status, only.code) == (status, -2021)
    data = only.body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["newOrderResponse"] == {"code": -1015, "msg": nothing.msg}
    assert (await order_status(api, old["orderId"]))["status"] == "CANCELED"


async def test_amend_keeps_priority_and_is_listed(me: Api, them: Api) -> None:
    first = await _resting(me, qty="0.01")
    second = await _resting(me, qty="0.01")
    reply = await me.put(
        "/api/v3/order/amend/keepPriority",
        {
            "symbol": "BTCUSDT",
            "orderId": first["orderId"],
            "newQty": "0.004",
            "newClientOrderId": "smaller",
        },
        signed=True,
    )
    assert reply.status == 200, reply.body
    amended = reply.body["amendedOrder"]
    assert (amended["qty"], amended["clientOrderId"], amended["origClientOrderId"]) == (
        "0.00400000",
        "smaller",
        first["clientOrderId"],
    )
    depth = await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert depth.body["bids"] == [["29000.00000000", "0.01400000"]]
    sold = await them.order(**new_order("SELL", "LIMIT", "0.004", price="29000"))
    assert sold.body["status"] == "FILLED"
    # the amended order kept its place in the queue: it filled first
    assert (await order_status(me, first["orderId"]))["status"] == "FILLED"
    assert (await order_status(me, second["orderId"]))["status"] == "NEW"
    rows = await me.get(
        "/api/v3/order/amendments", {"symbol": "BTCUSDT", "orderId": first["orderId"]}, signed=True
    )
    (row,) = rows.body
    assert (row["origQty"], row["newQty"], row["newClientOrderId"], row["executionId"]) == (
        "0.01000000",
        "0.00400000",
        "smaller",
        reply.body["executionId"],
    )


async def test_amend_refusals(session: aiohttp.ClientSession) -> None:
    spec = SymbolSpec("BTCUSDT", "BTC", "USDT", initial_price="30000.00", max_num_order_amends=2)
    async with Simulator(EMPTY.with_(symbols=(spec,))) as sim:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        order = await _resting(api)

        async def amend(qty: str) -> Any:
            params = {"symbol": "BTCUSDT", "orderId": order["orderId"], "newQty": qty}
            return await api.put("/api/v3/order/amend/keepPriority", params, signed=True)

        bigger = await amend("0.02")
        assert (bigger.code, bigger.msg) == (
            -2038,
            "Order amend (quantity increase) is not supported.",
        )
        for qty in ("0.009", "0.008"):
            assert (await amend(qty)).status == 200
        third = await amend("0.007")  # MAX_NUM_ORDER_AMENDS 2: filters.md's -2038
        assert (third.code, third.msg) == (-2038, "Filter failure: MAX_NUM_ORDER_AMENDS")
        unknown = await api.put(
            "/api/v3/order/amend/keepPriority",
            {"symbol": "BTCUSDT", "orderId": 999, "newQty": "0.001"},
            signed=True,
        )
        assert (unknown.code, unknown.msg) == (-2038, "Unknown order sent.")
        account = await api.get("/api/v3/account", signed=True)
        (usdt,) = [b for b in account.body["balances"] if b["asset"] == "USDT"]
        assert usdt["locked"] == "232.00000000"  # 0.008 x 29000: the lock shrank with the order
        assert sim.bugs == []


async def test_websocket_api_cancel_replace_and_amend(
    empty: Simulator, session: aiohttp.ClientSession
) -> None:
    key = empty.config.demo.keys[0]
    ws = await session.ws_connect(empty.ws_url + "/ws-api/v3")
    client = WsApi(ws, key.api_key, key.secret)
    async with ws:
        failed = await client.call("order.cancelReplace", _replace(999), signed=True)
        assert failed["status"] == 400
        assert failed["error"]["code"] == -2022
        assert failed["error"]["data"]["newOrderResult"] == "NOT_ATTEMPTED"
        placed = await client.call(
            "order.place", new_order("BUY", "LIMIT", "0.01", price="29000"), signed=True
        )
        order_id = placed["result"]["orderId"]
        replaced = await client.call("order.cancelReplace", _replace(order_id), signed=True)
        assert replaced["result"]["cancelResult"] == "SUCCESS", replaced
        new_id = replaced["result"]["newOrderResponse"]["orderId"]
        amended = await client.call(
            "order.amend.keepPriority",
            {"symbol": "BTCUSDT", "orderId": new_id, "newQty": "0.01"},
            signed=True,
        )
        assert amended["result"]["amendedOrder"]["qty"] == "0.01000000", amended
        listed = await client.call(
            "order.amendments", {"symbol": "BTCUSDT", "orderId": new_id}, signed=True
        )
        assert len(listed["result"]) == 1


async def test_ccxt_edit_order(sim: Simulator) -> None:
    key = sim.config.demo.keys[0]
    ex = ccxt.binance({"apiKey": key.api_key, "secret": key.secret, "enableRateLimit": False})
    point_ccxt(ex, sim.url)
    try:
        await ex.load_markets()
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
        edited = await ex.edit_order(order["id"], "BTC/USDT", "limit", "buy", 0.002, 20001)
        assert edited["id"] != order["id"] and edited["status"] == "open"
        assert edited["amount"] == pytest.approx(0.002) and edited["price"] == pytest.approx(20001)
    finally:
        await ex.close()
    engine = sim.state.engine
    assert engine.history[("demo", "BTCUSDT")][int(order["id"])].status == "CANCELED"
    assert "/api/v3/order/cancelReplace" in {r["path"] for r in sim.state.requests}
